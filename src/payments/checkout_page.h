// The manual provider's checkout page, <public-url>/checkout?cart=<uri>[&redirect=<url>]: what a
// payer sees on following a checkoutUrl. The manual provider takes no card: the page shows
// what is owed and where the cart stands, and says that the operator records the payment.
// Private to src/payments.
#ifndef ATIPAY_PAYMENTS_CHECKOUT_PAGE_H_
#define ATIPAY_PAYMENTS_CHECKOUT_PAGE_H_

#include <cstdint>

#include "lex/params.h"
#include "store/store.h"
#include "xrpc/call.h"

namespace atipay::payments {

inline constexpr char kCheckoutPath[] = "/checkout";

// 200 with the cart; 400 without a `cart` parameter; 404 for anything that is not a cart we
// hold. Every value shown is HTML-escaped. The link back is the cart's redirectUrl (the
// `redirect` parameter is not read: the link is anyone's to write), if it is http(s).
xrpc::HttpReply CheckoutPage(store::Store& store, const lex::ParamList& params,
                             std::int64_t now_us);

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_CHECKOUT_PAGE_H_
