// MemoryRepo: an in-memory stand-in for a PDS's repo writes (see agent.h).
#include <algorithm>
#include <utility>

#include "agent/agent.h"
#include "lex/cbor.h"
#include "lex/formats.h"

namespace atipay::agent {

namespace json = boost::json;

MemoryRepo::MemoryRepo() = default;

WriteResult MemoryRepo::DefaultFailure() {
  return WriteResult::Failure(500, "InternalServerError", "injected failure");
}

void MemoryRepo::FailNthWrite(int n, WriteResult failure) {
  std::lock_guard lock(mu_);
  faults_.push_back(
      Fault{.at_write = writes_ + std::max(n, 1), .match = {}, .failure = std::move(failure)});
}

void MemoryRepo::FailWritesMatching(std::function<bool(const RepoWrite&)> match,
                                    WriteResult failure) {
  std::lock_guard lock(mu_);
  faults_.push_back(Fault{.at_write = 0, .match = std::move(match), .failure = std::move(failure)});
}

void MemoryRepo::ClearFaults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

std::string MemoryRepo::CommitCidLocked(const std::string& repo) const {
  auto it = revs_.find(repo);
  std::int64_t rev = it == revs_.end() ? 0 : it->second;
  // Any stable function of (repo, rev) serves: clients only compare it.
  return lex::ComputeRecordCid(json::object{{"did", repo}, {"rev", rev}});
}

std::string MemoryRepo::CommitCid(std::string_view repo) const {
  std::lock_guard lock(mu_);
  return CommitCidLocked(std::string(repo));
}

WriteResult MemoryRepo::Write(const RepoWrite& write) {
  // Everything that needs no lock first: validation and the record's CID.
  if (!lex::IsValidDid(write.repo)) {
    return WriteResult::Failure(400, "InvalidRequest", "Could not find repo: " + write.repo);
  }
  if (!lex::IsValidNsid(write.collection)) {
    return WriteResult::Failure(400, "InvalidRequest", "Input/collection must be a valid nsid");
  }
  if (write.rkey && !lex::IsValidRecordKey(*write.rkey)) {
    return WriteResult::Failure(400, "InvalidRequest", "Input/rkey must be a valid record-key");
  }
  if (write.op != WriteOp::kCreate && !write.rkey) {
    return WriteResult::Failure(400, "InvalidRequest", "Input must have the property \"rkey\"");
  }
  json::object record;
  std::string cid;
  if (write.op != WriteOp::kDelete) {
    record = write.record;
    const json::value* type = record.if_contains("$type");
    if (type == nullptr) {
      record["$type"] = write.collection;
    } else if (!type->is_string() || type->get_string() != write.collection) {
      return WriteResult::Failure(
          400, "InvalidRequest",
          "Invalid $type: expected " + write.collection + ", got " +
              (type->is_string() ? std::string(type->get_string()) : std::string("non-string")));
    }
    std::string error;
    cid = lex::ComputeRecordCid(record, &error);
    if (cid.empty()) return WriteResult::Failure(400, "InvalidRequest", "Invalid record: " + error);
  }

  std::lock_guard lock(mu_);
  ++writes_;
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->at_write > 0 ? it->at_write == writes_ : it->match && it->match(write)) {
      WriteResult failure = it->failure;
      if (it->at_write > 0) faults_.erase(it);
      return failure;
    }
  }
  if (write.swap_commit && *write.swap_commit != CommitCidLocked(write.repo)) {
    return WriteResult::Failure(400, "InvalidSwap", "Commit was at " + CommitCidLocked(write.repo));
  }
  const std::string rkey = write.rkey ? *write.rkey : tids_.Next();
  std::string uri = "at://" + write.repo + "/" + write.collection + "/" + rkey;
  WriteResult result;
  switch (write.op) {
    case WriteOp::kCreate:
      if (records_.contains(uri)) {
        // The reference PDS's MST refuses a second value for a key with a plain Error, which
        // its XRPC layer reports as a 500.
        return WriteResult::Failure(500, "InternalServerError", "Internal Server Error");
      }
      [[fallthrough]];
    case WriteOp::kPut:
      records_.insert_or_assign(uri, Record{std::move(record), cid});
      result.uri = std::move(uri);
      result.cid = std::move(cid);
      break;
    case WriteOp::kDelete: {
      auto it = records_.find(uri);
      if (it == records_.end()) return result;  // no-op, no commit
      records_.erase(it);
      break;
    }
  }
  ++revs_[write.repo];
  return result;
}

std::optional<MemoryRepo::Record> MemoryRepo::Get(std::string_view uri) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(uri);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> MemoryRepo::Uris() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> uris;
  uris.reserve(records_.size());
  for (const auto& [uri, record] : records_) uris.push_back(uri);
  return uris;
}

std::size_t MemoryRepo::size() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

std::int64_t MemoryRepo::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

void MemoryRepo::Clear() {
  std::lock_guard lock(mu_);
  records_.clear();
  revs_.clear();
  faults_.clear();
}

}  // namespace atipay::agent
