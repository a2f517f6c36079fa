#include "payments/checkout_page.h"

#include <string>
#include <string_view>

#include "lex/formats.h"
#include "payments/records.h"

namespace atipay::payments {
namespace {

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Amounts are in cents (the lexicons say so): 1234 USD -> "12.34 USD". Not escaped.
std::string Money(std::int64_t cents, std::string_view currency) {
  const bool negative = cents < 0;
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(cents)
                                     : static_cast<std::uint64_t>(cents);
  std::string fraction = std::to_string(magnitude % 100);
  if (fraction.size() < 2) fraction.insert(0, "0");
  return std::string(negative ? "-" : "") + std::to_string(magnitude / 100) + "." + fraction +
         " " + std::string(currency);
}

std::string_view Param(const lex::ParamList& params, std::string_view key) {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return {};
}

xrpc::HttpReply Page(int status, std::string_view title, const std::string& body) {
  xrpc::HttpReply reply;
  reply.status = status;
  reply.content_type = "text/html; charset=utf-8";
  reply.body = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<title>" + Escape(title) + "</title>"
               "<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;"
               "padding:0 1em}td{padding:.2em 1em .2em 0}code{word-break:break-all}</style>"
               "</head><body>\n" + body + "</body></html>\n";
  // A page that shows money: never cached, never framed, no scripts, no referrer.
  reply.headers = {{"Cache-Control", "no-store"},
                   {"Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"},
                   {"X-Content-Type-Options", "nosniff"},
                   {"Referrer-Policy", "no-referrer"}};
  return reply;
}

std::string LineKind(std::string_view collection) {
  if (collection == store::kItemCollection) return "Item";
  if (collection == store::kSubscriptionCollection) return "Subscription";
  return Escape(collection);
}

}  // namespace

xrpc::HttpReply CheckoutPage(store::Store& store, const lex::ParamList& params,
                             std::int64_t now_us) {
  std::string_view uri = Param(params, "cart");
  if (uri.empty()) {
    return Page(400, "Checkout", "<h1>No cart</h1>\n<p>This link names no cart (<code>?cart=</code>"
                                 " is missing).</p>\n");
  }
  auto parts = lex::ParseAtUri(uri);
  std::optional<CartAndLines> snapshot;
  store::Status failure;
  if (parts && parts->collection == store::kCartCollection) {
    if (auto row = store.GetRecord(uri, &failure);
        row && row->collection == store::kCartCollection) {
      snapshot = ReadCartAndLines(store, *row, &failure);
    }
  }
  if (!failure.ok()) {
    return Page(503, "Checkout",
                "<h1>Try again shortly</h1>\n<p>The cart could not be read just now.</p>\n");
  }
  if (!snapshot) {
    return Page(404, "Checkout",
                "<h1>No such cart</h1>\n<p>There is no cart <code>" + Escape(uri) + "</code>.</p>\n");
  }
  const store::RecordRow& cart = snapshot->cart;

  const std::string status = EffectiveStatus(cart, now_us);
  const std::string total = Money(cart.amount, cart.currency);
  const std::string total_html = Escape(total);
  std::string body = "<h1>" + total_html + "</h1>\n";
  if (status == "open") {
    body += "<p><strong>Waiting for payment.</strong> This service records payments by hand: "
            "once the operator has received " + total_html + " for this cart, they mark it paid and "
            "this page says so.";
    if (cart.expires_at_us > 0) {
      body += " The cart stays open until " + FormatDatetime(cart.expires_at_us) + ".";
    }
    body += "</p>\n";
  } else if (status == "completed") {
    body += "<p><strong>Paid.</strong>";
    if (cart.completed_at_us > 0) body += " Recorded " + FormatDatetime(cart.completed_at_us) + ".";
    body += " Thank you.</p>\n";
  } else if (status == "expired") {
    body += "<p><strong>Expired</strong>";
    if (cart.expires_at_us > 0) body += " " + FormatDatetime(cart.expires_at_us);
    body += " without payment. A new checkout link comes from a copy of this cart "
            "(<code>com.atiproto.payment.cart.clone</code>).</p>\n";
  } else {
    body += "<p>Status: <strong>" + Escape(status) + "</strong>.</p>\n";
  }

  const std::vector<store::RecordRow>& lines = snapshot->lines;
  if (!lines.empty()) {
    body += "<table>\n";
    for (const auto& line : lines) {
      body += "<tr><td>" + LineKind(line.collection) + "</td><td>" +
              Escape(Money(line.amount, line.currency)) + "</td><td>" +
              Escape(EffectiveStatus(line, now_us)) + "</td></tr>\n";
    }
    body += "</table>\n";
  }
  body += "<p>Cart <code>" + Escape(cart.uri) + "</code></p>\n";

  // The return link is the cart's own redirectUrl, never the link's `redirect` parameter:
  // anyone can write a checkout link for someone's cart, and this page must not lend its
  // name to a link of theirs.
  const std::string& redirect = cart.redirect_url;
  if (redirect.starts_with("https://") || redirect.starts_with("http://")) {
    body += "<p><a href=\"" + Escape(redirect) + "\">Return to the shop</a></p>\n";
  }
  return Page(200, "Checkout: " + total, body);
}

}  // namespace atipay::payments
