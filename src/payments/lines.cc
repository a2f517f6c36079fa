// Items and subscriptions on their own: get, list, validate, put and cancel, and
// payment.list over both. (Creating them, and carts, is in service.cc.)
#include <algorithm>

#include "com/atiproto/payment/item/get.h"
#include "com/atiproto/payment/item/list.h"
#include "com/atiproto/payment/item/put.h"
#include "com/atiproto/payment/item/validate.h"
#include "com/atiproto/payment/list.h"
#include "com/atiproto/payment/subscription/cancel.h"
#include "com/atiproto/payment/subscription/get.h"
#include "com/atiproto/payment/subscription/list.h"
#include "com/atiproto/payment/subscription/put.h"
#include "com/atiproto/payment/subscription/validate.h"
#include "lex/cbor.h"
#include "payments/method_support.h"
#include "payments/records.h"

namespace atipay::payments {

namespace json = boost::json;
namespace lx = lexicons::com::atiproto;
using workflow::Plan;
using workflow::Write;
using xrpc::JsonOutput;
using xrpc::XrpcError;

namespace {

// Subscriptions to one subject that subscription.validate looks through (newest first).
constexpr int kValidateScan = 100;

std::string_view KindOf(std::string_view collection) {
  return collection == store::kItemCollection ? "Item" : "Subscription";
}

std::optional<store::RecordRow> NewestLine(State& s, store::LineQuery query) {
  query.limit = 1;
  auto page = s.store.ListLines(query);
  if (page.rows.empty()) return std::nullopt;
  return std::move(page.rows.front());
}

// One page of the caller's lines as {<field>: [views], cursor?}. In payment.list the views are
// union members, so each names its type.
xrpc::JsonOutput ListAnswer(State& s, const store::Page<store::RecordRow>& page,
                            std::string_view field, bool typed) {
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
  return {json::value(std::move(out))};
}

template <class Params>
std::variant<store::LineQuery, XrpcError> ListQuery(const std::string& did,
                                                   std::string_view collection,
                                                   const Params& p) {
  store::LineQuery q;
  q.did = did;
  q.collection = std::string(collection);
  q.limit = static_cast<int>(p.limit);
  auto cursor = ParseCursor(p.cursor);
  if (auto* e = std::get_if<XrpcError>(&cursor)) return std::move(*e);
  q.before_seq = std::get<std::optional<std::int64_t>>(cursor);
  return q;
}

// ---- payment.item.get / payment.subscription.get -------------------------------------------

// The caller's line at `uri` if given, else the newest one `query` matches; `field` names it in
// the answer.
std::variant<JsonOutput, XrpcError> LineAnswer(State& s, const std::optional<std::string>& uri,
                                               const store::LineQuery& query,
                                               std::string_view field, std::string not_found) {
  std::optional<store::RecordRow> row;
  if (uri) {
    auto owned = OwnRecord(s, *uri, query.did, query.collection);
    if (auto* e = std::get_if<XrpcError>(&owned)) return std::move(*e);
    row = std::move(std::get<store::RecordRow>(owned));
  } else if (!(row = NewestLine(s, query))) {
    return XrpcError::Named(std::string(KindOf(query.collection)) + "NotFound",
                            std::move(not_found));
  }
  return JsonOutput{json::value(json::object{{field, ViewOf(*row, s.now())}})};
}

template <class Out>
xrpc::HandlerResult<Out> Answer(std::variant<JsonOutput, XrpcError> answer) {
  if (auto* e = std::get_if<XrpcError>(&answer)) return std::move(*e);
  return std::move(std::get<JsonOutput>(answer));
}

xrpc::HandlerResult<lx::payment::item::get::Output> ItemGet(
    State& s, xrpc::Request<lx::payment::item::get::Method>& req) {
  const auto& p = req.params;
  if (!p.uri && !p.subject && !p.record_uri) {
    return XrpcError::InvalidRequest("one of uri, subject or recordUri is required");
  }
  store::LineQuery q;
  q.did = req.auth.did;
  q.collection = std::string(store::kItemCollection);
  if (p.subject) {
    q.subject = p.subject;
  } else {
    q.record_uri = p.record_uri;
  }
  return Answer<lx::payment::item::get::Output>(
      LineAnswer(s, p.uri, q, "item",
                 p.subject ? "No item of the caller's pays " + p.subject.value_or("")
                           : "No item of the caller's tips " + p.record_uri.value_or("")));
}

xrpc::HandlerResult<lx::payment::subscription::get::Output> SubscriptionGet(
    State& s, xrpc::Request<lx::payment::subscription::get::Method>& req) {
  const auto& p = req.params;
  if (!p.uri && !p.subject) return XrpcError::InvalidRequest("one of uri or subject is required");
  store::LineQuery q;
  q.did = req.auth.did;
  q.collection = std::string(store::kSubscriptionCollection);
  q.subject = p.subject;
  return Answer<lx::payment::subscription::get::Output>(LineAnswer(
      s, p.uri, q, "subscription", "No subscription of the caller's is to " + p.subject.value_or("")));
}

// ---- payment.item.list / payment.subscription.list / payment.list --------------------------

xrpc::HandlerResult<lx::payment::item::list::Output> ItemList(
    State& s, xrpc::Request<lx::payment::item::list::Method>& req) {
  auto q = ListQuery(req.auth.did, store::kItemCollection, req.params);
  if (auto* e = std::get_if<XrpcError>(&q)) return std::move(*e);
  auto& query = std::get<store::LineQuery>(q);
  query.subject = req.params.subject;
  query.record_uri = req.params.record_uri;
  return ListAnswer(s, s.store.ListLines(query), "items", false);
}

xrpc::HandlerResult<lx::payment::subscription::list::Output> SubscriptionList(
    State& s, xrpc::Request<lx::payment::subscription::list::Method>& req) {
  auto q = ListQuery(req.auth.did, store::kSubscriptionCollection, req.params);
  if (auto* e = std::get_if<XrpcError>(&q)) return std::move(*e);
  return ListAnswer(s, s.store.ListLines(std::get<store::LineQuery>(q)), "subscriptions", false);
}

xrpc::HandlerResult<lx::payment::list::Output> PaymentList(
    State& s, xrpc::Request<lx::payment::list::Method>& req) {
  auto q = ListQuery(req.auth.did, "", req.params);  // "": items and subscriptions together
  if (auto* e = std::get_if<XrpcError>(&q)) return std::move(*e);
  return ListAnswer(s, s.store.ListLines(std::get<store::LineQuery>(q)), "items", true);
}

// ---- payment.item.validate / payment.subscription.validate ---------------------------------
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

xrpc::HandlerResult<lx::payment::item::validate::Output> ItemValidate(
    State& s, xrpc::Request<lx::payment::item::validate::Method>& req) {
  const auto& p = req.params;
  const std::string& did = req.auth.did;
  if (p.item_uri) {
    auto row = s.store.GetRecord(*p.item_uri);
    if (!row || row->did != did || row->collection != store::kItemCollection) {
      return JsonOutput{Verdict(false, {}, {}, "No item of the caller's is at " + *p.item_uri)};
    }
    if (row->status != "completed") {
      return JsonOutput{Verdict(false, row->amount, row->currency,
                                "Item " + row->uri + " is " + row->status + ", not completed")};
    }
    if (p.amount && row->amount < *p.amount) {
      return JsonOutput{Verdict(false, row->amount, row->currency,
                                PaidLess(*p.amount, row->amount, row->currency))};
    }
    return JsonOutput{Verdict(true, row->amount, row->currency)};
  }
  if (!p.record_uri && !p.subject) {
    return XrpcError::InvalidRequest("one of itemUri, recordUri or subject is required");
  }
  store::LineQuery q;
  q.did = did;
  q.collection = std::string(store::kItemCollection);
  q.status = "completed";
  if (p.record_uri) {
    q.record_uri = p.record_uri;
  } else {
    q.subject = p.subject;
  }
  std::vector<store::LineTotal> totals = s.store.SumLines(q);
  if (totals.empty()) {
    return JsonOutput{Verdict(false, {}, {},
                              p.record_uri ? "No completed item of the caller's tips " + *p.record_uri
                                           : "No completed item of the caller's pays " + *p.subject)};
  }
  // Sums in different currencies do not add up; the largest one speaks.
  const auto& best = *std::max_element(totals.begin(), totals.end(),
                                       [](const auto& a, const auto& b) { return a.amount < b.amount; });
  if (p.amount && best.amount < *p.amount) {
    return JsonOutput{Verdict(false, best.amount, best.currency,
                              PaidLess(*p.amount, best.amount, best.currency))};
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

xrpc::HandlerResult<lx::payment::subscription::validate::Output> SubscriptionValidate(
    State& s, xrpc::Request<lx::payment::subscription::validate::Method>& req) {
  const auto& p = req.params;
  const std::string& did = req.auth.did;
  const std::int64_t now = s.now();
  std::vector<store::RecordRow> rows;
  if (p.subscription_uri) {
    auto row = s.store.GetRecord(*p.subscription_uri);
    if (!row || row->did != did || row->collection != store::kSubscriptionCollection) {
      return JsonOutput{
          Verdict(false, {}, {}, "No subscription of the caller's is at " + *p.subscription_uri)};
    }
    rows.push_back(std::move(*row));
  } else if (p.subject) {
    store::LineQuery q;
    q.did = did;
    q.collection = std::string(store::kSubscriptionCollection);
    q.subject = p.subject;
    q.limit = kValidateScan;
    rows = s.store.ListLines(q).rows;
    if (rows.empty()) {
      return JsonOutput{Verdict(false, {}, {}, "No subscription of the caller's is to " + *p.subject)};
    }
  } else {
    return XrpcError::InvalidRequest("one of subscriptionUri or subject is required");
  }
  // The newest subscription that gives access and pays enough; else why the newest does not.
  std::optional<json::object> refusal;
  for (const auto& row : rows) {
    std::optional<std::string> why = NoAccess(row, now);
    if (!why && p.amount && row.amount < *p.amount) why = PaidLess(*p.amount, row.amount, row.currency);
    if (!why) return JsonOutput{Verdict(true, row.amount, row.currency)};
    if (!refusal) refusal = Verdict(false, row.amount, row.currency, *why);
  }
  return JsonOutput{std::move(*refusal)};
}

// ---- payment.item.put / payment.subscription.put -------------------------------------------

// A pending line's new record, as the caller wants it in their repo, and the columns it sets.
struct LineEdit {
  json::object record;  // with $type
  std::string subject;
  std::string record_uri;
  std::string private_json;
  std::int64_t amount = 0;
  std::string currency;
};

// `edit_of(row)` turns the caller's record into a LineEdit once the row is known to be theirs
// and pending.
template <class EditOf>
std::variant<Plan, XrpcError> PlanLinePut(State& s, const std::string& did, std::string_view uri,
                                          std::string_view collection, EditOf&& edit_of,
                                          std::int64_t now) {
  auto owned = OwnRecord(s, uri, did, collection);
  if (auto* e = std::get_if<XrpcError>(&owned)) return std::move(*e);
  store::RecordRow row = std::move(std::get<store::RecordRow>(owned));
  const std::string kind(KindOf(collection));
  if (row.status != "pending") {
    return XrpcError::Named(kind + "NotPending", kind + " " + row.uri + " is " + row.status +
                                                     "; only pending ones can be updated");
  }
  std::variant<LineEdit, XrpcError> edited = edit_of(row);
  if (auto* e = std::get_if<XrpcError>(&edited)) return std::move(*e);
  LineEdit& edit = std::get<LineEdit>(edited);
  auto invalid = [&](std::string message) {
    return XrpcError::Named("Invalid" + kind, std::move(message));
  };
  const json::object current = CurrentRecord(row, now);
  if (StringField(edit.record, "status") != "pending") {
    return invalid("status stays pending; payments move it on");
  }
  if (StringField(edit.record, "createdAt") != StringField(current, "createdAt")) {
    return invalid("createdAt cannot change");
  }
  if (auto e = CheckAmount(edit.amount)) return *e;
  if (auto e = CheckCurrency(edit.currency)) return *e;

  Plan plan;
  Write line = UpdateOf(row, "line", edit.record);
  line.cid = lex::ComputeRecordCid(edit.record);
  plan.preconditions.push_back({row.uri, row.cid, "pending"});
  plan.writes.push_back(std::move(line));

  // A line in a cart moves the cart's total with it.
  if (auto cart = row.cart_uri.empty() ? std::optional<store::RecordRow>()
                                        : s.store.GetRecord(row.cart_uri)) {
    const std::string status = EffectiveStatus(*cart, now);
    if (status != "open") {
      return XrpcError::Named("CartNotOpen", kind + " " + row.uri + " is in cart " + cart->uri +
                                                 ", which is " + status +
                                                 "; clone that cart to pay again");
    }
    if (edit.currency != cart->currency) {
      return XrpcError::Named("CurrencyMismatch", "Cart " + cart->uri + " is in " +
                                                      cart->currency + ", not " + edit.currency);
    }
    if (edit.amount != row.amount) {
      auto record = ParseRecordJson(cart->record_json);
      if (!record) return XrpcError::Internal();
      cart->amount += edit.amount - row.amount;
      (*record)["total"] = cart->amount;
      plan.preconditions.push_back({cart->uri, cart->cid, "open"});
      plan.writes.push_back(UpdateOf(*cart, "cart", *record));
      cart->record_json = json::serialize(*record);
      cart->updated_at_us = now;
      plan.updates.push_back(std::move(*cart));
    }
  }
  plan.output["uri"] = row.uri;
  plan.output["cid"] = plan.writes.front().cid;
  row.record_json = json::serialize(edit.record);
  row.subject = std::move(edit.subject);
  row.record_uri = std::move(edit.record_uri);
  row.private_json = std::move(edit.private_json);
  row.amount = edit.amount;
  row.currency = std::move(edit.currency);
  row.updated_at_us = now;
  plan.updates.insert(plan.updates.begin(), std::move(row));
  return plan;
}

std::variant<Plan, XrpcError> PlanItemPut(State& s, const lx::payment::item::put::Input& in,
                                          const std::string& did, std::int64_t now) {
  const auto& r = in.record;
  auto edit_of = [&](const store::RecordRow& row) -> std::variant<LineEdit, XrpcError> {
    if (r.completed_at) return XrpcError::Named("InvalidItem", "a pending item has no completedAt");
    LineEdit edit;
    edit.record = ToJson(r).as_object();
    edit.record["$type"] = store::kItemCollection;
    edit.amount = r.amount;
    edit.currency = r.currency;
    if (r.subject) {
      // Naming the subject in the record makes the item public.
      edit.subject = *r.subject;
      edit.record_uri = r.record_uri.value_or("");
      return edit;
    }
    // A private item keeps its subject (and recordUri) on our side only.
    if (row.private_json.empty()) {
      return XrpcError::Named("InvalidItem", "subject is required: an item pays its subject");
    }
    if (r.record_uri) {
      return XrpcError::Named("InvalidItem",
                              "a private item's recordUri stays on the server; leave it out, "
                              "or name the subject to make the item public");
    }
    edit.subject = row.subject;
    edit.record_uri = row.record_uri;
    edit.private_json = row.private_json;
    return edit;
  };
  return PlanLinePut(s, did, in.uri, store::kItemCollection, edit_of, now);
}

std::variant<Plan, XrpcError> PlanSubscriptionPut(State& s,
                                                  const lx::payment::subscription::put::Input& in,
                                                  const std::string& did, std::int64_t now) {
  const auto& r = in.record;
  auto edit_of = [&](const store::RecordRow&) -> std::variant<LineEdit, XrpcError> {
    if (r.cancelled_at || r.access_until) {
      return XrpcError::Named("InvalidSubscription",
                              "a pending subscription has no cancelledAt or accessUntil");
    }
    LineEdit edit;
    edit.record = ToJson(r).as_object();
    edit.record["$type"] = store::kSubscriptionCollection;
    edit.subject = r.subject;
    edit.amount = r.amount;
    edit.currency = r.currency;
    return edit;
  };
  return PlanLinePut(s, did, in.uri, store::kSubscriptionCollection, edit_of, now);
}

// ---- payment.subscription.cancel -----------------------------------------------------------

std::variant<Plan, XrpcError> PlanSubscriptionCancel(
    State& s, const lx::payment::subscription::cancel::Input& in, const std::string& did,
    std::int64_t now) {
  auto owned = OwnRecord(s, in.subscription_uri, did, store::kSubscriptionCollection);
  if (auto* e = std::get_if<XrpcError>(&owned)) return std::move(*e);
  store::RecordRow row = std::move(std::get<store::RecordRow>(owned));
  if (row.status != "active") {
    return XrpcError::Named("SubscriptionNotActive", "Subscription " + row.uri + " is " +
                                                         row.status +
                                                         "; only active ones can be cancelled");
  }
  json::object record = CurrentRecord(row, now);
  const std::int64_t start =
      ParseDatetime(StringField(record, "billingStartDate")).value_or(row.created_at_us);
  // Access runs to the end of the period already paid for.
  const std::string access_until =
      FormatDatetime(NextBillingDate(start, StringField(record, "interval"), now));
  record["status"] = "cancelled";
  record["cancelledAt"] = FormatDatetime(now);
  record["accessUntil"] = access_until;

  Plan plan;
  plan.preconditions.push_back({row.uri, row.cid, "active"});
  plan.writes.push_back(UpdateOf(row, "subscription", record));
  row.status = "cancelled";
  row.record_json = json::serialize(record);
  row.updated_at_us = now;
  plan.output["subscriptionUri"] = row.uri;
  plan.output["subscription"] = ViewOf(row, now);
  plan.output["accessUntil"] = access_until;
  plan.updates.push_back(std::move(row));
  return plan;
}

template <class M, class Planner>
void AddProcedure(xrpc::Router& router, const StatePtr& s, const xrpc::MethodOptions& options,
                  Planner planner) {
  router.Add<M>(
      [s, planner](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return planner(*s, req.input, did, now);
        });
      },
      options);
}

}  // namespace

void RegisterLineMethods(xrpc::Router& router, const StatePtr& s,
                         const xrpc::MethodOptions& options) {
  namespace item = lx::payment::item;
  namespace subscription = lx::payment::subscription;
  router.Add<item::get::Method>([s](auto& req) { return ItemGet(*s, req); }, options);
  router.Add<item::list::Method>([s](auto& req) { return ItemList(*s, req); }, options);
  router.Add<item::validate::Method>([s](auto& req) { return ItemValidate(*s, req); }, options);
  router.Add<subscription::get::Method>([s](auto& req) { return SubscriptionGet(*s, req); },
                                        options);
  router.Add<subscription::list::Method>([s](auto& req) { return SubscriptionList(*s, req); },
                                         options);
  router.Add<subscription::validate::Method>(
      [s](auto& req) { return SubscriptionValidate(*s, req); }, options);
  router.Add<lx::payment::list::Method>([s](auto& req) { return PaymentList(*s, req); }, options);
  AddProcedure<item::put::Method>(router, s, options, PlanItemPut);
  AddProcedure<subscription::put::Method>(router, s, options, PlanSubscriptionPut);
  AddProcedure<subscription::cancel::Method>(router, s, options, PlanSubscriptionCancel);
}

}  // namespace atipay::payments
