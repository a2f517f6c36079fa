#include "payments/method_support.h"

#include <charconv>

#include "lex/data_model.h"
#include "lex/formats.h"
#include "payments/records.h"

namespace atipay::payments {

using xrpc::XrpcError;

XrpcError ToXrpc(const workflow::Error& e) {
  if (e.name == workflow::kStoreUnavailable) return {503, e.name, e.message};
  if (e.name == "InternalError") return XrpcError::Internal();
  return XrpcError::Named(e.name, e.message);
}

XrpcError ReadFailed(const store::Status& failure) {
  if (failure.code == store::Status::Code::kUnavailable) {
    return {503, std::string(workflow::kStoreUnavailable), failure.message};
  }
  return XrpcError::Internal();
}

std::string KindOf(std::string_view collection) {
  std::string kind(collection.substr(collection.rfind('.') + 1));
  if (!kind.empty() && kind[0] >= 'a' && kind[0] <= 'z') kind[0] = static_cast<char>(kind[0] - 'a' + 'A');
  return kind;
}

std::variant<store::RecordRow, XrpcError> RecordAt(State& s, std::string_view uri,
                                                   std::string_view collection) {
  const std::string kind = KindOf(collection);
  auto parts = lex::ParseAtUri(uri);
  if (!parts || parts->collection != collection || parts->rkey.empty()) {
    return XrpcError::Named("Invalid" + kind + "Uri",
                            "uri must reference a " + std::string(collection) + " record");
  }
  store::Status failure;
  auto row = s.store.GetRecord(uri, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  if (!row) return XrpcError::Named(kind + "NotFound", kind + " not found: " + std::string(uri));
  return std::move(*row);
}

std::variant<store::RecordRow, XrpcError> OwnRecord(State& s, std::string_view uri,
                                                    std::string_view did,
                                                    std::string_view collection) {
  auto found = RecordAt(s, uri, collection);
  if (auto* row = std::get_if<store::RecordRow>(&found); row && row->did != did) {
    const std::string kind = KindOf(collection);
    return XrpcError::Named("Not" + kind + "Owner",
                            kind + " " + std::string(uri) + " is not in the caller's repo");
  }
  return found;
}

std::optional<XrpcError> CheckAmount(std::int64_t amount) {
  if (amount < 0) return XrpcError::Named("InvalidAmount", "amount must be 0 or more (in cents)");
  if (amount > lex::kMaxSafeInteger) {
    return XrpcError::Named("InvalidAmount",
                            "amount must be at most 9007199254740991 cents (2^53-1, the largest "
                            "integer an atproto record can hold)");
  }
  return std::nullopt;
}

std::optional<XrpcError> AddToTotal(std::int64_t& total, std::int64_t amount) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(total, amount, &sum) || sum > lex::kMaxSafeInteger) {
    return XrpcError::Named("InvalidAmount",
                            "the cart's total would exceed 9007199254740991 cents (2^53-1, the "
                            "largest integer an atproto record can hold)");
  }
  total = sum;
  return std::nullopt;
}

std::optional<XrpcError> CheckCurrency(std::string_view currency) {
  if (!IsCurrencyCode(currency)) {
    return XrpcError::Named("InvalidCurrency",
                            "currency must be an ISO 4217 code of three capital letters");
  }
  return std::nullopt;
}

std::variant<std::optional<std::int64_t>, XrpcError> ParseCursor(
    const std::optional<std::string>& cursor) {
  if (!cursor) return std::optional<std::int64_t>();
  std::int64_t seq = 0;
  const char* end = cursor->data() + cursor->size();
  auto [ptr, ec] = std::from_chars(cursor->data(), end, seq);
  if (ec != std::errc() || ptr != end || seq <= 0) return XrpcError::InvalidRequest("Malformed cursor");
  return std::optional<std::int64_t>(seq);
}

workflow::Write UpdateOf(const store::RecordRow& row, std::string name,
                         boost::json::object record) {
  workflow::Write update;
  update.name = std::move(name);
  update.verb = workflow::Verb::kUpdate;
  update.repo = row.did;
  update.collection = row.collection;
  update.rkey = row.rkey;
  update.previous = ParseRecordJson(row.record_json);
  update.record = std::move(record);
  return update;
}

}  // namespace atipay::payments
