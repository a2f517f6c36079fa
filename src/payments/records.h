// Building com.atiproto records and views from store rows, and reading a cart with its lines.
// Private to src/payments.
#ifndef ATIPAY_PAYMENTS_RECORDS_H_
#define ATIPAY_PAYMENTS_RECORDS_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace atipay::payments {

// RFC 3339 UTC with milliseconds, as atproto writes datetimes: 2026-11-22T02:20:53.123Z.
std::string FormatDatetime(std::int64_t us);

// Microseconds since the UNIX epoch for an RFC 3339 datetime (as lexicons validate them; a
// numeric offset is applied); nullopt if it is not one.
std::optional<std::int64_t> ParseDatetime(std::string_view text);

// The first billing date after `now_us` of a subscription billed from `start_us` every month or
// year ("monthly", "yearly"): the start plus whole intervals in calendar terms, with the day
// clamped to the month's end (a subscription from Jan 31 renews Feb 28, then Mar 31).
std::int64_t NextBillingDate(std::int64_t start_us, std::string_view interval, std::int64_t now_us);

// ISO 4217 shape: three capital letters.
bool IsCurrencyCode(std::string_view code);

// The status a row has now: an open cart past its expiry is expired even before the sweeper
// has run; a cancelled subscription is expired once its paid period (accessUntil) is over.
std::string EffectiveStatus(const store::RecordRow& row, std::int64_t now_us);

// The record as it should be in the user's repo now: the record we last had written, with our
// status (and completedAt) applied.
boost::json::object CurrentRecord(const store::RecordRow& row, std::int64_t now_us);

// A #view: the current record without $type, plus uri; private fields are shown to the owner.
// An active subscription's view carries its renewalDate.
boost::json::object ViewOf(const store::RecordRow& row, std::int64_t now_us);

// URIs of a cart record's lines, in order.
std::vector<std::string> CartLineUris(const store::RecordRow& cart);

// A cart and the lines its record lists, read as one snapshot.
struct CartAndLines {
  store::RecordRow cart;
  std::vector<store::RecordRow> lines;  // in the cart's order; those we have
  // False when the cart's list kept changing under three reads: `lines` are then those of an
  // earlier read of the cart, not of `cart`.
  bool consistent = true;
};
// Reads again the cart `read` was read from, with its lines: so that an answer never pairs the
// cart as it was with lines as they are (an open cart beside paid lines). nullopt if the cart
// is gone, or if the read failed (then *failure says why).
std::optional<CartAndLines> ReadCartAndLines(store::Store& store, const store::RecordRow& read,
                                             store::Status* failure);

std::optional<boost::json::object> ParseRecordJson(std::string_view text);

// record[key] if it is a string, else "".
std::string StringField(const boost::json::object& record, std::string_view key);

// Percent-encoding for query components (RFC 3986 unreserved kept).
std::string PercentEncode(std::string_view text);

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_RECORDS_H_
