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

void Router::AddPage(std::string path, PageHandler handler) {
  pages_[std::move(path)] = std::move(handler);
}

const Router::PageHandler* Router::FindPage(std::string_view path) const {
  auto it = pages_.find(path);
  return it == pages_.end() ? nullptr : &it->second;
}

}  // namespace atipay::xrpc
