#include "payments/records.h"

#include <boost/json.hpp>
#include <ctime>

#include "lex/params.h"

namespace atipay::payments {

namespace json = boost::json;

std::string FormatDatetime(std::int64_t us) {
  std::time_t seconds = static_cast<std::time_t>(us / 1000000);
  int millis = static_cast<int>((us % 1000000) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

bool IsCurrencyCode(std::string_view code) {
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::string EffectiveStatus(const store::RecordRow& row, std::int64_t now_us) {
  if (row.collection == store::kCartCollection && row.status == "open" && row.expires_at_us &&
      row.expires_at_us <= now_us) {
    return "expired";
  }
  return row.status;
}

std::optional<json::object> ParseRecordJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

json::object CurrentRecord(const store::RecordRow& row, std::int64_t now_us) {
  json::object record = ParseRecordJson(row.record_json).value_or(json::object{});
  std::string status = EffectiveStatus(row, now_us);
  record["status"] = status;
  bool completes = row.collection != store::kSubscriptionCollection && status == "completed";
  if (completes && row.completed_at_us) {
    record["completedAt"] = FormatDatetime(row.completed_at_us);
  }
  return record;
}

json::object ViewOf(const store::RecordRow& row, std::int64_t now_us) {
  json::object view = CurrentRecord(row, now_us);
  view.erase("$type");
  if (!row.private_json.empty()) {
    if (auto hidden = ParseRecordJson(row.private_json)) {
      for (const auto& [key, value] : *hidden) view[key] = value;
    }
  }
  view["uri"] = row.uri;
  return view;
}

std::vector<std::string> CartLineUris(const store::RecordRow& cart) {
  std::vector<std::string> uris;
  auto record = ParseRecordJson(cart.record_json);
  if (!record) return uris;
  auto it = record->find("items");
  if (it == record->end() || !it->value().is_array()) return uris;
  for (const auto& line : it->value().get_array()) {
    if (!line.is_object()) continue;
    if (auto uri = line.get_object().find("recordUri");
        uri != line.get_object().end() && uri->value().is_string()) {
      uris.emplace_back(uri->value().get_string());
    }
  }
  return uris;
}

std::string PercentEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  lex::AppendPercentEncoded(out, text);
  return out;
}

}  // namespace atipay::payments
