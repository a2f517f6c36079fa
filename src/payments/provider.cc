#include "payments/provider.h"

#include <algorithm>
#include <vector>

#include "payments/records.h"

namespace atipay::payments {

std::string ManualProvider::CheckoutUrl(std::string_view cart_uri,
                                        std::string_view redirect_url) const {
  std::string url = base_;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "cart=" + PercentEncode(cart_uri);
  if (!redirect_url.empty()) url += "&redirect=" + PercentEncode(redirect_url);
  return url;
}

store::Status RecordPayment(store::WriteTxn& txn, std::string_view cart_uri,
                            PaymentOutcome outcome, std::string_view source, std::int64_t now_us,
                            std::string* note) {
  using Code = store::Status::Code;
  auto cart = txn.GetRecord(cart_uri);
  if (!cart || cart->collection != store::kCartCollection) {
    return store::Status::Error(Code::kNotFound, "no cart " + std::string(cart_uri));
  }
  const std::string status = EffectiveStatus(*cart, now_us);
  std::string summary;
  auto lines = CartLineUris(*cart);
  if (outcome == PaymentOutcome::kCompleted) {
    if (status == "completed") {
      summary = "cart already completed; nothing changed";
    } else if (status == "abandoned") {
      return store::Status::Error(Code::kAborted, "cart is abandoned; a payment cannot complete it");
    } else {
      if (status == "expired") summary = "late payment: the cart had expired; ";
      cart->status = "completed";
      cart->completed_at_us = now_us;
      cart->updated_at_us = now_us;
      if (auto s = txn.UpdateRecord(*cart); !s.ok()) return s;
      int items = 0, subscriptions = 0;
      for (const auto& uri : lines) {
        auto line = txn.GetRecord(uri);
        if (!line) continue;
        if (line->collection == store::kItemCollection) {
          line->status = "completed";
          line->completed_at_us = now_us;
          ++items;
        } else if (line->collection == store::kSubscriptionCollection) {
          line->status = "active";
          ++subscriptions;
        } else {
          continue;
        }
        line->updated_at_us = now_us;
        if (auto s = txn.UpdateRecord(*line); !s.ok()) return s;
      }
      summary += "cart completed; " + std::to_string(items) + " item(s) completed, " +
                 std::to_string(subscriptions) + " subscription(s) active";
    }
  } else {
    int failed = 0;
    for (const auto& uri : lines) {
      auto line = txn.GetRecord(uri);
      if (!line || line->collection != store::kItemCollection || line->status != "pending") continue;
      line->status = "failed";
      line->updated_at_us = now_us;
      if (auto s = txn.UpdateRecord(*line); !s.ok()) return s;
      ++failed;
    }
    summary = "payment failed; " + std::to_string(failed) + " item(s) failed; cart stays " + status;
  }
  if (auto s = txn.InsertPaymentEvent(cart_uri,
                                      outcome == PaymentOutcome::kCompleted ? "completed" : "failed",
                                      source, now_us);
      !s.ok()) {
    return s;
  }
  if (note) *note = std::move(summary);
  return store::Status::Ok();
}

store::Status RecordSubscriptionOutcome(store::WriteTxn& txn, std::string_view subscription_uri,
                                        SubscriptionOutcome outcome, std::string_view source,
                                        std::int64_t now_us, std::string* note) {
  using Code = store::Status::Code;
  auto sub = txn.GetRecord(subscription_uri);
  if (!sub || sub->collection != store::kSubscriptionCollection) {
    return store::Status::Error(Code::kNotFound, "no subscription " + std::string(subscription_uri));
  }
  const std::string status = EffectiveStatus(*sub, now_us);
  struct Rule {
    const char* name;
    const char* target;
    std::vector<std::string_view> from;  // the statuses it may come from
  };
  static const Rule kRules[] = {
      {"renewed", "active", {"active", "past_due"}},
      {"past_due", "past_due", {"active"}},
      {"expired", "expired", {"active", "past_due", "cancelled"}},
  };
  const Rule& rule = kRules[static_cast<int>(outcome)];
  std::string summary;
  if (status == rule.target && outcome != SubscriptionOutcome::kRenewed) {
    summary = "subscription already " + status + "; nothing changed";
  } else if (std::find(rule.from.begin(), rule.from.end(), status) == rule.from.end()) {
    return store::Status::Error(Code::kAborted, "subscription is " + status + "; it cannot be " +
                                                    rule.name);
  } else {
    sub->status = rule.target;
    sub->updated_at_us = now_us;
    if (auto s = txn.UpdateRecord(*sub); !s.ok()) return s;
    summary = "subscription " + status + " -> " + rule.target;
  }
  if (auto s = txn.InsertPaymentEvent(subscription_uri, rule.name, source, now_us); !s.ok()) {
    return s;
  }
  if (note) *note = std::move(summary);
  return store::Status::Ok();
}

}  // namespace atipay::payments
