// Server configuration: command-line flags, each with an ATIPAY_* environment variable and a
// default that works. Later parts add their settings as a Config field plus one line in
// RegisterFlags() (config.cc).
#ifndef ATIPAY_APP_CONFIG_H_
#define ATIPAY_APP_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrpc/server.h"

namespace atipay::app {

inline constexpr std::uint16_t kDefaultPort = 2585;

struct Config {
  std::string listen = "127.0.0.1:2585";
  std::string db = "atipay.db";
  std::string service_did;  // default: did:web for the listen address
  std::string service_id = "payments";
  std::string service_type = "AtiprotoPaymentService";
  std::string public_url;   // default: http://<listen>
  std::int64_t threads = 0;
  std::int64_t blocking_threads = 4;
  std::int64_t max_body_bytes = 100 * 1024;
  std::int64_t max_header_bytes = 16 * 1024;
  std::int64_t max_connections = 10000;
  std::int64_t max_json_depth = 1024;
  std::int64_t header_timeout_ms = 10000;
  std::int64_t body_timeout_ms = 30000;
  std::int64_t idle_timeout_ms = 5000;
  std::int64_t shutdown_timeout_ms = 10000;
  bool validate_output = true;
  bool cors = true;
  std::string access_log = "-";
  // Rate limits: "POINTS/SECONDS" or "off"; per-method ones "NSID=POINTS/SECONDS,...".
  std::string rate_limit_global = "off";
  std::string rate_limit_caller = "3000/300";
  std::string rate_limit_methods;
  bool trust_x_forwarded_for = false;
  // Service auth and identity.
  std::string plc_url = "https://plc.directory";
  std::string dev_did_dir;
  bool dev_allow_http_did_web = false;
  std::int64_t auth_clock_skew = 30;
  std::int64_t auth_max_token_lifetime = 300;
  std::int64_t did_resolve_timeout_ms = 5000;
  std::int64_t auth_replay_cache_size = 4'000'000;
  std::int64_t auth_replay_per_issuer = 50'000;
  std::int64_t auth_max_waiting = 256;  // calls waiting for a DID resolution at once, per lane
  std::int64_t auth_max_waiting_per_address = 64;  // of those, from one client address
  // Carts, workflows and the store.
  std::int64_t cart_ttl = 604800;
  std::int64_t sweep_interval = 30;
  std::int64_t workflow_ttl = 3600;
  std::int64_t max_cart_lines = 100;
  std::string checkout_url;  // default: <public-url>/checkout
  std::string db_synchronous = "FULL";
  bool help = false;

  // Derived from `listen` by LoadConfig.
  std::string host;
  std::uint16_t port = kDefaultPort;
};

using GetEnv = std::function<const char*(const char*)>;

// A table of flags. Each flag --some-name also reads ATIPAY_SOME_NAME; a flag on the command
// line wins over the environment, which wins over the default (the target's value at
// registration). Accepted forms: --name value, --name=value; booleans also --name, --no-name.
class FlagSet {
 public:
  void String(std::string name, std::string value_name, std::string help, std::string* target);
  void Int(std::string name, std::string help, std::int64_t* target, std::int64_t min,
           std::int64_t max);
  void Bool(std::string name, std::string help, bool* target);

  // Returns an error message on a bad flag or value.
  std::optional<std::string> Parse(const std::vector<std::string>& args, const GetEnv& getenv);
  std::string Help(std::string_view program) const;

  static std::string EnvName(std::string_view flag);

 private:
  enum class Kind { kString, kInt, kBool };
  struct Flag {
    std::string name;
    std::string value_name;
    std::string help;
    Kind kind;
    void* target;
    std::int64_t min = 0;
    std::int64_t max = 0;
    std::string default_text;
  };
  std::optional<std::string> Set(const Flag& flag, std::string_view value, std::string_view from);
  const Flag* Find(std::string_view name) const;

  std::vector<Flag> flags_;
};

// Every flag of the server, bound to `config`'s fields.
void RegisterFlags(FlagSet& flags, Config& config);

// Flags and environment into `config`, then derived defaults. Returns an error message.
// With port 0 the defaults that name the address (service DID, public and checkout URLs) wait
// for ApplyBoundPort.
std::optional<std::string> LoadConfig(const std::vector<std::string>& args, Config& config,
                                      const GetEnv& getenv, std::string* help_text = nullptr);

// "host:port", "[v6]:port" or ":port".
std::optional<std::string> ParseHostPort(std::string_view text, std::string& host,
                                         std::uint16_t& port);

// Fills the address-derived defaults still unset with the port actually bound.
void ApplyBoundPort(Config& config, std::uint16_t port);

// The --rate-limit-* flags; an error message when one is malformed.
std::optional<std::string> ParseRateLimits(const Config& config, xrpc::RateLimitOptions& out);

xrpc::ServerOptions ToServerOptions(const Config& config);

}  // namespace atipay::app

#endif  // ATIPAY_APP_CONFIG_H_
