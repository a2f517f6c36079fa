// The payment-provider seam: where a cart is paid, and how an outcome is recorded.
//
// The built-in provider is manual: the checkout URL points at a configured base, and an
// operator records outcomes with `atipay-admin payment CART completed|failed`, which calls
// RecordPayment on the same database while the server runs. A Stripe provider would build
// checkout sessions here and call RecordPayment from its webhook.
#ifndef ATIPAY_PAYMENTS_PROVIDER_H_
#define ATIPAY_PAYMENTS_PROVIDER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.h"

namespace atipay::payments {

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // Where the payer pays an open cart; `redirect_url` (may be empty) is where checkout returns.
  virtual std::string CheckoutUrl(std::string_view cart_uri,
                                  std::string_view redirect_url) const = 0;
  // Whether `did` can be paid through this provider. One that pays out to recipients' own
  // accounts (Stripe Connect) answers whether theirs is set up; the manual provider takes every
  // payment itself.
  virtual bool ReadyForPayment(std::string_view /*did*/) const { return true; }
};

// <base>?cart=<cart uri>[&redirect=<url>], percent-encoded.
class ManualProvider : public PaymentProvider {
 public:
  explicit ManualProvider(std::string checkout_base) : base_(std::move(checkout_base)) {}
  std::string CheckoutUrl(std::string_view cart_uri, std::string_view redirect_url) const override;

 private:
  std::string base_;
};

enum class PaymentOutcome { kCompleted, kFailed };

// Records a payment outcome for a cart, inside a write transaction:
//   completed: the cart -> completed (completedAt now), its items -> completed, its
//              subscriptions -> active; allowed for open carts and for expired ones (a late
//              payment is still money received; the note says so);
//   failed:    its pending items -> failed; the cart stays as it is.
// A completed cart recorded completed again is a no-op (ok, note says so). Every call is
// logged in the payment event table. `note` gets a human-readable summary.
store::Status RecordPayment(store::WriteTxn& txn, std::string_view cart_uri,
                            PaymentOutcome outcome, std::string_view source, std::int64_t now_us,
                            std::string* note);

// What happens to a subscription after its first payment (which is its cart's):
//   renewed:  a period's payment arrived: active or past_due -> active;
//   past_due: a period's payment failed: active -> past_due (no access until renewed);
//   expired:  it ends: active, past_due or cancelled -> expired.
// Anything else is refused (kAborted, with why); an outcome it already has is a no-op. Logged in
// the payment event table under the subscription's URI.
enum class SubscriptionOutcome { kRenewed, kPastDue, kExpired };
store::Status RecordSubscriptionOutcome(store::WriteTxn& txn, std::string_view subscription_uri,
                                        SubscriptionOutcome outcome, std::string_view source,
                                        std::int64_t now_us, std::string* note);

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_PROVIDER_H_
