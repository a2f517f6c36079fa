#include "xrpc/router.h"

namespace atipay::xrpc {

void Router::AddUntyped(const lex::MethodDescriptor& method, MethodOptions options,
                        std::function<void(const CallPtr&)> invoke) {
  methods_[std::string(method.nsid)] = Entry{&method, options, std::move(invoke)};
}

const Router::Entry* Router::Find(std::string_view nsid) const {
  auto it = methods_.find(nsid);
  return it == methods_.end() ? nullptr : &it->second;
}

}  // namespace atipay::xrpc
