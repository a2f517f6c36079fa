#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "com/atiproto/payment/cart/clone.h"
#include "com/atiproto/payment/cart/create.h"
#include "com/atiproto/payment/cart/get.h"
#include "com/atiproto/payment/cart/list.h"
#include "com/atiproto/payment/cart/put.h"
#include "com/atiproto/payment/item/create.h"
#include "com/atiproto/payment/subscription/create.h"
#include "com/atiproto/recipient/payment/cart/get.h"
#include "com/atiproto/recipient/payment/cart/list.h"
#include "lex/cbor.h"
#include "lex/formats.h"
#include "lex/tid.h"
#include "payments/checkout_page.h"
#include "payments/method_support.h"
#include "payments/payments.h"
#include "payments/records.h"
#include "xrpc/log.h"

namespace atipay::payments {

namespace json = boost::json;
namespace lx = lexicons::com::atiproto;
using workflow::Plan;
using workflow::Verb;
using workflow::Write;
using xrpc::XrpcError;

namespace {

// A line (item or subscription) as it goes into a plan.
struct Line {
  Write write;
  store::RecordRow row;
};

struct ItemSpec {
  std::string subject;
  std::optional<std::string> record_uri;
  std::int64_t amount = 0;
  std::string currency;
  std::optional<std::string> message;
  bool is_private = false;
};

struct SubscriptionSpec {
  std::string subject;
  std::int64_t amount = 0;
  std::string currency;
  std::string interval;
};

Line BaseLine(State& s, std::string_view did, std::string_view collection, std::int64_t now) {
  Line line;
  line.write.verb = Verb::kCreate;
  line.write.repo = std::string(did);
  line.write.collection = std::string(collection);
  line.write.rkey = s.tids.Next();
  line.row.uri = line.write.Uri();
  line.row.did = std::string(did);
  line.row.collection = std::string(collection);
  line.row.rkey = line.write.rkey;
  line.row.status = "pending";
  line.row.created_at_us = now;
  line.row.updated_at_us = now;
  return line;
}

Line NewItem(State& s, std::string_view did, const ItemSpec& spec, std::int64_t now) {
  Line line = BaseLine(s, did, store::kItemCollection, now);
  json::object record;
  record["$type"] = store::kItemCollection;
  json::object hidden;
  if (spec.is_private) {
    hidden["subject"] = spec.subject;
    if (spec.record_uri) hidden["recordUri"] = *spec.record_uri;
  } else {
    record["subject"] = spec.subject;
    if (spec.record_uri) record["recordUri"] = *spec.record_uri;
  }
  record["amount"] = spec.amount;
  record["currency"] = spec.currency;
  record["status"] = "pending";
  if (spec.message) record["message"] = *spec.message;
  record["createdAt"] = FormatDatetime(now);
  line.row.record_json = json::serialize(record);
  if (!hidden.empty()) line.row.private_json = json::serialize(hidden);
  line.row.subject = spec.subject;
  line.row.record_uri = spec.record_uri.value_or("");
  line.row.amount = spec.amount;
  line.row.currency = spec.currency;
  line.write.record = std::move(record);
  line.write.name = "item";
  return line;
}

Line NewSubscription(State& s, std::string_view did, const SubscriptionSpec& spec,
                     std::int64_t now) {
  Line line = BaseLine(s, did, store::kSubscriptionCollection, now);
  json::object record;
  record["$type"] = store::kSubscriptionCollection;
  record["subject"] = spec.subject;
  record["amount"] = spec.amount;
  record["currency"] = spec.currency;
  record["interval"] = spec.interval;
  record["status"] = "pending";
  record["billingStartDate"] = FormatDatetime(now);
  record["createdAt"] = FormatDatetime(now);
  line.row.record_json = json::serialize(record);
  line.row.subject = spec.subject;
  line.row.amount = spec.amount;
  line.row.currency = spec.currency;
  line.write.record = std::move(record);
  line.write.name = "subscription";
  return line;
}

json::object CartRecord(const json::array& items, std::string_view currency, std::int64_t total,
                        std::int64_t created, std::int64_t expires) {
  json::object record;
  record["$type"] = store::kCartCollection;
  record["items"] = items;
  record["currency"] = currency;
  record["total"] = total;
  record["status"] = "open";
  record["createdAt"] = FormatDatetime(created);
  record["expiresAt"] = FormatDatetime(expires);
  return record;
}

json::object CartLine(std::string_view collection, std::string_view uri) {
  return json::object{{"type", collection}, {"recordUri", uri}};
}

// A new open cart listing `lines` (whose cart_uri it sets).
Line NewCart(State& s, std::string_view did, std::vector<Line>& lines, std::string_view currency,
             std::string_view redirect_url, std::int64_t now) {
  Line cart = BaseLine(s, did, store::kCartCollection, now);
  json::array items;
  std::int64_t total = 0;
  for (auto& line : lines) {
    items.push_back(CartLine(line.row.collection, line.row.uri));
    total += line.row.amount;
    line.row.cart_uri = cart.row.uri;
  }
  const std::int64_t expires = now + s.options.cart_ttl_seconds * 1000000;
  cart.write.record = CartRecord(items, currency, total, now, expires);
  cart.write.name = "cart";
  cart.row.record_json = json::serialize(cart.write.record);
  cart.row.status = "open";
  cart.row.amount = total;
  cart.row.currency = std::string(currency);
  cart.row.expires_at_us = expires;
  cart.row.redirect_url = std::string(redirect_url);
  return cart;
}

std::variant<store::RecordRow, XrpcError> OwnCart(State& s, std::string_view uri,
                                                  std::string_view did) {
  return OwnRecord(s, uri, did, store::kCartCollection);
}

std::optional<XrpcError> CheckRedirect(const std::optional<std::string>& url) {
  if (url && url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0) {
    return XrpcError::Named("InvalidRedirectUrl", "redirectUrl must be an http(s) URL");
  }
  return std::nullopt;
}

json::object CheckoutFields(State& s, json::object out, const store::RecordRow& cart) {
  out["cartUri"] = cart.uri;
  out["checkoutUrl"] = s.provider.CheckoutUrl(cart.uri, cart.redirect_url);
  return out;
}

// ---- payment.cart.create -------------------------------------------------------------------

std::variant<Plan, XrpcError> PlanCartCreate(State& s, const lx::payment::cart::create::Input& in,
                                             const std::string& did, std::int64_t now) {
  if (auto e = CheckCurrency(in.currency)) return *e;
  if (auto e = CheckRedirect(in.redirect_url)) return *e;
  std::vector<Line> none;
  Line cart = NewCart(s, did, none, in.currency, in.redirect_url.value_or(""), now);
  Plan plan;
  plan.output = CheckoutFields(s, {}, cart.row);
  plan.output["cart"] = ViewOf(cart.row, now);
  plan.writes.push_back(std::move(cart.write));
  plan.inserts.push_back(std::move(cart.row));
  return plan;
}

// ---- payment.item.create / payment.subscription.create -------------------------------------

// A new line in a new cart, or added to an open cart of the caller's.
std::variant<Plan, XrpcError> PlanNewLine(State& s, Line line, const std::string& did,
                                          const std::optional<std::string>& cart_uri,
                                          const std::optional<std::string>& redirect_url,
                                          std::string_view uri_field, std::string_view view_field,
                                          std::int64_t now) {
  if (auto e = CheckRedirect(redirect_url)) return *e;
  Plan plan;
  if (auto e = CheckRecipientsAccept(s, {line.row}, plan)) return *e;
  store::RecordRow cart_row;
  if (cart_uri) {
    auto owned = OwnCart(s, *cart_uri, did);
    if (auto* e = std::get_if<XrpcError>(&owned)) return *e;
    cart_row = std::move(std::get<store::RecordRow>(owned));
    const std::string status = EffectiveStatus(cart_row, now);
    if (status != "open") {
      return XrpcError::Named("CartNotOpen", "Cart " + cart_row.uri + " is " + status +
                                                 "; only open carts take new lines");
    }
    if (cart_row.currency != line.row.currency) {
      return XrpcError::Named("CurrencyMismatch", "Cart " + cart_row.uri + " is in " +
                                                      cart_row.currency + ", not " +
                                                      line.row.currency);
    }
    auto record = ParseRecordJson(cart_row.record_json);
    if (!record) return XrpcError::Internal();
    auto& items = (*record)["items"].as_array();
    if (items.size() >= s.options.max_lines) {
      return XrpcError::Named("CartTooLarge", "a cart holds at most " +
                                                  std::to_string(s.options.max_lines) + " lines");
    }
    std::int64_t total = cart_row.amount;
    if (auto e = AddToTotal(total, line.row.amount)) return *e;
    items.push_back(CartLine(line.row.collection, line.row.uri));
    (*record)["total"] = total;
    line.row.cart_uri = cart_row.uri;

    Write update = UpdateOf(cart_row, "cart", *record);
    plan.preconditions.push_back(
        {cart_row.uri, cart_row.cid, "open", std::nullopt, cart_row.expires_at_us});
    cart_row.record_json = json::serialize(*record);
    cart_row.amount = total;
    cart_row.updated_at_us = now;
    // The checkout returns where the latest caller asked (the cart's checkout URL with it).
    if (redirect_url) cart_row.redirect_url = *redirect_url;
    plan.writes.push_back(std::move(line.write));
    plan.writes.push_back(std::move(update));
    plan.inserts.push_back(line.row);
    plan.updates.push_back(cart_row);
  } else {
    std::vector<Line> lines{std::move(line)};
    Line cart = NewCart(s, did, lines, lines[0].row.currency, redirect_url.value_or(""), now);
    line = std::move(lines[0]);
    cart_row = cart.row;
    plan.writes.push_back(std::move(line.write));
    plan.writes.push_back(std::move(cart.write));
    plan.inserts.push_back(line.row);
    plan.inserts.push_back(std::move(cart.row));
  }
  plan.output = CheckoutFields(s, {}, cart_row);
  plan.output["cart"] = ViewOf(cart_row, now);
  plan.output[uri_field] = line.row.uri;
  plan.output[view_field] = ViewOf(line.row, now);
  return plan;
}

std::variant<Plan, XrpcError> PlanItemCreate(State& s, const lx::payment::item::create::Input& in,
                                             const std::string& did, std::int64_t now) {
  if (auto e = CheckAmount(in.amount)) return *e;
  if (auto e = CheckCurrency(in.currency)) return *e;
  ItemSpec spec{in.subject, in.record_uri, in.amount, in.currency, in.message,
                in.is_private.value_or(false)};
  return PlanNewLine(s, NewItem(s, did, spec, now), did, in.cart_uri, in.redirect_url, "itemUri",
                     "item", now);
}

std::variant<Plan, XrpcError> PlanSubscriptionCreate(
    State& s, const lx::payment::subscription::create::Input& in, const std::string& did,
    std::int64_t now) {
  if (!in.amount) {
    return XrpcError::Named("InvalidAmount",
                            "amount is required: this service has no price list to take it from");
  }
  if (auto e = CheckAmount(*in.amount)) return *e;
  if (auto e = CheckCurrency(in.currency)) return *e;
  if (in.is_private.value_or(false)) {
    // com.atiproto.subscription requires `subject`, so a record without it would not be valid.
    return XrpcError::Named("PrivateSubscriptionUnsupported",
                            "subscription records must name their subject; isPrivate is not "
                            "supported for subscriptions");
  }
  SubscriptionSpec spec{in.subject, *in.amount, in.currency, in.interval};
  return PlanNewLine(s, NewSubscription(s, did, spec, now), did, in.cart_uri, in.redirect_url,
                     "subscriptionUri", "subscription", now);
}

// ---- payment.cart.clone --------------------------------------------------------------------

std::variant<Plan, XrpcError> PlanClone(State& s, const lx::payment::cart::clone::Input& in,
                                        const std::string& did, std::int64_t now) {
  if (auto e = CheckRedirect(in.redirect_url)) return *e;
  auto owned = OwnCart(s, in.uri, did);
  if (auto* e = std::get_if<XrpcError>(&owned)) return *e;
  const store::RecordRow& source = std::get<store::RecordRow>(owned);
  const std::string status = EffectiveStatus(source, now);
  if (status == "open") {
    return XrpcError::Named("CartNotCloneable",
                            "Cart " + source.uri + " is still open until " +
                                FormatDatetime(source.expires_at_us) +
                                "; pay it at its checkout URL, or clone it once it has expired");
  }
  const std::vector<std::string> uris = CartLineUris(source);
  if (uris.size() > s.options.max_lines) {
    return XrpcError::Named("CartTooLarge", "a cart holds at most " +
                                                std::to_string(s.options.max_lines) + " lines");
  }
  store::Status failure;
  std::vector<store::RecordRow> sources = s.store.GetRecords(uris, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  if (sources.size() != uris.size()) {
    return XrpcError::Named("CartNotCloneable",
                            "Cart " + source.uri + " lists records this service does not know");
  }
  std::vector<Line> lines;
  lines.reserve(sources.size());
  int items = 0, subscriptions = 0;
  std::int64_t total = 0;  // NewCart sums the copies again; this checks that the sum fits
  for (const auto& src : sources) {
    if (auto e = AddToTotal(total, src.amount)) return *e;
    json::object record = ParseRecordJson(src.record_json).value_or(json::object{});
    json::object hidden = ParseRecordJson(src.private_json).value_or(json::object{});
    auto text = [&](std::string_view key) -> std::optional<std::string> {
      for (const json::object* o : {&record, &hidden}) {
        if (auto it = o->find(key); it != o->end() && it->value().is_string()) {
          return std::string(it->value().get_string());
        }
      }
      return std::nullopt;
    };
    if (src.collection == store::kItemCollection) {
      ItemSpec spec{src.subject, text("recordUri"), src.amount, src.currency, text("message"),
                    !src.private_json.empty()};
      lines.push_back(NewItem(s, did, spec, now));
      lines.back().write.name = "item-" + std::to_string(items++);
    } else if (src.collection == store::kSubscriptionCollection) {
      SubscriptionSpec spec{src.subject, src.amount, src.currency, text("interval").value_or("monthly")};
      lines.push_back(NewSubscription(s, did, spec, now));
      lines.back().write.name = "subscription-" + std::to_string(subscriptions++);
    } else {
      return XrpcError::Named("CartNotCloneable", "Cart lists " + src.uri + ", not a line");
    }
  }
  // Someone who has stopped taking items or subscriptions is not paid again by a copy.
  Plan plan;
  if (auto e = CheckRecipientsAccept(s, sources, plan)) return *e;
  const std::string redirect = in.redirect_url.value_or(source.redirect_url);
  Line cart = NewCart(s, did, lines, source.currency, redirect, now);
  cart.row.cloned_from = source.uri;

  plan.output = CheckoutFields(s, {}, cart.row);
  plan.output["cart"] = ViewOf(cart.row, now);
  json::array item_views, subscription_views;
  for (auto& line : lines) {
    (line.row.collection == store::kItemCollection ? item_views : subscription_views)
        .push_back(ViewOf(line.row, now));
    plan.writes.push_back(std::move(line.write));
    plan.inserts.push_back(std::move(line.row));
  }
  plan.output["items"] = std::move(item_views);
  plan.output["subscriptions"] = std::move(subscription_views);
  // The cart goes last: if a line cannot be written, no cart points at it.
  plan.writes.push_back(std::move(cart.write));
  plan.inserts.push_back(std::move(cart.row));
  return plan;
}

// ---- payment.cart.put ----------------------------------------------------------------------

std::variant<Plan, XrpcError> PlanCartPut(State& s, const lx::payment::cart::put::Input& in,
                                          const std::string& did, std::int64_t now) {
  auto owned = OwnCart(s, in.uri, did);
  if (auto* e = std::get_if<XrpcError>(&owned)) return *e;
  store::RecordRow cart = std::move(std::get<store::RecordRow>(owned));
  const std::string status = EffectiveStatus(cart, now);
  if (status != "open") {
    return XrpcError::Named("CartNotOpen", "Cart " + cart.uri + " is " + status +
                                               "; only open carts can be updated");
  }
  const json::object current = CurrentRecord(cart, now);
  auto invalid = [](std::string message) {
    return XrpcError::Named("InvalidCart", std::move(message));
  };
  auto same = [&](std::string_view key, const std::string& value) {
    auto it = current.find(key);
    return it != current.end() && it->value().is_string() && it->value().get_string() == value;
  };
  if (in.record.status != "open") return invalid("status stays open; payments complete carts");
  if (in.record.currency != cart.currency) return invalid("currency cannot change");
  if (!same("createdAt", in.record.created_at)) return invalid("createdAt cannot change");
  if (!same("expiresAt", in.record.expires_at)) return invalid("expiresAt cannot change");
  if (in.record.completed_at) return invalid("an open cart has no completedAt");
  if (in.record.items.size() > s.options.max_lines) {
    return XrpcError::Named("CartTooLarge", "a cart holds at most " +
                                                std::to_string(s.options.max_lines) + " lines");
  }
  std::vector<std::string> uris;
  std::set<std::string> seen;
  for (const auto& line : in.record.items) {
    if (!seen.insert(line.record_uri).second) return invalid(line.record_uri + " is listed twice");
    uris.push_back(line.record_uri);
  }
  store::Status failure;
  std::vector<store::RecordRow> lines = s.store.GetRecords(uris, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  if (lines.size() != uris.size()) return invalid("the cart lists records this service does not know");
  std::int64_t total = 0;
  Plan plan;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto& line = lines[i];
    if (line.did != did) return invalid(line.uri + " is not in the caller's repo");
    if (line.collection != in.record.items[i].type) {
      return invalid(line.uri + " is not a " + in.record.items[i].type);
    }
    if (line.currency != cart.currency) return invalid(line.uri + " is in " + line.currency);
    if (!line.cart_uri.empty() && line.cart_uri != cart.uri) {
      return invalid(line.uri + " belongs to another cart");
    }
    if (line.status != "pending") return invalid(line.uri + " is " + line.status);
    if (auto e = AddToTotal(total, line.amount)) return *e;
    // Its amount is in the total, and it must still be free (or ours) when this commits.
    plan.preconditions.push_back({line.uri, line.cid, line.status, line.cart_uri});
    if (line.cart_uri.empty()) {
      line.cart_uri = cart.uri;
      line.updated_at_us = now;
      plan.updates.push_back(line);
    }
  }
  if (in.record.total != total) {
    return invalid("total must be the sum of the lines: " + std::to_string(total));
  }
  // Lines dropped from the cart are free again.
  std::vector<store::RecordRow> listed = s.store.GetRecords(CartLineUris(cart), &failure);
  if (!failure.ok()) return ReadFailed(failure);
  for (auto& old : listed) {
    if (!seen.count(old.uri)) {
      plan.preconditions.push_back({old.uri, old.cid, old.status, old.cart_uri});
      old.cart_uri.clear();
      old.updated_at_us = now;
      plan.updates.push_back(old);
    }
  }
  json::object record = ToJson(in.record).as_object();
  record["$type"] = store::kCartCollection;
  Write update = UpdateOf(cart, "cart", record);
  update.cid = lex::ComputeRecordCid(record);
  plan.preconditions.push_back({cart.uri, cart.cid, "open", std::nullopt, cart.expires_at_us});
  cart.record_json = json::serialize(record);
  cart.amount = total;
  cart.updated_at_us = now;
  plan.output["uri"] = cart.uri;
  plan.output["cid"] = update.cid;
  plan.writes.push_back(std::move(update));
  plan.updates.push_back(std::move(cart));
  return plan;
}

// ---- payment.cart.get ----------------------------------------------------------------------

void CartGet(const StatePtr& s, xrpc::Request<lx::payment::cart::get::Method>& req,
             xrpc::Reply<lx::payment::cart::get::Output> reply) {
  const auto& p = req.params;
  const std::string& did = req.auth.did;
  const std::int64_t now = s->now();
  std::string cart_uri;
  if (p.uri) {
    cart_uri = *p.uri;
  } else if (p.item_uri || p.subscription_uri) {
    const std::string& line_uri = p.item_uri ? *p.item_uri : *p.subscription_uri;
    store::Status failure;
    auto line = s->store.GetRecord(line_uri, &failure);
    if (!failure.ok()) {
      reply(ReadFailed(failure));
      return;
    }
    if (!line || line->did != did || line->cart_uri.empty()) {
      reply(XrpcError::Named("CartNotFound", "No cart of the caller's lists " + line_uri));
      return;
    }
    cart_uri = line->cart_uri;
  } else {
    reply(XrpcError::InvalidRequest("one of uri, itemUri or subscriptionUri is required"));
    return;
  }
  auto owned = OwnCart(*s, cart_uri, did);
  if (auto* e = std::get_if<XrpcError>(&owned)) {
    reply(std::move(*e));
    return;
  }
  store::Status failure;
  std::optional<CartAndLines> snapshot =
      ReadCartAndLines(s->store, std::get<store::RecordRow>(owned), &failure);
  if (!failure.ok()) {
    reply(ReadFailed(failure));
    return;
  }
  if (!snapshot) {
    reply(XrpcError::Named("CartNotFound", "Cart not found: " + cart_uri));
    return;
  }
  store::RecordRow& cart = snapshot->cart;
  std::vector<store::RecordRow>& lines = snapshot->lines;

  // Rows whose record in the user's repo lags our status get a one-shot #update.
  std::vector<Write> sync;
  std::vector<store::RecordRow> synced;
  std::vector<store::RecordRow> read;  // those rows as read, before the sync
  auto check = [&](store::RecordRow& row) {
    json::object current = CurrentRecord(row, now);
    auto written = ParseRecordJson(row.record_json);
    if (written && *written == current) return;
    read.push_back(row);
    Write w;
    w.name = "sync-" + std::to_string(sync.size());
    w.verb = Verb::kUpdate;
    w.repo = row.did;
    w.collection = row.collection;
    w.rkey = row.rkey;
    w.record = current;
    sync.push_back(std::move(w));
    row.status = EffectiveStatus(row, now);
    row.record_json = json::serialize(current);
    row.updated_at_us = now;
    synced.push_back(row);
  };
  check(cart);
  for (auto& line : lines) check(line);

  json::object out;
  out["uri"] = cart.uri;
  out["cart"] = ViewOf(cart, now);
  if (EffectiveStatus(cart, now) == "open") {
    out["checkoutUrl"] = s->provider.CheckoutUrl(cart.uri, cart.redirect_url);
  }
  json::array items, subscriptions;
  for (const auto& line : lines) {
    (line.collection == store::kItemCollection ? items : subscriptions).push_back(ViewOf(line, now));
  }
  out["items"] = std::move(items);
  out["subscriptions"] = std::move(subscriptions);
  if (sync.empty()) {
    out["cid"] = cart.cid;
    Deliver(reply, std::move(out));
    return;
  }
  json::object body = workflow::SideEffectBody("syncCart", sync);
  for (std::size_t i = 0; i < sync.size(); ++i) synced[i].cid = sync[i].cid;
  out["cid"] = synced[0].uri == cart.uri ? synced[0].cid : cart.cid;
  out["workflow"] = std::move(body["workflow"]);
  // One-shot: from now on the rows say the repo holds the synced records. They are written
  // whole, so only over the rows as read: if one has moved since (a payment, an edit), that
  // write wins and this answer goes without its side effect; the next read syncs again.
  auto moved = std::make_shared<bool>(false);
  s->store.Submit(
      [synced = std::move(synced), read = std::move(read), moved](store::WriteTxn& txn) {
        for (const auto& row : read) {
          if (txn.GetRecord(row.uri) != row) {
            *moved = true;
            return store::Status::Ok();
          }
        }
        for (const auto& row : synced) {
          if (auto st = txn.UpdateRecord(row); !st.ok()) return st;
        }
        return store::Status::Ok();
      },
      [reply, out = std::move(out), moved, cid = cart.cid](store::Status st) mutable {
        if (!st.ok()) {
          reply(XrpcError{503, std::string(workflow::kStoreUnavailable), st.message});
          return;
        }
        if (*moved) {
          out.erase("workflow");
          out["cid"] = cid;
        }
        Deliver(reply, std::move(out));
      });
}

// ---- payment.cart.list ---------------------------------------------------------------------

// One page of carts as {carts: [{uri, cid, record}], cursor?}: the payer's cart.list and the
// recipient's.
QueryAnswer CartsPage(State& s, store::CartQuery q, const std::optional<std::string>& cursor,
                      std::int64_t limit) {
  const std::int64_t now = s.now();
  q.limit = static_cast<int>(limit);
  q.now_us = now;  // an open cart past its expiry is listed as expired before the sweep
  auto before = ParseCursor(cursor);
  if (auto* e = std::get_if<XrpcError>(&before)) return std::move(*e);
  q.before_seq = std::get<std::optional<std::int64_t>>(before);
  store::Status failure;
  store::Page<store::RecordRow> page = s.store.ListCarts(q, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  json::array carts;
  for (const auto& row : page.rows) {
    carts.push_back(json::object{{"uri", row.uri}, {"cid", row.cid}, {"record", ViewOf(row, now)}});
  }
  json::object out{{"carts", std::move(carts)}};
  if (page.next_before_seq) out["cursor"] = std::to_string(*page.next_before_seq);
  return xrpc::JsonOutput{json::value(std::move(out))};
}

xrpc::HandlerResult<lx::payment::cart::list::Output> CartList(
    State& s, xrpc::Request<lx::payment::cart::list::Method>& req) {
  const auto& p = req.params;
  store::CartQuery q;
  q.did = req.auth.did;
  q.status = p.status;
  q.subject = p.subject;
  return Reply<lx::payment::cart::list::Output>(CartsPage(s, std::move(q), p.cursor, p.limit));
}

// ---- recipient.payment.cart.get / recipient.payment.cart.list -------------------------------
// A recipient sees the carts that pay them, with only their own lines resolved: the others are
// between the payer and someone else. Read-only: the carts are in the payers' repos.

xrpc::HandlerResult<lx::recipient::payment::cart::get::Output> RecipientCartGet(
    State& s, xrpc::Request<lx::recipient::payment::cart::get::Method>& req) {
  const auto& p = req.params;
  const std::string& me = req.auth.did;
  const std::int64_t now = s.now();
  auto not_found = [&](std::string_view what) {
    return XrpcError::Named("CartNotFound", "No cart paying the caller " + std::string(what));
  };
  std::string cart_uri;
  if (p.uri) {
    cart_uri = *p.uri;
  } else if (p.item_uri || p.subscription_uri) {
    const std::string& line_uri = p.item_uri ? *p.item_uri : *p.subscription_uri;
    store::Status failure;
    auto line = s.store.GetRecord(line_uri, &failure);
    if (!failure.ok()) return ReadFailed(failure);
    if (!line || line->subject != me || line->cart_uri.empty()) return not_found("lists " + line_uri);
    cart_uri = line->cart_uri;
  } else {
    return XrpcError::InvalidRequest("one of uri, itemUri or subscriptionUri is required");
  }
  auto found = RecordAt(s, cart_uri, store::kCartCollection);
  if (auto* e = std::get_if<XrpcError>(&found)) return std::move(*e);
  store::Status failure;
  std::optional<CartAndLines> snapshot =
      ReadCartAndLines(s.store, std::get<store::RecordRow>(found), &failure);
  if (!failure.ok()) return ReadFailed(failure);
  if (!snapshot) return not_found("is " + cart_uri);
  const store::RecordRow& cart = snapshot->cart;
  json::array items, subscriptions;
  for (const auto& line : snapshot->lines) {
    if (line.subject != me) continue;
    (line.collection == store::kItemCollection ? items : subscriptions).push_back(ViewOf(line, now));
  }
  if (items.empty() && subscriptions.empty()) return not_found("is " + cart_uri);
  json::object out;
  out["uri"] = cart.uri;
  out["cid"] = cart.cid;
  out["cart"] = ViewOf(cart, now);
  out["items"] = std::move(items);
  out["subscriptions"] = std::move(subscriptions);
  return xrpc::JsonOutput{json::value(std::move(out))};
}

// A recipient's carts are read through their lines (records_by_recipient), newest first, so
// that a page costs what it shows, however many lines pay them: each cart is listed once, where
// its newest line paying the recipient falls, and the cursor is that line's place. A page looks
// at no more than kRecipientLinesPerPage lines; it may then hold fewer carts than `limit` (even
// none, with a cursor), e.g. when the status filter passes few of them.
constexpr int kRecipientLinesPerPage = 1000;

QueryAnswer RecipientCartsPage(State& s, const std::string& me,
                               const std::optional<std::string>& sender,
                               const std::optional<std::string>& status,
                               const std::optional<std::string>& cursor, std::int64_t limit) {
  const std::int64_t now = s.now();
  auto before = ParseCursor(cursor);
  if (auto* e = std::get_if<XrpcError>(&before)) return std::move(*e);
  store::LineQuery q;
  q.did = sender.value_or("");  // "": any payer's
  q.subject = me;
  q.before_seq = std::get<std::optional<std::int64_t>>(before);
  std::set<std::string> seen;
  json::array carts;
  int looked_at = 0;
  store::Status failure;
  bool more = true;
  while (more && static_cast<std::int64_t>(carts.size()) < limit &&
         looked_at < kRecipientLinesPerPage) {
    q.limit = static_cast<int>(std::min<std::int64_t>(kRecipientLinesPerPage - looked_at,
                                                      std::max<std::int64_t>(2 * limit, 20)));
    store::Page<store::RecordRow> lines = s.store.ListLines(q, &failure);
    if (!failure.ok()) return ReadFailed(failure);
    more = lines.next_before_seq.has_value();
    for (const store::RecordRow& line : lines.rows) {
      ++looked_at;
      q.before_seq = line.seq;
      if (line.cart_uri.empty() || !seen.insert(line.cart_uri).second) continue;
      std::optional<store::RecordRow> cart = s.store.GetRecord(line.cart_uri, &failure);
      if (!failure.ok()) return ReadFailed(failure);
      if (!cart || cart->collection != store::kCartCollection) continue;
      // Its place is its newest line that pays me and that it lists now: a newer one was on an
      // earlier page; an older one means this line has left the cart.
      std::int64_t newest = 0;
      const std::vector<store::RecordRow> listed =
          s.store.GetRecords(CartLineUris(*cart), &failure);
      if (!failure.ok()) return ReadFailed(failure);
      for (const store::RecordRow& row : listed) {
        if (row.subject == me) newest = std::max(newest, row.seq);
      }
      if (newest != line.seq) continue;
      if (status && EffectiveStatus(*cart, now) != *status) continue;
      carts.push_back(
          json::object{{"uri", cart->uri}, {"cid", cart->cid}, {"record", ViewOf(*cart, now)}});
      if (static_cast<std::int64_t>(carts.size()) == limit) break;
    }
  }
  // A full page, or lines left unread below the last one looked at: go on from there.
  const bool go_on = more || static_cast<std::int64_t>(carts.size()) == limit;
  json::object out{{"carts", std::move(carts)}};
  if (go_on && q.before_seq) out["cursor"] = std::to_string(*q.before_seq);
  return xrpc::JsonOutput{json::value(std::move(out))};
}

xrpc::HandlerResult<lx::recipient::payment::cart::list::Output> RecipientCartList(
    State& s, xrpc::Request<lx::recipient::payment::cart::list::Method>& req) {
  const auto& p = req.params;
  return Reply<lx::recipient::payment::cart::list::Output>(
      RecipientCartsPage(s, req.auth.did, p.sender, p.status, p.cursor, p.limit));
}

}  // namespace

Service::Service(store::Store& store, const PaymentProvider& provider, Options options,
                 Clock now_us)
    : state_(std::make_shared<State>(
          store, provider, std::move(options),
          now_us ? std::move(now_us) : Clock(&lex::TidClock::SystemNowMicros))) {}

Service::~Service() {
  {
    std::lock_guard lock(state_->sweeper_mu);
    state_->stopping = true;
  }
  state_->sweeper_cv.notify_all();
  if (state_->sweeper.joinable()) state_->sweeper.join();
}

std::int64_t Service::SweepOnce() {
  const store::SweepResult result =
      store::Sweep(state_->store, state_->now(), state_->options.sweep_chunk);
  // Carts past their expiry read as expired all the same; the log says the rows are behind.
  if (!result.status.ok()) xrpc::LogEvent("error", "sweep failed: " + result.status.message);
  return result.carts_expired;
}

void Service::StartSweeper() {
  if (state_->sweeper.joinable()) return;
  state_->sweeper = std::thread([this] {
    std::unique_lock lock(state_->sweeper_mu);
    while (!state_->stopping) {
      lock.unlock();
      SweepOnce();
      lock.lock();
      state_->sweeper_cv.wait_for(
          lock, std::chrono::seconds(std::max<std::int64_t>(1, state_->options.sweep_interval_seconds)),
          [this] { return state_->stopping; });
    }
  });
}

void Service::Register(xrpc::Router& router) {
  // On the blocking pool: the methods read SQLite (a read may wait for a connection or the
  // disk), which must not stall an event loop and every connection on it. Measured on the
  // clone load, running them inline would gain 3-7%; not worth a loop stalled by a slow read.
  const xrpc::MethodOptions auth{.auth = xrpc::AuthPolicy::kRequired, .blocking = true};
  StatePtr s = state_;

  // The manual provider's checkout page (where default checkout URLs point).
  router.AddPage(kCheckoutPath, [s](const lex::ParamList& params) {
    return CheckoutPage(s->store, params, s->now());
  });

  router.Add<lx::payment::cart::create::Method>(
      [s](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return PlanCartCreate(*s, req.input, did, now);
        });
      },
      auth);
  router.Add<lx::payment::item::create::Method>(
      [s](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return PlanItemCreate(*s, req.input, did, now);
        });
      },
      auth);
  router.Add<lx::payment::subscription::create::Method>(
      [s](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return PlanSubscriptionCreate(*s, req.input, did, now);
        });
      },
      auth);
  router.Add<lx::payment::cart::clone::Method>(
      [s](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return PlanClone(*s, req.input, did, now);
        });
      },
      auth);
  router.Add<lx::payment::cart::put::Method>(
      [s](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return PlanCartPut(*s, req.input, did, now);
        });
      },
      auth);
  router.Add<lx::payment::cart::get::Method>(
      [s](auto& req, auto reply) { CartGet(s, req, std::move(reply)); }, auth);
  router.Add<lx::payment::cart::list::Method>([s](auto& req) { return CartList(*s, req); }, auth);
  router.Add<lx::recipient::payment::cart::get::Method>(
      [s](auto& req) { return RecipientCartGet(*s, req); }, auth);
  router.Add<lx::recipient::payment::cart::list::Method>(
      [s](auto& req) { return RecipientCartList(*s, req); }, auth);
  RegisterLineQueries(router, s, auth);
  RegisterProfiles(router, s, auth);
  RegisterLineEdits(router, s, auth);
}

}  // namespace atipay::payments
