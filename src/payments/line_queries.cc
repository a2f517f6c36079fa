// Reading items and subscriptions, from either end of the payment: the payer's queries
// (payment.item.*, payment.subscription.*, payment.list) and the recipient's mirrors
// (recipient.payment.item.*, recipient.payment.subscription.*), which are the same queries with
// the roles swapped.
#include <algorithm>

#include "com/atiproto/payment/item/get.h"
#include "com/atiproto/payment/item/list.h"
#include "com/atiproto/payment/item/validate.h"
#include "com/atiproto/payment/list.h"
#include "com/atiproto/payment/subscription/get.h"
#include "com/atiproto/payment/subscription/list.h"
#include "com/atiproto/payment/subscription/validate.h"
#include "com/atiproto/recipient/payment/item/get.h"
#include "com/atiproto/recipient/payment/item/list.h"
#include "com/atiproto/recipient/payment/item/validate.h"
#include "com/atiproto/recipient/payment/subscription/get.h"
#include "com/atiproto/recipient/payment/subscription/list.h"
#include "com/atiproto/recipient/payment/subscription/validate.h"
#include "com/atiproto/repo/item/count.h"
#include "com/atiproto/repo/subscription/count.h"
#include "lex/formats.h"
#include "payments/method_support.h"
#include "payments/records.h"

namespace atipay::payments {

namespace json = boost::json;
namespace lx = lexicons::com::atiproto;
using xrpc::JsonOutput;
using xrpc::XrpcError;

namespace {

using Answer = QueryAnswer;

// Active (and cancelled) subscriptions between two parties that subscription.validate looks
// through, newest first, for one that gives access.
constexpr int kValidateScan = 100;

// Who asks: the payer (the lines are in their repo) or the recipient (the lines' subject).
// `counterpart` is the other party, when the query names one.
struct Party {
  enum class Side { kPayer, kRecipient };
  Side side;
  std::string did;

  bool Sees(const store::RecordRow& row) const {
    return side == Side::kPayer ? row.did == did : row.subject == did;
  }

  store::LineQuery Query(std::string_view collection,
                         const std::optional<std::string>& counterpart) const {
    store::LineQuery q;
    q.collection = std::string(collection);
    if (side == Side::kPayer) {
      q.did = did;
      q.subject = counterpart;
    } else {
      q.did = counterpart.value_or("");  // "": from any sender
      q.subject = did;
    }
    return q;
  }

  // "of the caller's to did:x" / "to the caller from did:y": which lines a message means.
  std::string Scope(const std::optional<std::string>& counterpart,
                    const std::optional<std::string>& record_uri = std::nullopt) const {
    std::string scope = side == Side::kPayer ? "of the caller's" : "to the caller";
    if (counterpart) scope += (side == Side::kPayer ? " to " : " from ") + *counterpart;
    if (record_uri) scope += " for " + *record_uri;
    return scope;
  }
};

Party Payer(const xrpc::AuthContext& auth) { return {Party::Side::kPayer, auth.did}; }
Party Recipient(const xrpc::AuthContext& auth) { return {Party::Side::kRecipient, auth.did}; }

std::string Lower(std::string kind) {
  if (!kind.empty()) kind[0] = static_cast<char>(kind[0] - 'A' + 'a');
  return kind;
}

// A line the party may see, by URI: for the payer one in their repo (Not<Kind>Owner
// otherwise), for the recipient one that pays them (<Kind>NotFound otherwise: whether someone
// else's line exists is not theirs to learn).
std::variant<store::RecordRow, XrpcError> LineAt(State& s, const Party& party,
                                                 std::string_view uri,
                                                 std::string_view collection) {
  if (party.side == Party::Side::kPayer) return OwnRecord(s, uri, party.did, collection);
  auto found = RecordAt(s, uri, collection);
  if (auto* row = std::get_if<store::RecordRow>(&found); row && !party.Sees(*row)) {
    const std::string kind = KindOf(collection);
    return XrpcError::Named(kind + "NotFound",
                            "No " + Lower(kind) + " " + party.Scope({}) + " is at " + std::string(uri));
  }
  return found;
}

// ---- get -----------------------------------------------------------------------------------

// The line at `uri` if given, else the newest one `query` matches, as {<field>: view}.
Answer GetLine(State& s, const Party& party, const std::optional<std::string>& uri,
               const store::LineQuery& query, const std::optional<std::string>& counterpart,
               std::string_view field) {
  std::optional<store::RecordRow> row;
  const std::string kind = KindOf(query.collection);
  if (uri) {
    auto found = LineAt(s, party, *uri, query.collection);
    if (auto* e = std::get_if<XrpcError>(&found)) return std::move(*e);
    row = std::move(std::get<store::RecordRow>(found));
  } else {
    store::LineQuery newest = query;
    newest.limit = 1;
    store::Status failure;
    auto page = s.store.ListLines(newest, &failure);
    if (!failure.ok()) return ReadFailed(failure);
    if (page.rows.empty()) {
      return XrpcError::Named(kind + "NotFound", "No " + Lower(kind) + " " +
                                                     party.Scope(counterpart, query.record_uri));
    }
    row = std::move(page.rows.front());
  }
  return JsonOutput{json::value(json::object{{field, ViewOf(*row, s.now())}})};
}

// uri, else the counterpart, else recordUri (items only), in that order of precedence.
Answer GetItem(State& s, const Party& party, const std::optional<std::string>& uri,
               const std::optional<std::string>& counterpart,
               const std::optional<std::string>& record_uri, std::string_view counterpart_name) {
  if (!uri && !counterpart && !record_uri) {
    return XrpcError::InvalidRequest("one of uri, " + std::string(counterpart_name) +
                                     " or recordUri is required");
  }
  store::LineQuery q = party.Query(store::kItemCollection, counterpart);
  if (!counterpart) q.record_uri = record_uri;
  return GetLine(s, party, uri, q, counterpart, "item");
}

Answer GetSubscription(State& s, const Party& party, const std::optional<std::string>& uri,
                       const std::optional<std::string>& counterpart,
                       std::string_view counterpart_name) {
  if (!uri && !counterpart) {
    return XrpcError::InvalidRequest("one of uri or " + std::string(counterpart_name) +
                                     " is required");
  }
  return GetLine(s, party, uri, party.Query(store::kSubscriptionCollection, counterpart),
                 counterpart, "subscription");
}

// ---- list ----------------------------------------------------------------------------------

// One page as {<field>: [views], cursor?}. In payment.list the views are union members, so
// each names its type.
Answer ListLines(State& s, store::LineQuery query, const std::optional<std::string>& cursor,
                 std::int64_t limit, std::string_view field, bool typed) {
  auto before = ParseCursor(cursor);
  if (auto* e = std::get_if<XrpcError>(&before)) return std::move(*e);
  query.before_seq = std::get<std::optional<std::int64_t>>(before);
  query.limit = static_cast<int>(limit);
  store::Status failure;
  const store::Page<store::RecordRow> page = s.store.ListLines(query, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  const std::int64_t now = s.now();
  json::array views;
  for (const auto& row : page.rows) {
    json::object view = ViewOf(row, now);
    if (typed) view["$type"] = row.collection + "#view";
    views.push_back(std::move(view));
  }
  json::object out;
  out[field] = std::move(views);
  if (page.next_before_seq) out["cursor"] = std::to_string(*page.next_before_seq);
  return JsonOutput{json::value(std::move(out))};
}

// ---- validate ------------------------------------------------------------------------------
// `amount` is a floor: paying more than expected still validates.

json::object Verdict(bool valid, std::optional<std::int64_t> amount,
                     std::optional<std::string> currency, std::string reason = {}) {
  json::object out;
  out["valid"] = valid;
  if (amount) out["amount"] = *amount;
  if (currency) out["currency"] = *currency;
  if (!valid) out["reason"] = reason.substr(0, 1024);
  return out;
}

std::string PaidLess(std::int64_t expected, std::int64_t paid, std::string_view currency) {
  return std::to_string(paid) + " " + std::string(currency) + " paid, less than the " +
         std::to_string(expected) + " expected";
}

// One item (item_uri), else the completed items for record_uri, else those with the
// counterpart, summed.
Answer ValidateItems(State& s, const Party& party, const std::optional<std::string>& item_uri,
                     const std::optional<std::string>& record_uri,
                     const std::optional<std::string>& counterpart,
                     std::optional<std::int64_t> expected, std::string_view counterpart_name) {
  store::Status failure;
  if (item_uri) {
    auto row = s.store.GetRecord(*item_uri, &failure);
    if (!failure.ok()) return ReadFailed(failure);
    if (!row || row->collection != store::kItemCollection || !party.Sees(*row)) {
      return JsonOutput{Verdict(false, {}, {}, "No item " + party.Scope({}) + " is at " + *item_uri)};
    }
    if (row->status != "completed") {
      return JsonOutput{Verdict(false, row->amount, row->currency,
                                "Item " + row->uri + " is " + row->status + ", not completed")};
    }
    if (expected && row->amount < *expected) {
      return JsonOutput{Verdict(false, row->amount, row->currency,
                                PaidLess(*expected, row->amount, row->currency))};
    }
    return JsonOutput{Verdict(true, row->amount, row->currency)};
  }
  if (!record_uri && !counterpart) {
    return XrpcError::InvalidRequest("one of itemUri, recordUri or " +
                                     std::string(counterpart_name) + " is required");
  }
  store::LineQuery q = party.Query(store::kItemCollection, record_uri ? std::nullopt : counterpart);
  q.record_uri = record_uri;
  q.status = "completed";
  std::vector<store::LineTotal> totals = s.store.SumLines(q, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  if (totals.empty()) {
    return JsonOutput{Verdict(false, {}, {},
                              "No completed item " + party.Scope(record_uri ? std::nullopt : counterpart,
                                                                 record_uri))};
  }
  // Sums in different currencies do not add up; the largest one speaks.
  const auto& best = *std::max_element(totals.begin(), totals.end(),
                                       [](const auto& a, const auto& b) { return a.amount < b.amount; });
  if (expected && best.amount < *expected) {
    return JsonOutput{Verdict(false, best.amount, best.currency,
                              PaidLess(*expected, best.amount, best.currency))};
  }
  return JsonOutput{Verdict(true, best.amount, best.currency)};
}

// Why this subscription gives no access now, or nullopt if it does: active, or cancelled with
// paid-for access left (cancelling stops renewal, not the period already paid).
std::optional<std::string> NoAccess(const store::RecordRow& row, std::int64_t now) {
  if (row.status == "active") return std::nullopt;
  if (row.status == "cancelled") {
    auto record = ParseRecordJson(row.record_json).value_or(json::object{});
    auto until = ParseDatetime(StringField(record, "accessUntil"));
    if (until && *until > now) return std::nullopt;
    return "Subscription " + row.uri + " is cancelled and its paid period is over";
  }
  return "Subscription " + row.uri + " is " + row.status + ", not active";
}

Answer ValidateSubscriptions(State& s, const Party& party, const std::optional<std::string>& uri,
                             const std::optional<std::string>& counterpart,
                             std::optional<std::int64_t> expected,
                             std::string_view counterpart_name) {
  const std::int64_t now = s.now();
  std::vector<store::RecordRow> rows;
  store::Status failure;
  if (uri) {
    auto row = s.store.GetRecord(*uri, &failure);
    if (!failure.ok()) return ReadFailed(failure);
    if (!row || row->collection != store::kSubscriptionCollection || !party.Sees(*row)) {
      return JsonOutput{Verdict(false, {}, {}, "No subscription " + party.Scope({}) + " is at " + *uri)};
    }
    rows.push_back(std::move(*row));
  } else if (counterpart) {
    store::LineQuery q = party.Query(store::kSubscriptionCollection, counterpart);
    q.limit = 1;
    rows = s.store.ListLines(q, &failure).rows;  // the newest, whose state a refusal reports
    if (!failure.ok()) return ReadFailed(failure);
    if (rows.empty()) {
      return JsonOutput{Verdict(false, {}, {}, "No subscription " + party.Scope(counterpart))};
    }
    // Only these statuses can give access: read them by status, so that unpaid (pending) or
    // ended subscriptions, however many are newer, do not hide one that does.
    q.limit = kValidateScan;
    for (const char* status : {"active", "cancelled"}) {
      q.status = status;
      store::Page<store::RecordRow> page = s.store.ListLines(q, &failure);
      if (!failure.ok()) return ReadFailed(failure);
      for (auto& row : page.rows) {
        if (row.uri != rows.front().uri) rows.push_back(std::move(row));
      }
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.seq > b.seq; });
  } else {
    return XrpcError::InvalidRequest("one of subscriptionUri or " + std::string(counterpart_name) +
                                     " is required");
  }
  // The newest subscription that gives access and pays enough; else why the newest does not.
  std::optional<json::object> refusal;
  for (const auto& row : rows) {
    std::optional<std::string> why = NoAccess(row, now);
    if (!why && expected && row.amount < *expected) {
      why = PaidLess(*expected, row.amount, row.currency);
    }
    if (!why) return JsonOutput{Verdict(true, row.amount, row.currency)};
    if (!refusal) refusal = Verdict(false, row.amount, row.currency, *why);
  }
  return JsonOutput{std::move(*refusal)};
}

// ---- repo.item.count / repo.subscription.count ---------------------------------------------
// Public counts of paid lines. The sum is shown only to whom it is about: the recipient, the
// tipped record's owner, or the payer counting their own. Private items count too: a count
// names no one.

// [startDate, endDate] in microseconds; InvalidRequest for a bound that is not a datetime.
std::variant<std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>>, XrpcError> Window(
    const std::optional<std::string>& start, const std::optional<std::string>& end) {
  std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>> window;
  for (auto [text, bound] : {std::pair{&start, &window.first}, std::pair{&end, &window.second}}) {
    if (!*text) continue;
    *bound = ParseDatetime(**text);
    if (!*bound) return XrpcError::InvalidRequest(**text + " is not a datetime");
  }
  // Stored datetimes are written to the millisecond: an end bound takes in its whole millisecond.
  if (window.second) *window.second += 999;
  return window;
}

Answer Count(State& s, const store::LineQuery& query, bool show_sum) {
  std::int64_t count = 0;
  const store::LineTotal* best = nullptr;
  store::Status failure;
  const std::vector<store::LineTotal> totals = s.store.SumLines(query, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  for (const auto& total : totals) {
    count += total.count;
    if (!best || total.amount > best->amount) best = &total;
  }
  json::object out{{"count", count}};
  // Sums in different currencies do not add up; the largest one speaks.
  if (show_sum && best) {
    out["amount"] = best->amount;
    out["currency"] = best->currency;
  }
  return JsonOutput{json::value(std::move(out))};
}

Answer CountItems(State& s, const std::string& caller,
                  const lx::repo::item::count::Params& p) {
  auto window = Window(p.start_date, p.end_date);
  if (auto* e = std::get_if<XrpcError>(&window)) return std::move(*e);
  store::LineQuery q;
  q.collection = std::string(store::kItemCollection);
  q.status = "completed";
  std::tie(q.completed_from_us, q.completed_to_us) = std::get<0>(window);
  bool show_sum = false;
  if (p.record_uri) {
    q.record_uri = p.record_uri;
    auto parts = lex::ParseAtUri(*p.record_uri);
    show_sum = parts && !caller.empty() && parts->authority == caller;
  } else if (p.subject) {
    q.subject = p.subject;
    show_sum = *p.subject == caller;
  } else if (!caller.empty()) {
    q.did = caller;
    show_sum = true;
  } else {
    return XrpcError::InvalidRequest("recordUri or subject is required without a service token");
  }
  return Count(s, q, show_sum);
}

Answer CountSubscriptions(State& s, const std::string& caller,
                          const lx::repo::subscription::count::Params& p) {
  auto window = Window(p.start_date, p.end_date);
  if (auto* e = std::get_if<XrpcError>(&window)) return std::move(*e);
  store::LineQuery q;
  q.collection = std::string(store::kSubscriptionCollection);
  q.status = "active";
  // billingStartDate is the subscription's creation time: set so on create and clone, and
  // subscription.put cannot move it.
  std::tie(q.created_from_us, q.created_to_us) = std::get<0>(window);
  if (p.subject) {
    q.subject = p.subject;
  } else if (!caller.empty()) {
    q.did = caller;
  } else {
    return XrpcError::InvalidRequest("subject is required without a service token");
  }
  return Count(s, q, !p.subject || *p.subject == caller);
}

}  // namespace

void RegisterLineQueries(xrpc::Router& router, const StatePtr& s,
                         const xrpc::MethodOptions& options) {
  namespace item = lx::payment::item;
  namespace subscription = lx::payment::subscription;
  namespace from = lx::recipient::payment;

  // The payer's.
  router.Add<item::get::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<item::get::Output>(
            GetItem(*s, Payer(req.auth), p.uri, p.subject, p.record_uri, "subject"));
      },
      options);
  router.Add<item::list::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        store::LineQuery q = Payer(req.auth).Query(store::kItemCollection, p.subject);
        q.record_uri = p.record_uri;
        return Reply<item::list::Output>(ListLines(*s, q, p.cursor, p.limit, "items", false));
      },
      options);
  router.Add<item::validate::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<item::validate::Output>(ValidateItems(
            *s, Payer(req.auth), p.item_uri, p.record_uri, p.subject, p.amount, "subject"));
      },
      options);
  router.Add<subscription::get::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<subscription::get::Output>(
            GetSubscription(*s, Payer(req.auth), p.uri, p.subject, "subject"));
      },
      options);
  router.Add<subscription::list::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        store::LineQuery q = Payer(req.auth).Query(store::kSubscriptionCollection, {});
        return Reply<subscription::list::Output>(
            ListLines(*s, q, p.cursor, p.limit, "subscriptions", false));
      },
      options);
  router.Add<subscription::validate::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<subscription::validate::Output>(ValidateSubscriptions(
            *s, Payer(req.auth), p.subscription_uri, p.subject, p.amount, "subject"));
      },
      options);
  router.Add<lx::payment::list::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        store::LineQuery q = Payer(req.auth).Query("", {});  // "": items and subscriptions
        return Reply<lx::payment::list::Output>(ListLines(*s, q, p.cursor, p.limit, "items", true));
      },
      options);

  // The recipient's: the same with the roles swapped, `sender` naming the payer.
  router.Add<from::item::get::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<from::item::get::Output>(
            GetItem(*s, Recipient(req.auth), p.uri, p.sender, p.record_uri, "sender"));
      },
      options);
  router.Add<from::item::list::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        store::LineQuery q = Recipient(req.auth).Query(store::kItemCollection, p.sender);
        q.record_uri = p.record_uri;
        return Reply<from::item::list::Output>(ListLines(*s, q, p.cursor, p.limit, "items", false));
      },
      options);
  router.Add<from::item::validate::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<from::item::validate::Output>(ValidateItems(
            *s, Recipient(req.auth), p.item_uri, p.record_uri, p.sender, p.amount, "sender"));
      },
      options);
  router.Add<from::subscription::get::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<from::subscription::get::Output>(
            GetSubscription(*s, Recipient(req.auth), p.uri, p.sender, "sender"));
      },
      options);
  router.Add<from::subscription::list::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        store::LineQuery q = Recipient(req.auth).Query(store::kSubscriptionCollection, {});
        return Reply<from::subscription::list::Output>(
            ListLines(*s, q, p.cursor, p.limit, "subscriptions", false));
      },
      options);
  router.Add<from::subscription::validate::Method>(
      [s](auto& req) {
        const auto& p = req.params;
        return Reply<from::subscription::validate::Output>(ValidateSubscriptions(
            *s, Recipient(req.auth), p.subscription_uri, p.sender, p.amount, "sender"));
      },
      options);

  // Counts are public: a token only adds the caller's own sums.
  xrpc::MethodOptions open = options;
  open.auth = xrpc::AuthPolicy::kOptional;
  router.Add<lx::repo::item::count::Method>(
      [s](auto& req) {
        return Reply<lx::repo::item::count::Output>(CountItems(*s, req.auth.did, req.params));
      },
      open);
  router.Add<lx::repo::subscription::count::Method>(
      [s](auto& req) {
        return Reply<lx::repo::subscription::count::Output>(
            CountSubscriptions(*s, req.auth.did, req.params));
      },
      open);
}

}  // namespace atipay::payments
