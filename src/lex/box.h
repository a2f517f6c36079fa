// Box<T>: a value-semantic heap cell for generated types that refer to each other in a
// cycle (a thread view holding its parent thread view, two lexicons naming each other).
//
// Copy, destroy and compare go through a table built where the box is filled, so a struct
// may hold Box<T> while T is still incomplete: headers of mutually referring lexicons then
// need only forward declarations. An empty box compares equal only to another empty box.
#ifndef ATIPAY_LEX_BOX_H_
#define ATIPAY_LEX_BOX_H_

#include <utility>

namespace atipay::lex {

template <class T>
class Box {
 public:
  Box() = default;
  Box(const Box& other) : ops_(other.ops_), ptr_(other.ptr_ ? other.ops_->copy(other.ptr_) : nullptr) {}
  Box(Box&& other) noexcept
      : ops_(std::exchange(other.ops_, nullptr)), ptr_(std::exchange(other.ptr_, nullptr)) {}
  Box& operator=(Box other) noexcept {
    std::swap(ops_, other.ops_);
    std::swap(ptr_, other.ptr_);
    return *this;
  }
  ~Box() {
    if (ptr_ != nullptr) ops_->destroy(ptr_);
  }

  // These need T complete.
  static Box Of(T value) {
    Box box;
    box.Emplace() = std::move(value);
    return box;
  }
  T& Emplace() {
    Box fresh;
    fresh.ptr_ = new T();
    fresh.ops_ = &kOps<T>;
    *this = std::move(fresh);
    return **this;
  }

  bool has_value() const { return ptr_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  T& operator*() const { return *static_cast<T*>(ptr_); }
  T* operator->() const { return static_cast<T*>(ptr_); }

  friend bool operator==(const Box& a, const Box& b) {
    if (a.ptr_ == nullptr || b.ptr_ == nullptr) return a.ptr_ == b.ptr_;
    return a.ops_->equal(a.ptr_, b.ptr_);
  }

 private:
  struct Ops {
    void (*destroy)(void*);
    void* (*copy)(const void*);
    bool (*equal)(const void*, const void*);
  };
  template <class U>
  static constexpr Ops kOps = {
      [](void* p) { delete static_cast<U*>(p); },
      [](const void* p) -> void* { return new U(*static_cast<const U*>(p)); },
      [](const void* a, const void* b) {
        return *static_cast<const U*>(a) == *static_cast<const U*>(b);
      },
  };

  const Ops* ops_ = nullptr;
  void* ptr_ = nullptr;
};

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_BOX_H_
