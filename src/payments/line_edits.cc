// Changing items and subscriptions once created: item.put, subscription.put (pending lines,
// with their cart's total) and subscription.cancel.
#include "com/atiproto/payment/item/put.h"
#include "com/atiproto/payment/subscription/cancel.h"
#include "com/atiproto/payment/subscription/put.h"
#include "lex/cbor.h"
#include "payments/method_support.h"
#include "payments/records.h"

namespace atipay::payments {

namespace json = boost::json;
namespace lx = lexicons::com::atiproto;
using workflow::Plan;
using workflow::Write;
using xrpc::XrpcError;

namespace {

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
  const std::string kind = KindOf(collection);
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
  for (const char* fixed : {"createdAt", "billingStartDate"}) {
    if (StringField(edit.record, fixed) != StringField(current, fixed)) {
      return invalid(std::string(fixed) + " cannot change");
    }
  }
  if (auto e = CheckAmount(edit.amount)) return *e;
  if (auto e = CheckCurrency(edit.currency)) return *e;
  Plan plan;
  if (edit.subject != row.subject) {
    // A new recipient must take this kind of line, as for a create to them.
    store::RecordRow to = row;
    to.subject = edit.subject;
    if (auto e = CheckRecipientsAccept(s, {to}, plan)) return *e;
  }

  Write line = UpdateOf(row, "line", edit.record);
  line.cid = lex::ComputeRecordCid(edit.record);
  // The row is written back whole: it must still be in the cart it was in.
  plan.preconditions.push_back({row.uri, row.cid, "pending", row.cart_uri});
  plan.writes.push_back(std::move(line));

  // A line in a cart moves the cart's total with it.
  store::Status failure;
  std::optional<store::RecordRow> cart;
  if (!row.cart_uri.empty()) cart = s.store.GetRecord(row.cart_uri, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  if (cart) {
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
    // Still open, and as planned, when this commits (also when the total stays as it is).
    plan.preconditions.push_back({cart->uri, cart->cid, "open", std::nullopt, cart->expires_at_us});
    if (edit.amount != row.amount) {
      auto record = ParseRecordJson(cart->record_json);
      if (!record) return XrpcError::Internal();
      std::int64_t total = cart->amount - row.amount;  // the line is part of it: no overflow
      if (auto e = AddToTotal(total, edit.amount)) return *e;
      cart->amount = total;
      (*record)["total"] = cart->amount;
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

void RegisterLineEdits(xrpc::Router& router, const StatePtr& s,
                       const xrpc::MethodOptions& options) {
  AddProcedure<lx::payment::item::put::Method>(router, s, options, PlanItemPut);
  AddProcedure<lx::payment::subscription::put::Method>(router, s, options, PlanSubscriptionPut);
  AddProcedure<lx::payment::subscription::cancel::Method>(router, s, options,
                                                          PlanSubscriptionCancel);
}

}  // namespace atipay::payments
