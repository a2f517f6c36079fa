// Validation paths and the error sink used by generated parsers.
//
// A Path is a chain of stack frames (root -> key -> index ...) rendered to text only
// when an error is reported, so the success path allocates nothing for it.
// Rendering follows the TypeScript reference: "Input/items/0/recordUri".
#ifndef ATIPAY_LEX_PATH_H_
#define ATIPAY_LEX_PATH_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace atipay::lex {

class Path {
 public:
  // A root such as "Record", "Object", "Params", "Input", "Output" or "Message".
  explicit constexpr Path(std::string_view root) : key_(root) {}

  Path Key(std::string_view key) const { return Path(this, key, 0, false); }
  Path Index(std::size_t index) const { return Path(this, {}, index, true); }

  std::string ToString() const;
  // How many keys and indexes lie between this path and its root.
  int depth() const { return depth_; }

 private:
  constexpr Path(const Path* parent, std::string_view key, std::size_t index, bool is_index)
      : parent_(parent), key_(key), index_(index), is_index_(is_index), depth_(parent->depth_ + 1) {}
  void AppendTo(std::string& out) const;

  const Path* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = 0;
  bool is_index_ = false;
  int depth_ = 0;
};

// Collects the first validation failure. Parsers stop at the first error, as the reference does.
class Errors {
 public:
  // Records "<path> <what>" and returns false, so callers can `return errors.Fail(...)`.
  bool Fail(const Path& path, std::string_view what);
  // Records a message verbatim (for errors that have no path, e.g. from a nested validator).
  bool FailMessage(std::string message);

  bool failed() const { return failed_; }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  bool failed_ = false;
};

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_PATH_H_
