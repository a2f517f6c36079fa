// atipay-e2e-probe-server: atipay-server's configuration, service auth and process (the same
// app::RunServer), serving one method that requires service auth and
// answers with what the verifier accepted (no store, no payment methods):
//
//   dev.atipay.e2e.whoami (query) -> {"did", "iss", "lxm", "jti", "iat", "exp", "alg",
//                                      "jwtHeader", "jwtPayload"}
//
// The end-to-end auth test proxies a call to it through a real PDS: a 200 from this method
// proves the PDS's service JWT passed atipay's verifier (signature against the caller's key at
// the local PLC, aud, lxm, exp/iat, replay cache). jwtHeader/jwtPayload are the token's first
// two segments (base64url, no signature) so the test can show what the PDS minted.
// Test only: never built into the product.
#include <any>
#include <memory>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "app/run.h"
#include "auth/verifier.h"
#include "lex/method.h"

namespace {

constexpr atipay::lex::MethodDescriptor kWhoami{
    .nsid = "dev.atipay.e2e.whoami",
    .kind = atipay::lex::MethodKind::kQuery,
    .params = {},
    .input = std::nullopt,
    .output = atipay::lex::BodyDescriptor{"application/json", false},
    .errors = {},
};

void Whoami(const atipay::xrpc::CallPtr& call) {
  call->Authenticate([call](atipay::xrpc::AuthContext auth) {
    boost::json::object out;
    out["did"] = auth.did;
    if (const auto* caller = std::any_cast<atipay::auth::VerifiedCaller>(&auth.details)) {
      out["iss"] = caller->iss;
      out["lxm"] = caller->lxm;
      out["jti"] = caller->jti;
      out["iat"] = caller->iat;
      out["exp"] = caller->exp;
      out["alg"] = caller->alg == atipay::auth::Curve::kSecp256k1 ? "ES256K" : "ES256";
    }
    std::string_view authorization = call->info().Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.starts_with(kBearer)) {
      std::string_view token = authorization.substr(kBearer.size());
      auto first = token.find('.');
      auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
      if (second != std::string_view::npos) {
        out["jwtHeader"] = token.substr(0, first);
        out["jwtPayload"] = token.substr(first + 1, second - first - 1);
      }
    }
    call->SendJson(out);
  });
}

}  // namespace

int main(int argc, char** argv) {
  return atipay::app::RunServer(
      "atipay-e2e-probe-server", argc, argv,
      [](atipay::xrpc::Router& router, const atipay::app::Config&,
         std::shared_ptr<void>*) -> std::optional<std::string> {
        router.AddUntyped(kWhoami, {.auth = atipay::xrpc::AuthPolicy::kRequired}, Whoami);
        return std::nullopt;
      });
}
