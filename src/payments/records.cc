#include "payments/records.h"

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <iterator>

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

std::optional<std::int64_t> ParseDatetime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  std::size_t i = 0;
  auto number = [&](std::size_t digits, int& out) {
    if (i + digits > text.size()) return false;
    out = 0;
    for (std::size_t end = i + digits; i < end; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  auto literal = [&](char c) { return i < text.size() && (text[i++] == c); };
  int year, month, day, hour, minute, second;
  if (!number(4, year) || !literal('-') || !number(2, month) || !literal('-') ||
      !number(2, day) || i >= text.size() || (text[i] != 'T' && text[i] != 't')) {
    return std::nullopt;
  }
  ++i;
  if (!number(2, hour) || !literal(':') || !number(2, minute) || !literal(':') ||
      !number(2, second)) {
    return std::nullopt;
  }
  std::int64_t micros = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    std::int64_t scale = 100000;
    std::size_t digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      micros += (text[i] - '0') * scale;
      scale /= 10;
    }
    if (digits == 0) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    const int sign = text[i++] == '-' ? -1 : 1;
    int oh, om;
    if (!number(2, oh) || !literal(':') || !number(2, om)) return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  namespace chr = std::chrono;
  const chr::year_month_day date{chr::year(year), chr::month(static_cast<unsigned>(month)),
                                 chr::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const std::int64_t days = chr::sys_days(date).time_since_epoch().count();
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return seconds * 1000000 + micros;
}

std::int64_t NextBillingDate(std::int64_t start_us, std::string_view interval,
                             std::int64_t now_us) {
  namespace chr = std::chrono;
  const int step = interval == "yearly" ? 12 : 1;
  const chr::sys_days start_day = chr::floor<chr::days>(chr::sys_time<chr::microseconds>(
      chr::microseconds(start_us)));
  const std::int64_t time_of_day = start_us - chr::sys_time<chr::microseconds>(start_day)
                                                  .time_since_epoch()
                                                  .count();
  const chr::year_month_day start{start_day};
  auto billing = [&](std::int64_t periods) {
    const chr::year_month ym = chr::year_month(start.year(), start.month()) +
                               chr::months(static_cast<int>(periods * step));
    const chr::day last = chr::year_month_day_last(ym.year(), chr::month_day_last(ym.month())).day();
    const chr::year_month_day date(ym.year(), ym.month(), std::min(start.day(), last));
    return chr::sys_days(date).time_since_epoch().count() * 86400 * 1000000 + time_of_day;
  };
  if (now_us < start_us) return start_us;
  // Whole months between the two, less one so that the loop below settles it exactly.
  const chr::year_month_day today{chr::floor<chr::days>(
      chr::sys_time<chr::microseconds>(chr::microseconds(now_us)))};
  const std::int64_t months =
      (static_cast<int>(today.year()) - static_cast<int>(start.year())) * 12 +
      (static_cast<int>(static_cast<unsigned>(today.month())) -
       static_cast<int>(static_cast<unsigned>(start.month())));
  std::int64_t periods = std::max<std::int64_t>(0, months / step - 1);
  while (billing(periods) <= now_us) ++periods;
  return billing(periods);
}

bool IsCurrencyCode(std::string_view code) {
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

namespace {

// EffectiveStatus, given the row's record when it has been parsed already (else nullptr).
std::string StatusAt(const store::RecordRow& row, const json::object* record, std::int64_t now_us) {
  if (row.collection == store::kCartCollection && row.status == "open" && row.expires_at_us &&
      row.expires_at_us <= now_us) {
    return "expired";
  }
  if (row.collection == store::kSubscriptionCollection && row.status == "cancelled") {
    std::optional<json::object> parsed;
    if (!record) record = &parsed.emplace(ParseRecordJson(row.record_json).value_or(json::object{}));
    auto until = ParseDatetime(StringField(*record, "accessUntil"));
    if (until && *until <= now_us) return "expired";
  }
  return row.status;
}

}  // namespace

std::string EffectiveStatus(const store::RecordRow& row, std::int64_t now_us) {
  return StatusAt(row, nullptr, now_us);
}

std::optional<json::object> ParseRecordJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string StringField(const json::object& record, std::string_view key) {
  auto it = record.find(key);
  return it != record.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                       : std::string();
}

json::object CurrentRecord(const store::RecordRow& row, std::int64_t now_us) {
  json::object record = ParseRecordJson(row.record_json).value_or(json::object{});
  std::string status = StatusAt(row, &record, now_us);
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
  if (row.collection == store::kSubscriptionCollection && row.status == "active") {
    auto start = view.find("billingStartDate");
    auto interval = view.find("interval");
    if (start != view.end() && start->value().is_string() && interval != view.end() &&
        interval->value().is_string()) {
      if (auto start_us = ParseDatetime(start->value().get_string())) {
        view["renewalDate"] =
            FormatDatetime(NextBillingDate(*start_us, interval->value().get_string(), now_us));
      }
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

std::optional<CartAndLines> ReadCartAndLines(store::Store& store, const store::RecordRow& read,
                                             store::Status* failure) {
  std::vector<std::string> lines = CartLineUris(read);
  std::optional<CartAndLines> out;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<std::string> uris{read.uri};
    uris.insert(uris.end(), lines.begin(), lines.end());
    std::vector<store::RecordRow> rows = store.GetRecords(uris, failure);
    if (!failure->ok() || rows.empty() || rows.front().uri != read.uri) return std::nullopt;
    std::vector<std::string> listed = CartLineUris(rows.front());
    out.emplace();
    out->consistent = listed == lines;
    out->cart = std::move(rows.front());
    out->lines.assign(std::make_move_iterator(rows.begin() + 1),
                      std::make_move_iterator(rows.end()));
    if (out->consistent) break;
    lines = std::move(listed);  // it moved since `read`: again, with the lines it lists now
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  lex::AppendPercentEncoded(out, text);
  return out;
}

}  // namespace atipay::payments
