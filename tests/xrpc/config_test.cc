// atipay-server configuration: flags, ATIPAY_* environment variables, defaults.
#include <gtest/gtest.h>

#include <map>

#include "app/config.h"

namespace atipay::app {
namespace {

GetEnv Env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> const char* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

TEST(AppConfig, DefaultsWork) {
  Config config;
  ASSERT_FALSE(LoadConfig({}, config, Env({})));
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 2585);
  EXPECT_EQ(config.service_did, "did:web:127.0.0.1%3A2585");
  EXPECT_EQ(config.public_url, "http://127.0.0.1:2585");
  EXPECT_EQ(config.db, "atipay.db");
  EXPECT_TRUE(config.validate_output);
  auto options = ToServerOptions(config);
  EXPECT_EQ(options.max_body_bytes, 102400u);
  EXPECT_EQ(options.service_id, "payments");
}

TEST(AppConfig, FlagsBeatEnvironmentBeatsDefaults) {
  Config config;
  auto error = LoadConfig({"--listen", "0.0.0.0:8080", "--db=/tmp/x.db", "--no-validate-output",
                           "--threads", "3"},
                          config,
                          Env({{"ATIPAY_LISTEN", "127.0.0.1:9"},
                               {"ATIPAY_SERVICE_DID", "did:web:pay.example.com"},
                               {"ATIPAY_PUBLIC_URL", "https://pay.example.com"},
                               {"ATIPAY_THREADS", "7"}}));
  ASSERT_FALSE(error) << *error;
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 8080);
  EXPECT_EQ(config.db, "/tmp/x.db");
  EXPECT_FALSE(config.validate_output);
  EXPECT_EQ(config.threads, 3);
  EXPECT_EQ(config.service_did, "did:web:pay.example.com");
  EXPECT_EQ(config.public_url, "https://pay.example.com");
}

TEST(AppConfig, DerivedDidFollowsTheListenAddress) {
  Config config;
  ASSERT_FALSE(LoadConfig({"--listen=localhost:8787"}, config, Env({})));
  EXPECT_EQ(config.service_did, "did:web:localhost%3A8787");
  EXPECT_EQ(config.public_url, "http://localhost:8787");
  Config v6;
  ASSERT_FALSE(LoadConfig({"--listen", "[::1]:2585", "--service-did", "did:web:pay.example.com"},
                          v6, Env({})));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.public_url, "http://[::1]:2585");
  // did:web cannot spell an IPv6 literal ("did:web:[%3A%3A1]%3A2585" is not a DID): the
  // operator names the service.
  Config v6_without_did;
  auto error = LoadConfig({"--listen", "[::1]:2585"}, v6_without_did, Env({}));
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("--service-did"), std::string::npos) << *error;
  Config no_host;
  ASSERT_FALSE(LoadConfig({"--listen", ":2586"}, no_host, Env({})));
  EXPECT_EQ(no_host.service_did, "did:web:127.0.0.1%3A2586");
}

// With port 0 the DID (every token's aud) and the URLs wait for the port the system picks.
TEST(AppConfig, PortZeroDerivesFromTheBoundPort) {
  Config config;
  ASSERT_FALSE(LoadConfig({"--listen", "127.0.0.1:0"}, config, Env({})));
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.service_did, "");
  EXPECT_EQ(config.public_url, "");
  ApplyBoundPort(config, 41234);
  EXPECT_EQ(config.service_did, "did:web:127.0.0.1%3A41234");
  EXPECT_EQ(config.public_url, "http://127.0.0.1:41234");
  EXPECT_EQ(config.checkout_url, "http://127.0.0.1:41234/checkout");

  // What was given is kept.
  Config given;
  ASSERT_FALSE(LoadConfig({"--listen", "[::1]:0", "--service-did", "did:web:pay.example.com",
                           "--checkout-url", "https://pay.example.com/c"},
                          given, Env({})));
  ApplyBoundPort(given, 41235);
  EXPECT_EQ(given.service_did, "did:web:pay.example.com");
  EXPECT_EQ(given.public_url, "http://[::1]:41235");
  EXPECT_EQ(given.checkout_url, "https://pay.example.com/c");
}

TEST(AppConfig, Errors) {
  Config a;
  EXPECT_TRUE(LoadConfig({"--nope"}, a, Env({})));
  Config b;
  EXPECT_TRUE(LoadConfig({"--listen", "127.0.0.1"}, b, Env({})));
  Config c;
  EXPECT_TRUE(LoadConfig({"--listen", "127.0.0.1:99999"}, c, Env({})));
  Config d;
  EXPECT_TRUE(LoadConfig({"--threads", "x"}, d, Env({})));
  Config e;
  EXPECT_TRUE(LoadConfig({"--db"}, e, Env({})));
  Config f;
  EXPECT_TRUE(LoadConfig({}, f, Env({{"ATIPAY_VALIDATE_OUTPUT", "maybe"}})));
  // Every token's aud is compared with it: a typo would refuse every call.
  for (const char* not_a_did :
       {"pay.example.com", "did:web:", "did:web:pay.example.com#payments", "web:pay.example.com"}) {
    Config bad;
    EXPECT_TRUE(LoadConfig({"--service-did", not_a_did}, bad, Env({}))) << not_a_did;
  }
  // Every checkoutUrl is built on --checkout-url and must be a `uri`, or every create would
  // answer 500; a PDS puts /xrpc/<nsid> after --public-url.
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--public-url", "pay.example.com"},
           {"--public-url", "https://"},
           {"--public-url", "https:///xrpc"},
           {"--public-url", "ftp://pay.example.com"},
           {"--public-url", "https://pay.example.com/?x=1"},
           {"--public-url", "https://pay example.com"},
           {"--checkout-url", "/checkout"},
           {"--checkout-url", "https://pay.example.com/checkout#top"},
           {"--checkout-url", "javascript:alert(1)"},
           {"--service-id", ""},
           {"--service-id", "pay#ments"},
           {"--service-id", "pay ments"}}) {
    Config bad_url;
    auto error = LoadConfig(bad, bad_url, Env({}));
    ASSERT_TRUE(error) << bad[0] << " " << bad[1];
    EXPECT_NE(error->find(bad[0]), std::string::npos) << *error;
  }
  Config urls;
  ASSERT_FALSE(LoadConfig({"--public-url", "https://pay.example.com/atipay/", "--checkout-url",
                           "https://shop.example/pay?provider=atipay", "--service-id",
                           "atiproto_pay-1"},
                          urls, Env({})));
  // An empty variable is no setting: the default stands.
  Config empty_env;
  ASSERT_FALSE(LoadConfig({}, empty_env, Env({{"ATIPAY_PUBLIC_URL", ""}})));
  EXPECT_EQ(empty_env.public_url, "http://127.0.0.1:2585");
  // A cart's lines and the cart itself must fit in one clone's workflow (9 rounds of 50).
  Config g;
  EXPECT_TRUE(LoadConfig({"--max-cart-lines", "450"}, g, Env({})));
  Config h;
  EXPECT_FALSE(LoadConfig({"--max-cart-lines", "449"}, h, Env({})));
  EXPECT_EQ(h.max_cart_lines, 449);
}

TEST(AppConfig, RateLimits) {
  Config defaults;
  ASSERT_FALSE(LoadConfig({}, defaults, Env({})));
  auto options = ToServerOptions(defaults);
  EXPECT_EQ(options.rate_limits.per_caller.points, 3000u);
  EXPECT_EQ(options.rate_limits.per_caller.window, std::chrono::seconds(300));
  EXPECT_FALSE(options.rate_limits.global.enabled());
  EXPECT_TRUE(options.rate_limits.per_method.empty());

  Config set;
  ASSERT_FALSE(LoadConfig({"--rate-limit-global=600/60",
                           "--rate-limit-methods",
                           "com.atiproto.payment.cart.clone=10/60,com.atiproto.cart.get=off"},
                          set, Env({{"ATIPAY_RATE_LIMIT_CALLER", "off"}})));
  options = ToServerOptions(set);
  EXPECT_FALSE(options.rate_limits.per_caller.enabled());
  EXPECT_EQ(options.rate_limits.global.points, 600u);
  ASSERT_EQ(options.rate_limits.per_method.size(), 2u);
  EXPECT_EQ(options.rate_limits.per_method[0].first, "com.atiproto.payment.cart.clone");
  EXPECT_EQ(options.rate_limits.per_method[0].second.points, 10u);
  EXPECT_FALSE(options.rate_limits.per_method[1].second.enabled());

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--rate-limit-caller=10"},
           {"--rate-limit-global=0/60"},
           {"--rate-limit-methods=nsid=1/1"},
           {"--rate-limit-methods=com.example.x"},
           {"--rate-limit-methods=com.example.x=1/1,"}}) {
    Config c;
    auto error = LoadConfig(bad, c, Env({}));
    ASSERT_TRUE(error) << bad[0];
    EXPECT_NE(error->find("--rate-limit-"), std::string::npos) << *error;
  }
}

TEST(AppConfig, HelpListsEveryFlagAndItsVariable) {
  Config config;
  std::string help;
  ASSERT_FALSE(LoadConfig({"--help"}, config, Env({}), &help));
  EXPECT_TRUE(config.help);
  for (const char* text : {"--listen HOST:PORT", "ATIPAY_LISTEN", "--db PATH", "--service-did DID",
                           "--public-url URL", "ATIPAY_PUBLIC_URL", "--no-validate-output"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace atipay::app

namespace atipay::app {
namespace {

TEST(AppConfig, ServiceAuthSettings) {
  Config config;
  ASSERT_FALSE(LoadConfig({}, config, Env({})));
  EXPECT_EQ(config.plc_url, "https://plc.directory");
  EXPECT_TRUE(config.dev_did_dir.empty());
  EXPECT_FALSE(config.dev_allow_http_did_web);
  EXPECT_EQ(config.auth_clock_skew, 30);
  EXPECT_EQ(config.auth_replay_cache_size, 4'000'000);
  EXPECT_EQ(config.auth_max_waiting, 256);
  EXPECT_EQ(config.auth_max_waiting_per_address, 64);

  Config custom;
  ASSERT_FALSE(LoadConfig({"--plc-url", "http://127.0.0.1:2582", "--dev-allow-http-did-web",
                           "--auth-max-token-lifetime=120", "--auth-replay-cache-size=5000",
                           "--auth-max-waiting-per-address", "8"},
                          custom, Env({{"ATIPAY_DEV_DID_DIR", "/tmp/dids"}})));
  EXPECT_EQ(custom.plc_url, "http://127.0.0.1:2582");
  EXPECT_EQ(custom.dev_did_dir, "/tmp/dids");
  EXPECT_TRUE(custom.dev_allow_http_did_web);
  EXPECT_EQ(custom.auth_max_token_lifetime, 120);
  EXPECT_EQ(custom.auth_replay_cache_size, 5000);
  EXPECT_EQ(custom.auth_max_waiting_per_address, 8);

  Config bad;
  EXPECT_TRUE(LoadConfig({"--auth-clock-skew", "-1"}, bad, Env({})));
  EXPECT_TRUE(LoadConfig({"--auth-replay-cache-size", "10"}, bad, Env({})));
  EXPECT_TRUE(LoadConfig({"--auth-max-waiting-per-address", "0"}, bad, Env({})));
}

}  // namespace
}  // namespace atipay::app
