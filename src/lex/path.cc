#include "lex/path.h"

namespace atipay::lex {

void Path::AppendTo(std::string& out) const {
  if (parent_ != nullptr) {
    parent_->AppendTo(out);
    out.push_back('/');
  }
  if (is_index_) {
    out += std::to_string(index_);
  } else {
    out.append(key_);
  }
}

std::string Path::ToString() const {
  std::string out;
  AppendTo(out);
  return out;
}

bool Errors::Fail(const Path& path, std::string_view what) {
  if (!failed_) {
    message_ = path.ToString();
    message_.push_back(' ');
    message_.append(what);
    failed_ = true;
  }
  return false;
}

bool Errors::FailMessage(std::string message) {
  if (!failed_) {
    message_ = std::move(message);
    failed_ = true;
  }
  return false;
}

}  // namespace atipay::lex
