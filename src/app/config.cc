#include "app/config.h"

#include <algorithm>
#include <charconv>

#include "lex/formats.h"
#include "workflow/workflow.h"
#include "xrpc/wire.h"

namespace atipay::app {

void FlagSet::String(std::string name, std::string value_name, std::string help,
                     std::string* target) {
  flags_.push_back({std::move(name), std::move(value_name), std::move(help), Kind::kString,
                    target, 0, 0, *target});
}

void FlagSet::Int(std::string name, std::string help, std::int64_t* target, std::int64_t min,
                  std::int64_t max) {
  flags_.push_back({std::move(name), "N", std::move(help), Kind::kInt, target, min, max,
                    std::to_string(*target)});
}

void FlagSet::Bool(std::string name, std::string help, bool* target) {
  flags_.push_back({std::move(name), "", std::move(help), Kind::kBool, target, 0, 0,
                    *target ? "true" : "false"});
}

std::string FlagSet::EnvName(std::string_view flag) {
  std::string env = "ATIPAY_";
  for (char c : flag) {
    env.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
  }
  return env;
}

const FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::optional<std::string> FlagSet::Set(const Flag& flag, std::string_view value,
                                        std::string_view from) {
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = std::string(value);
      return std::nullopt;
    case Kind::kInt: {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < flag.min ||
          n > flag.max) {
        return std::string(from) + ": expected an integer in [" + std::to_string(flag.min) +
               ", " + std::to_string(flag.max) + "], got \"" + std::string(value) + "\"";
      }
      *static_cast<std::int64_t*>(flag.target) = n;
      return std::nullopt;
    }
    case Kind::kBool:
      if (value == "true" || value == "1" || value == "yes" || value == "on") {
        *static_cast<bool*>(flag.target) = true;
      } else if (value == "false" || value == "0" || value == "no" || value == "off") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return std::string(from) + ": expected true or false, got \"" + std::string(value) + "\"";
      }
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> FlagSet::Parse(const std::vector<std::string>& args,
                                          const GetEnv& getenv) {
  for (const Flag& flag : flags_) {
    std::string env = EnvName(flag.name);
    const char* value = getenv ? getenv(env.c_str()) : nullptr;
    if (value != nullptr && *value != '\0') {
      if (auto error = Set(flag, value, env)) return error;
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.substr(0, 2) != "--") return "unexpected argument \"" + std::string(arg) + "\"";
    arg.remove_prefix(2);
    std::optional<std::string_view> inline_value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const Flag* flag = Find(arg);
    if (flag == nullptr && arg.substr(0, 3) == "no-" && !inline_value) {
      const Flag* negated = Find(arg.substr(3));
      if (negated != nullptr && negated->kind == Kind::kBool) {
        *static_cast<bool*>(negated->target) = false;
        continue;
      }
    }
    if (flag == nullptr) return "unknown flag --" + std::string(arg) + " (see --help)";
    std::string from = "--" + flag->name;
    if (flag->kind == Kind::kBool && !inline_value) {
      *static_cast<bool*>(flag->target) = true;
      continue;
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return from + " needs a value";
    }
    if (auto error = Set(*flag, value, from)) return error;
  }
  return std::nullopt;
}

std::string FlagSet::Help(std::string_view program) const {
  std::string out = "Usage: " + std::string(program) + " [flags]\n\nFlags (environment variable, default):\n";
  for (const Flag& flag : flags_) {
    std::string left = "  --" + flag.name;
    if (flag.name == "help") {
      out += left + "\n      " + flag.help + "\n";
      continue;
    }
    if (flag.kind == Kind::kBool) {
      left += ", --no-" + flag.name;
    } else {
      left += " " + flag.value_name;
    }
    // No default text: derived where the help says how ("Default: ..."), else none.
    std::string default_text = flag.default_text;
    if (default_text.empty()) {
      const bool derived = flag.help.find("Default:") != std::string::npos;
      default_text = derived ? "(derived, see above)" : "none";
    }
    out += left + "\n      " + flag.help + "\n      env " + EnvName(flag.name) + ", default " +
           default_text + "\n";
  }
  return out;
}

void RegisterFlags(FlagSet& flags, Config& c) {
  flags.Bool("help", "Print this help and exit.", &c.help);
  flags.String("listen", "HOST:PORT", "Address to listen on (127.0.0.1 keeps it on loopback).",
               &c.listen);
  flags.String("db", "PATH", "SQLite database file.", &c.db);
  flags.String("service-did", "DID",
               "The service's own DID, served in /.well-known/did.json. Default: did:web of the "
               "listen address, e.g. did:web:127.0.0.1%3A2585.",
               &c.service_did);
  flags.String("service-id", "ID",
               "Service entry id in the DID document (without '#'); clients name it in "
               "atproto-proxy: <did>#<id>.",
               &c.service_id);
  flags.String("service-type", "TYPE", "Service entry type in the DID document.", &c.service_type);
  flags.String("public-url", "URL",
               "serviceEndpoint written into did.json (how a PDS reaches us). Default: "
               "http://<listen>.",
               &c.public_url);
  flags.Int("threads", "Event-loop threads; 0 = one per core.", &c.threads, 0, 1024);
  flags.Int("blocking-threads",
            "Threads that run the methods' handlers (reads, planning); commits run on the "
            "store's writer thread.",
            &c.blocking_threads, 1, 1024);
  flags.Int("max-body-bytes", "Largest request body; larger ones get 413.", &c.max_body_bytes, 0,
            std::int64_t{1} << 32);
  flags.Int("max-header-bytes", "Largest request header block; larger ones get 431.",
            &c.max_header_bytes, 512, 1 << 20);
  flags.Int("max-connections", "Open connections at most; more are closed at once.",
            &c.max_connections, 1, 1 << 24);
  flags.Int("max-json-depth", "Deepest JSON nesting accepted in a request body.",
            &c.max_json_depth, 16, 100000);
  flags.Int("header-timeout-ms", "Time allowed from a request's first byte to its last header.",
            &c.header_timeout_ms, 1, 3600000);
  flags.Int("body-timeout-ms", "Time allowed to receive a request body.", &c.body_timeout_ms, 1,
            3600000);
  flags.Int("idle-timeout-ms", "Keep-alive: how long an idle connection stays open.",
            &c.idle_timeout_ms, 1, 3600000);
  flags.Int("shutdown-timeout-ms",
            "On SIGINT/SIGTERM: how long in-flight requests may run before connections close.",
            &c.shutdown_timeout_ms, 0, 3600000);
  flags.Bool("validate-output", "Validate handler output against the lexicon (500 if invalid).",
             &c.validate_output);
  flags.Bool("cors", "Answer CORS preflights and allow any origin.", &c.cors);
  flags.String("rate-limit-caller", "POINTS/SECONDS",
               "Calls each caller (a DID; an address when anonymous) may make to all methods "
               "together per window, as in 3000/300; beyond, 429 RateLimitExceeded. 'off': none.",
               &c.rate_limit_caller);
  flags.String("rate-limit-methods", "NSID=POINTS/SECONDS,...",
               "Per-method limits per caller, on top of --rate-limit-caller.",
               &c.rate_limit_methods);
  flags.Bool("trust-x-forwarded-for",
             "Behind one reverse proxy: the client's address (rate limits, access log) is the "
             "last X-Forwarded-For entry, the one the proxy added.",
             &c.trust_x_forwarded_for);
  flags.String("rate-limit-global", "POINTS/SECONDS",
               "Requests per client address per window, before routing. Off by default: a "
               "PDS proxies many users from one address.",
               &c.rate_limit_global);
  flags.String("plc-url", "URL",
               "PLC directory for did:plc (plain http only for loopback hosts).", &c.plc_url);
  flags.String("dev-did-dir", "DIR",
               "Dev only: trust DID documents in DIR/<did>.json (see atipay-mint-token).",
               &c.dev_did_dir);
  flags.Bool("dev-allow-http-did-web",
             "Dev only: resolve did:web on loopback hosts over plain http.",
             &c.dev_allow_http_did_web);
  flags.Int("auth-clock-skew", "Seconds of clock difference tolerated on exp, iat and nbf.",
            &c.auth_clock_skew, 0, 3600);
  flags.Int("auth-max-token-lifetime", "Longest accepted service-token lifetime, in seconds.",
            &c.auth_max_token_lifetime, 1, 86400);
  flags.Int("auth-replay-cache-size",
            "Unexpired token ids remembered to refuse replays (<= 52 bytes each). When it is "
            "full of unexpired ids, new tokens get 503 NotEnoughResources rather than risk a "
            "replay. 4,000,000 covers 10,000 tokens/s at the longest lifetime.",
            &c.auth_replay_cache_size, 1024, std::int64_t{1} << 32);
  flags.Int("auth-replay-per-issuer",
            "Of those, most one caller (issuer DID) may hold; beyond, that caller gets 429 "
            "RateLimitExceeded until its tokens expire, and no one else is locked out. 0: no "
            "bound.",
            &c.auth_replay_per_issuer, 0, std::int64_t{1} << 32);
  flags.Int("auth-max-waiting",
            "Calls waiting at once for their caller's DID to be resolved, did:plc and did:web "
            "each; beyond, 503 NotEnoughResources (tokens need no valid signature to make us "
            "resolve).",
            &c.auth_max_waiting, 1, 1000000);
  flags.Int("auth-max-waiting-per-address",
            "Of those, most from one client address (a PDS proxies many users from one); "
            "beyond, 503 NotEnoughResources for that address alone.",
            &c.auth_max_waiting_per_address, 1, 1000000);
  flags.Int("did-resolve-timeout-ms", "Time allowed for one DID document fetch.",
            &c.did_resolve_timeout_ms, 1, 600000);
  flags.Int("cart-ttl", "Seconds a new or cloned cart stays open before it expires.",
            &c.cart_ttl, 1, std::int64_t{10} * 365 * 86400);
  flags.Int("sweep-interval", "Seconds between sweeps that expire carts and old workflows.",
            &c.sweep_interval, 1, 86400);
  flags.Int("workflow-ttl", "Seconds a workflow waits for its callbacks (and replays them).",
            &c.workflow_ttl, 1, 7 * 86400);
  // A clone writes every line, then the cart, in one workflow: a longer cart could be filled
  // one create at a time but never cloned (WorkflowTooLarge).
  const workflow::Options limits;
  const std::int64_t clone_writes =
      static_cast<std::int64_t>(limits.max_writes_per_round) * limits.max_rounds;
  flags.Int("max-cart-lines", "Items and subscriptions per cart at most.", &c.max_cart_lines, 1,
            clone_writes - 1);
  flags.String("checkout-url", "URL",
               "Base of checkout URLs (?cart=<uri>&redirect=<url> is appended). Default: "
               "<public-url>/checkout.",
               &c.checkout_url);
  flags.String("db-synchronous", "FULL|NORMAL",
               "SQLite synchronous level. FULL (default) keeps every acknowledged write "
               "through a power loss; NORMAL may lose the last ones.",
               &c.db_synchronous);
  flags.String("access-log", "PATH", "Access log: '-' for stdout, 'off', or a file.",
               &c.access_log);
}

std::optional<std::string> ParseHostPort(std::string_view text, std::string& host,
                                         std::uint16_t& port) {
  std::size_t colon;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return "bad listen address \"" + std::string(text) + "\" (want [v6]:PORT)";
    }
    host = std::string(text.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return "bad listen address \"" + std::string(text) + "\" (want HOST:PORT)";
    }
    host = std::string(text.substr(0, colon));
  }
  if (host.empty()) host = "127.0.0.1";
  std::string_view port_text = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      value > 65535) {
    return "bad port in listen address \"" + std::string(text) + "\"";
  }
  port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

namespace {

// An absolute http(s) URL with a host, in the lexicons' `uri` format, without a fragment (and,
// unless `query` allows one, without a query): what goes into every checkoutUrl, and the
// serviceEndpoint a PDS puts /xrpc/<nsid> after. A typo would otherwise start a server that
// fails every call (an output that breaks its lexicon is a 500) or that no PDS reaches.
std::optional<std::string> CheckHttpUrl(std::string_view flag, const std::string& url,
                                        bool query) {
  std::string_view rest = url;
  const bool http = rest.starts_with("http://") || rest.starts_with("https://");
  if (http) rest.remove_prefix(rest.find("//") + 2);
  const bool has_host = !rest.empty() && rest.find_first_of("/?#") != 0;
  const bool has_query = url.find('?') != std::string::npos;
  if (!http || !has_host || !lex::IsValidUri(url) || url.find('#') != std::string::npos ||
      (has_query && !query)) {
    return "--" + std::string(flag) + " \"" + url + "\" is not an http(s) URL (e.g. " +
           "https://pay.example.com" + (query ? "/checkout" : "") + "; no fragment" +
           (query ? "" : " or query") + ")";
  }
  return std::nullopt;
}

// Unreserved URI characters: the service id is the fragment of our DID in every atproto-proxy
// header and token audience.
bool IsServiceId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> LoadConfig(const std::vector<std::string>& args, Config& config,
                                      const GetEnv& getenv, std::string* help_text) {
  FlagSet flags;
  RegisterFlags(flags, config);
  if (help_text != nullptr) *help_text = flags.Help("atipay-server");
  if (auto error = flags.Parse(args, getenv)) return error;
  if (auto error = ParseHostPort(config.listen, config.host, config.port)) return error;
  if (!config.service_did.empty() && !lex::IsValidDid(config.service_did)) {
    return "--service-did \"" + config.service_did +
           "\" is not a DID (e.g. did:web:pay.example.com)";
  }
  if (config.service_did.empty() && config.host.find(':') != std::string::npos) {
    // did:web names a host by domain or IPv4 address; an IPv6 literal cannot be spelled in it.
    return "--listen on an IPv6 address needs --service-did (did:web cannot name \"" + config.host +
           "\")";
  }
  if (!IsServiceId(config.service_id)) {
    return "--service-id \"" + config.service_id +
           "\" must be 1-64 letters, digits or -._~ (it follows '#' in <did>#<id>)";
  }
  if (!config.public_url.empty()) {
    if (auto error = CheckHttpUrl("public-url", config.public_url, /*query=*/false)) return error;
  }
  if (!config.checkout_url.empty()) {
    if (auto error = CheckHttpUrl("checkout-url", config.checkout_url, /*query=*/true)) {
      return error;
    }
  }
  if (config.port != 0) ApplyBoundPort(config, config.port);
  if (config.db_synchronous != "FULL" && config.db_synchronous != "NORMAL") {
    return "--db-synchronous must be FULL or NORMAL";
  }
  xrpc::RateLimitOptions limits;
  if (auto error = ParseRateLimits(config, limits)) return error;
  return std::nullopt;
}

std::optional<std::string> ParseRateLimits(const Config& config, xrpc::RateLimitOptions& out) {
  auto limit = [](std::string_view flag, std::string_view text,
                  xrpc::RateLimit& target) -> std::optional<std::string> {
    auto parsed = xrpc::RateLimit::Parse(text);
    if (!parsed) {
      return "--" + std::string(flag) + ": \"" + std::string(text) +
             "\" is not POINTS/SECONDS (positive, a window of at most a year) or off";
    }
    target = *parsed;
    return std::nullopt;
  };
  if (auto e = limit("rate-limit-global", config.rate_limit_global, out.global)) return e;
  if (auto e = limit("rate-limit-caller", config.rate_limit_caller, out.per_caller)) return e;
  std::string_view list = config.rate_limit_methods;
  for (std::size_t at = 0; !list.empty() && at <= list.size();) {
    std::size_t comma = std::min(list.find(',', at), list.size());
    std::string_view item = list.substr(at, comma - at);
    at = comma + 1;
    std::size_t equals = item.find('=');
    if (equals == std::string_view::npos || !lex::IsValidNsid(item.substr(0, equals))) {
      return "--rate-limit-methods: \"" + std::string(item) + "\" is not NSID=POINTS/SECONDS";
    }
    xrpc::RateLimit method_limit;
    if (auto e = limit("rate-limit-methods", item.substr(equals + 1), method_limit)) return e;
    out.per_method.emplace_back(std::string(item.substr(0, equals)), method_limit);
  }
  return std::nullopt;
}

void ApplyBoundPort(Config& config, std::uint16_t port) {
  // The listen address as given, with the port that is really listening.
  std::string host = config.listen.substr(0, config.listen.rfind(':'));
  if (host.empty()) host = config.host;
  const std::string authority = host + ":" + std::to_string(port);
  if (config.service_did.empty()) config.service_did = xrpc::DidWebFromHostPort(authority);
  if (config.public_url.empty()) config.public_url = "http://" + authority;
  if (config.checkout_url.empty()) config.checkout_url = config.public_url + "/checkout";
}

xrpc::ServerOptions ToServerOptions(const Config& c) {
  xrpc::ServerOptions o;
  o.host = c.host;
  o.port = c.port;
  o.threads = static_cast<unsigned>(c.threads);
  o.blocking_threads = static_cast<unsigned>(c.blocking_threads);
  o.max_body_bytes = static_cast<std::size_t>(c.max_body_bytes);
  o.max_header_bytes = static_cast<std::size_t>(c.max_header_bytes);
  o.max_connections = static_cast<std::size_t>(c.max_connections);
  o.max_json_depth = static_cast<std::size_t>(c.max_json_depth);
  o.header_timeout = std::chrono::milliseconds(c.header_timeout_ms);
  o.body_timeout = std::chrono::milliseconds(c.body_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(c.idle_timeout_ms);
  o.shutdown_timeout = std::chrono::milliseconds(c.shutdown_timeout_ms);
  o.validate_output = c.validate_output;
  o.cors = c.cors;
  ParseRateLimits(c, o.rate_limits);  // checked by LoadConfig
  o.trust_x_forwarded_for = c.trust_x_forwarded_for;
  o.service_did = c.service_did;
  o.service_id = c.service_id;
  o.service_type = c.service_type;
  o.public_url = c.public_url;
  o.access_log = c.access_log;
  return o;
}

}  // namespace atipay::app
