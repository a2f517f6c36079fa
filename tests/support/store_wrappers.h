// Stores that stand between a test and a real one: to change the database at a chosen moment,
// or to make its reads fail as a failing disk would.
#ifndef ATIPAY_TESTS_SUPPORT_STORE_WRAPPERS_H_
#define ATIPAY_TESTS_SUPPORT_STORE_WRAPPERS_H_

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

namespace atipay::test_support {

// Forwards every call to `inner`; subclasses take over the calls they are about.
class ForwardingStore : public store::Store {
 public:
  explicit ForwardingStore(store::Store& inner) : inner_(inner) {}
  std::optional<store::RecordRow> GetRecord(std::string_view uri, store::Status* failure) override {
    return inner_.GetRecord(uri, failure);
  }
  std::vector<store::RecordRow> GetRecords(const std::vector<std::string>& uris,
                                           store::Status* failure) override {
    return inner_.GetRecords(uris, failure);
  }
  store::Page<store::RecordRow> ListCarts(const store::CartQuery& q,
                                          store::Status* failure) override {
    return inner_.ListCarts(q, failure);
  }
  store::Page<store::RecordRow> ListLines(const store::LineQuery& q,
                                          store::Status* failure) override {
    return inner_.ListLines(q, failure);
  }
  std::optional<store::Page<store::RecordRow>> ScanRecords(std::string_view collection,
                                                           std::optional<std::int64_t> before,
                                                           int limit) override {
    return inner_.ScanRecords(collection, before, limit);
  }
  std::vector<store::LineTotal> SumLines(const store::LineQuery& q,
                                         store::Status* failure) override {
    return inner_.SumLines(q, failure);
  }
  std::optional<store::WorkflowRow> GetWorkflow(std::string_view id,
                                                store::Status* failure) override {
    return inner_.GetWorkflow(id, failure);
  }
  void Submit(store::WriteJob job, store::WriteDone done) override {
    inner_.Submit(std::move(job), std::move(done));
  }
  store::Status WriteSync(store::WriteJob job) override { return inner_.WriteSync(std::move(job)); }
  void Close() override { inner_.Close(); }
  Stats stats() const override { return inner_.stats(); }

 protected:
  store::Store& inner_;
};

// While `failing` is set, every read answers as the SQLite store does when the disk fails it:
// nothing, and kUnavailable in *failure. Writes go through.
class ReadsFailWhile final : public ForwardingStore {
 public:
  ReadsFailWhile(store::Store& inner, const std::atomic<bool>& failing)
      : ForwardingStore(inner), failing_(failing) {}
  std::optional<store::RecordRow> GetRecord(std::string_view uri, store::Status* failure) override {
    if (Fail(failure)) return std::nullopt;
    return inner_.GetRecord(uri, failure);
  }
  std::vector<store::RecordRow> GetRecords(const std::vector<std::string>& uris,
                                           store::Status* failure) override {
    if (Fail(failure)) return {};
    return inner_.GetRecords(uris, failure);
  }
  store::Page<store::RecordRow> ListCarts(const store::CartQuery& q,
                                          store::Status* failure) override {
    if (Fail(failure)) return {};
    return inner_.ListCarts(q, failure);
  }
  store::Page<store::RecordRow> ListLines(const store::LineQuery& q,
                                          store::Status* failure) override {
    if (Fail(failure)) return {};
    return inner_.ListLines(q, failure);
  }
  std::optional<store::Page<store::RecordRow>> ScanRecords(std::string_view collection,
                                                           std::optional<std::int64_t> before,
                                                           int limit) override {
    if (failing_) return std::nullopt;
    return inner_.ScanRecords(collection, before, limit);
  }
  std::vector<store::LineTotal> SumLines(const store::LineQuery& q,
                                         store::Status* failure) override {
    if (Fail(failure)) return {};
    return inner_.SumLines(q, failure);
  }
  std::optional<store::WorkflowRow> GetWorkflow(std::string_view id,
                                                store::Status* failure) override {
    if (Fail(failure)) return std::nullopt;
    return inner_.GetWorkflow(id, failure);
  }

 private:
  bool Fail(store::Status* failure) const {
    if (!failing_) return false;
    if (failure != nullptr && failure->ok()) {
      *failure = store::Status::Error(store::Status::Code::kUnavailable,
                                      "the database failed a read: disk I/O error");
    }
    return true;
  }

  const std::atomic<bool>& failing_;
};

}  // namespace atipay::test_support

#endif  // ATIPAY_TESTS_SUPPORT_STORE_WRAPPERS_H_
