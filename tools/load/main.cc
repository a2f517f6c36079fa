// atipay-load: the cart-clone benchmark client. Builds one source cart per fresh identity
// through the server (com.atiproto.payment.item.create), waits until the carts are cloneable
// (no longer open), pre-signs service tokens, then has `connections` keep-alive clients run
// com.atiproto.payment.cart.clone, workflow and all, against an in-memory repo each, and
// reports complete clones per second, failures by name, and latency per call and per clone.
//
// The tool stays cheap: everything costly (keys, DID documents, source carts, token
// signatures) happens before the measured window; in the window a thread does one blocking
// keep-alive HTTP exchange at a time and a little JSON. It can be pinned to one core.
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "devid/devid.h"
#include "lex/formats.h"
#include "lex/params.h"

namespace {

namespace json = boost::json;
namespace agent = atipay::agent;
namespace devid = atipay::devid;
using Clock = std::chrono::steady_clock;

constexpr char kClone[] = "com.atiproto.payment.cart.clone";
constexpr char kItemCreate[] = "com.atiproto.payment.item.create";
constexpr char kCartGet[] = "com.atiproto.payment.cart.get";

constexpr char kUsage[] =
    R"USAGE(atipay-load: cart-clone benchmark for an atipay (or any atiproto) server.

Usage:
  atipay-load --url URL --aud DID (--plc-url URL | --did-dir DIR) [options]

  --url URL              the server, e.g. http://127.0.0.1:2585
  --aud DID              the server's DID (its --service-did), the aud of our tokens
  --plc-url URL          register each identity's did:plc on this PLC directory, or
  --did-dir DIR          write each identity's DID document to DIR (server: --dev-did-dir DIR)
  --identities N         fresh k256 identities, one source cart each (default 32)
  --connections N        client threads, one keep-alive connection each (default 32)
  --duration D           measure for D (e.g. 10s, 500ms, 2m; default 10s; at most 7 days), or
  --clones N             run exactly N clones (at most 1,000,000,000)
  --items-per-cart N     items in each source cart (default 2)
  --wait-cloneable D     wait up to D for the source carts to leave status open (default 30s,
                         at most 1 day; 0 skips the wait). Start the server with a short
                         --cart-ttl, or mark the carts paid meanwhile.
  --subject DID          recipient of the source items (default: another load identity)
  --tokens N             service tokens to pre-sign, at most 10,000,000 (default: 3 per clone
                         and one per deep check for --clones, for every identity if that
                         stays under 20,000; 3 x 2000/s x duration otherwise; either way no
                         more than 3 x 2000/s x (token lifetime - 5 s), since a token older
                         than that is not used); more are signed on demand, counted
  --token-lifetime D     exp - iat of the tokens, 10s to 1 day (default 290s; servers accept
                         <= 300s)
  --timeout D            per HTTP request, at most 1 day (default 30s)
  --verify-every N       deep-check every Nth clone's records (default 16); every clone's
                         output is checked for cartUri and the item count
  --pds URL              #atproto_pds endpoint written into the DID documents (irrelevant)
  --json                 print the results as JSON
  --quiet                no progress lines on stderr

Exit status: 0 every clone completed and verified; 1 usage; 2 setup failed (identities,
source carts, carts still open after --wait-cloneable, or the client threads could not all
be started); 4 some clones failed.
)USAGE";

// --- small helpers -----------------------------------------------------------------------------

// Seconds from "10", "10s", "500ms", "2m", "1.5h"; at most `max_s`. Plain decimal numbers only
// (no "inf", "nan", hex or exponent), so every value converts to a clock duration and back.
std::optional<double> ParseDuration(const std::string& text, double max_s) {
  const char* const end = text.data() + text.size();
  double value = 0;
  auto [unit, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  const std::string_view suffix(unit, static_cast<std::size_t>(end - unit));
  if (suffix == "ms") {
    value /= 1000;
  } else if (suffix == "m") {
    value *= 60;
  } else if (suffix == "h") {
    value *= 3600;
  } else if (!suffix.empty() && suffix != "s") {
    return std::nullopt;
  }
  if (value > max_s) return std::nullopt;
  return value;
}

// A whole decimal number in [0, max].
std::optional<long long> ParseCount(const std::string& text, long long max) {
  std::optional<std::int64_t> v = atipay::lex::DecodeIntegerParam(text);
  if (!v || *v < 0 || *v > max) return std::nullopt;
  return *v;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Cores this process may run on (taskset).
int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return std::max(1, CPU_COUNT(&set));
}

// CPU time (user + system) this process has used, in seconds.
double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(usage.ru_utime) + tv(usage.ru_stime);
}

std::string StringAt(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const json::value* f = v.get_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

const json::array* ArrayAt(const json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  const json::value* f = v.get_object().if_contains(key);
  return f != nullptr && f->is_array() ? &f->get_array() : nullptr;
}

// Runs fn(thread, i) for i in [0, n), on at most `threads` threads numbered from 0. When the
// system refuses a thread, those already started share the work (or this one does it all).
void ParallelFor(int n, int threads, const std::function<void(int, int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  threads = std::max(1, std::min(threads, n));
  auto work = [&](int t) {
    for (int i = next++; i < n; i = next++) fn(t, i);
  };
  for (int t = 0; t < threads; ++t) {
    try {
      pool.emplace_back(work, t);
    } catch (const std::system_error&) {
      break;
    }
  }
  if (pool.empty()) work(0);
  for (auto& thread : pool) thread.join();
}

struct Stats {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;  // milliseconds
};

Stats Summarize(std::vector<std::int64_t>& ns) {
  Stats s;
  s.count = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ns.size()))) - 1;
    return static_cast<double>(ns[std::min(i, ns.size() - 1)]) / 1e6;
  };
  s.p50 = at(0.50);
  s.p90 = at(0.90);
  s.p99 = at(0.99);
  s.max = static_cast<double>(ns.back()) / 1e6;
  double sum = 0;
  for (std::int64_t v : ns) sum += static_cast<double>(v);
  s.mean = sum / static_cast<double>(ns.size()) / 1e6;
  return s;
}

// --- tokens ------------------------------------------------------------------------------------

// Pre-signed clone tokens of one identity. Take() is lock-free; when the pool is empty (or a
// token is about to expire) it signs one on the spot and counts it.
class TokenPool {
 public:
  TokenPool(const devid::Identity* identity, std::string aud, std::int64_t lifetime)
      : identity_(identity), aud_(std::move(aud)), lifetime_(lifetime) {}

  void Fill(std::size_t n) {
    tokens_.reserve(n);
    devid::TokenOptions options;
    options.iat = devid::UnixNow();
    options.lifetime_s = lifetime_;
    for (std::size_t i = 0; i < n; ++i) {
      tokens_.push_back(
          {devid::MintToken(*identity_, aud_, kClone, options), options.iat + lifetime_});
    }
  }

  std::string Take(std::string_view nsid) {
    if (nsid == kClone) {
      std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i < tokens_.size()) {
        if (tokens_[i].exp - devid::UnixNow() > 5) return tokens_[i].token;
        expired_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    signed_on_demand_.fetch_add(1, std::memory_order_relaxed);
    devid::TokenOptions options;
    options.lifetime_s = lifetime_;
    return devid::MintToken(*identity_, aud_, std::string(nsid), options);
  }

  std::size_t presigned() const { return tokens_.size(); }
  std::int64_t signed_on_demand() const { return signed_on_demand_; }
  // Of those, the ones signed because the pre-signed token was too old, not because none was
  // left: more tokens would not have helped.
  std::int64_t expired() const { return expired_; }

 private:
  struct Token {
    std::string token;
    std::int64_t exp;
  };
  const devid::Identity* identity_;
  std::string aud_;
  std::int64_t lifetime_;
  std::vector<Token> tokens_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::int64_t> signed_on_demand_{0};
  std::atomic<std::int64_t> expired_{0};
};

// --- per-call timing ---------------------------------------------------------------------------

class TimedCaller : public agent::XrpcCaller {
 public:
  TimedCaller(agent::XrpcCaller& inner, std::vector<std::int64_t>& samples,
              std::map<std::string, std::int64_t>& errors)
      : inner_(inner), samples_(samples), errors_(errors) {}
  agent::XrpcResult Call(std::string_view nsid, bool procedure,
                         const json::object& input) override {
    const auto start = Clock::now();
    agent::XrpcResult r = inner_.Call(nsid, procedure, input);
    samples_.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    if (!r.ok()) ++errors_[std::to_string(r.status) + " " + r.ErrorName()];
    return r;
  }

 private:
  agent::XrpcCaller& inner_;
  std::vector<std::int64_t>& samples_;
  std::map<std::string, std::int64_t>& errors_;
};

// --- setup -------------------------------------------------------------------------------------

struct Source {
  std::optional<devid::Identity> identity;
  std::unique_ptr<TokenPool> tokens;
  std::string cart_uri;
  std::size_t items = 0;          // item lines in the source cart
  std::size_t subscriptions = 0;  // subscription lines
  std::string status;
  std::vector<std::string> line_uris;
};

struct Config {
  std::string url, aud, plc_url, did_dir, subject, pds = "http://localhost:2583";
  int identities = 32, connections = 32, items_per_cart = 2, verify_every = 16;
  double duration_s = 10, wait_s = 30, timeout_s = 30, token_lifetime_s = 290;
  std::optional<long long> clones, tokens;
  bool json = false, quiet = false;
};

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet) {}
  void operator()(const std::string& line) const {
    if (!quiet_) std::cerr << "atipay-load: " << line << "\n";
  }

 private:
  bool quiet_;
};

agent::HttpCallerOptions CallerOptions(const Config& config,
                                       std::function<std::string(std::string_view)> tokens) {
  agent::HttpCallerOptions o;
  o.base_url = config.url;
  o.token_source = std::move(tokens);
  o.request_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(config.timeout_s * 1000));
  o.connect_timeout = std::min(o.request_timeout, std::chrono::milliseconds(5000));
  o.user_agent = "atipay-load";
  return o;
}

// One keep-alive connection per set-up thread, shared by the identities that thread serves:
// polling thousands of source carts with a connection per request would leave as many sockets
// in TIME_WAIT and could run out of local ports.
class SetupCallers {
 public:
  SetupCallers(const Config& config, int threads) : current_(static_cast<std::size_t>(threads)) {
    for (int t = 0; t < threads; ++t) {
      const devid::Identity** current = &current_[static_cast<std::size_t>(t)];
      callers_.push_back(std::make_unique<agent::HttpXrpcCaller>(
          CallerOptions(config, [&config, current](std::string_view nsid) {
            return devid::MintToken(**current, config.aud, std::string(nsid));
          })));
    }
  }
  SetupCallers(const SetupCallers&) = delete;  // the token sources point into current_
  SetupCallers& operator=(const SetupCallers&) = delete;

  // Thread `thread`'s connection, signing as `id` until the next For on that thread.
  agent::XrpcCaller& For(int thread, const devid::Identity& id) {
    current_[static_cast<std::size_t>(thread)] = &id;
    return *callers_[static_cast<std::size_t>(thread)];
  }

 private:
  std::vector<const devid::Identity*> current_;
  std::vector<std::unique_ptr<agent::HttpXrpcCaller>> callers_;
};

// Builds the source cart of one identity; empty string or the error.
std::string BuildSourceCart(const Config& config, Source& source, const std::string& subject,
                            agent::XrpcCaller& caller, agent::MemoryRepo& repo) {
  for (int k = 0; k < config.items_per_cart; ++k) {
    json::object input{{"subject", subject},
                       {"amount", 100 * (k + 1)},
                       {"currency", "USD"},
                       {"message", "atipay-load item " + std::to_string(k)}};
    if (!source.cart_uri.empty()) input["cartUri"] = source.cart_uri;
    agent::RunResult r = agent::RunMethod(caller, repo, kItemCreate, true, input);
    if (!r.ok()) return std::string(kItemCreate) + ": " + r.Describe();
    std::string cart_uri = StringAt(r.output, "cartUri");
    if (cart_uri.empty())
      return std::string(kItemCreate) + " answered without cartUri: " + json::serialize(r.output);
    if (source.cart_uri.empty()) source.cart_uri = cart_uri;
  }
  return {};
}

// cart.get once: fills status and line counts. Empty string or the error.
std::string ReadSourceCart(Source& source, agent::XrpcCaller& caller, agent::MemoryRepo& repo) {
  agent::RunResult r = agent::RunMethod(caller, repo, kCartGet, false, {{"uri", source.cart_uri}});
  if (!r.ok()) return std::string(kCartGet) + ": " + r.Describe();
  const json::value* cart =
      r.output.is_object() ? r.output.get_object().if_contains("cart") : nullptr;
  if (cart == nullptr) return std::string(kCartGet) + " answered without cart";
  source.status = StringAt(*cart, "status");
  source.items = source.subscriptions = 0;
  source.line_uris.clear();
  if (const json::array* lines = ArrayAt(*cart, "items")) {
    for (const json::value& line : *lines) {
      std::string type = StringAt(line, "type");
      if (type == "com.atiproto.subscription") {
        ++source.subscriptions;
      } else {
        ++source.items;
      }
      source.line_uris.push_back(StringAt(line, "recordUri"));
    }
  }
  return {};
}

// --- the measured window -----------------------------------------------------------------------

struct ThreadResult {
  std::vector<std::int64_t> call_ns;
  std::vector<std::int64_t> clone_ns;
  std::map<std::string, std::int64_t> failures;     // per clone, by what went wrong
  std::map<std::string, std::int64_t> call_errors;  // per HTTP call, "<status> <Error>"
  std::int64_t attempted = 0, complete = 0, checked = 0, deep = 0, bad = 0;
  std::int64_t calls = 0;
  std::map<int, std::int64_t> rounds;  // calls per complete clone
  std::string first_bad;
};

// Checks a clone's final output; deep also checks the records this clone wrote.
std::string Verify(const json::value& output, const Source& source, const agent::MemoryRepo& repo,
                   bool deep) {
  const std::string cart_uri = StringAt(output, "cartUri");
  if (cart_uri.empty()) return "no cartUri in the output";
  auto parts = atipay::lex::ParseAtUri(cart_uri);
  if (!parts || parts->authority != source.identity->did ||
      parts->collection != "com.atiproto.cart") {
    return "cartUri " + cart_uri + " is not a cart of the caller";
  }
  if (cart_uri == source.cart_uri) return "cartUri is the source cart";
  const json::array* items = ArrayAt(output, "items");
  const std::size_t item_count = items != nullptr ? items->size() : 0;
  if (item_count != source.items) {
    return "items: " + std::to_string(item_count) + ", source has " + std::to_string(source.items);
  }
  const json::array* subscriptions = ArrayAt(output, "subscriptions");
  const std::size_t sub_count = subscriptions != nullptr ? subscriptions->size() : 0;
  if (sub_count != source.subscriptions) {
    return "subscriptions: " + std::to_string(sub_count) + ", source has " +
           std::to_string(source.subscriptions);
  }
  if (!deep) return {};
  auto cart = repo.Get(cart_uri);
  if (!cart) return "the new cart " + cart_uri + " was never written";
  const json::value* lines = cart->value.if_contains("items");
  if (lines == nullptr || !lines->is_array() ||
      lines->get_array().size() != source.items + source.subscriptions) {
    return "the new cart record does not list " +
           std::to_string(source.items + source.subscriptions) + " lines";
  }
  for (const json::value& line : lines->get_array()) {
    std::string uri = StringAt(line, "recordUri");
    if (std::find(source.line_uris.begin(), source.line_uris.end(), uri) !=
        source.line_uris.end()) {
      return "the new cart points at a source record " + uri;
    }
    if (!repo.Get(uri)) return "the new cart points at " + uri + ", which was never written";
  }
  if (StringAt(cart->value, "status") != "open") return "the new cart is not open";
  return {};
}

void RunThread(const Config& config, Source& source, std::atomic<long long>& deep_counter,
               std::atomic<long long>& clones_left, const Clock::time_point& deadline,
               std::atomic<int>& ready, std::atomic<bool>& go, ThreadResult& out) {
  agent::HttpXrpcCaller http(CallerOptions(config, [&source](std::string_view nsid) -> std::string {
    if (nsid == "_health") return {};
    return source.tokens->Take(nsid);
  }));
  TimedCaller timed(http, out.call_ns, out.call_errors);
  agent::MemoryRepo repo;
  // Connect before the window: _health needs no token.
  http.Call("_health", false, {});
  ++ready;
  while (!go.load(std::memory_order_acquire)) std::this_thread::yield();

  const json::object input{{"uri", source.cart_uri}};
  for (;;) {
    if (config.clones) {
      if (clones_left.fetch_sub(1, std::memory_order_relaxed) <= 0) break;
    } else if (Clock::now() >= deadline) {
      break;
    }
    ++out.attempted;
    const auto start = Clock::now();
    agent::RunResult r = agent::RunMethod(timed, repo, kClone, true, input);
    const auto elapsed = Clock::now() - start;
    out.calls += r.rounds;
    if (!r.ok()) {
      std::string what;
      switch (r.kind) {
        case agent::RunResult::Kind::kXrpcError:
          what = r.error;
          break;
        case agent::RunResult::Kind::kRaised:
          what = "raised " + r.code.value_or("(no code)");
          break;
        case agent::RunResult::Kind::kMaxRounds:
          what = "MaxRounds";
          break;
        default:
          what = "WorkflowFailed";
          break;
      }
      ++out.failures[what];
      if (out.first_bad.empty()) out.first_bad = r.Describe();
    } else {
      const bool deep =
          config.verify_every > 0 &&
          deep_counter.fetch_add(1, std::memory_order_relaxed) % config.verify_every == 0;
      std::string problem = Verify(r.output, source, repo, deep);
      ++out.checked;
      if (deep) ++out.deep;
      if (!problem.empty()) {
        ++out.bad;
        ++out.failures["Unverified"];
        if (out.first_bad.empty()) out.first_bad = problem + ": " + json::serialize(r.output);
      } else {
        ++out.complete;
        ++out.rounds[r.rounds];
        out.clone_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
      }
    }
    repo.Clear();  // keeps memory flat; every clone writes fresh records
  }
}

// --- output ------------------------------------------------------------------------------------

json::object StatsJson(const Stats& s) {
  return json::object{{"count", s.count}, {"mean_ms", s.mean}, {"p50_ms", s.p50},
                      {"p90_ms", s.p90},  {"p99_ms", s.p99},   {"max_ms", s.max}};
}

std::string Fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

int Run(const Config& config) {
  Progress progress(config.quiet);
  json::object setup_times;

  // 1. Identities.
  auto t0 = Clock::now();
  std::vector<Source> sources(static_cast<std::size_t>(config.identities));
  std::mutex error_mu;
  std::string setup_error;
  auto fail_setup = [&](const std::string& e) {
    std::lock_guard lock(error_mu);
    if (setup_error.empty()) setup_error = e;
  };
  const int setup_threads = std::min(config.connections, 16);
  ParallelFor(config.identities, setup_threads, [&](int, int i) {
    auto id = devid::NewIdentity({.curve = atipay::auth::Curve::kSecp256k1,
                                  .handle = "load-" + std::to_string(i) + ".test",
                                  .pds = config.pds,
                                  .did = {}});
    if (!id) return fail_setup(id.error().message);
    std::string e = !config.did_dir.empty() ? devid::WriteDidDocument(config.did_dir, *id)
                                            : devid::RegisterOnPlc(config.plc_url, *id);
    if (!e.empty()) return fail_setup(e);
    sources[static_cast<std::size_t>(i)].identity.emplace(std::move(*id));
  });
  if (!setup_error.empty()) {
    std::cerr << "atipay-load: identities: " << setup_error << "\n";
    return 2;
  }
  setup_times["identities_s"] = Seconds(Clock::now() - t0);
  progress(std::to_string(config.identities) + " identities " +
           (config.did_dir.empty() ? "registered on " + config.plc_url
                                   : "written to " + config.did_dir));

  // 2. Source carts.
  t0 = Clock::now();
  std::vector<std::unique_ptr<agent::MemoryRepo>> repos;
  for (int i = 0; i < config.identities; ++i)
    repos.push_back(std::make_unique<agent::MemoryRepo>());
  std::optional<SetupCallers> setup_callers(std::in_place, config, setup_threads);
  SetupCallers& callers = *setup_callers;
  ParallelFor(config.identities, setup_threads, [&](int t, int i) {
    Source& s = sources[static_cast<std::size_t>(i)];
    std::string subject = config.subject;
    if (subject.empty()) {
      subject = sources[static_cast<std::size_t>((i + 1) % config.identities)].identity->did;
    }
    agent::XrpcCaller& caller = callers.For(t, *s.identity);
    agent::MemoryRepo& repo = *repos[static_cast<std::size_t>(i)];
    std::string e = BuildSourceCart(config, s, subject, caller, repo);
    if (e.empty()) e = ReadSourceCart(s, caller, repo);
    if (!e.empty()) fail_setup(s.identity->did + ": " + e);
  });
  if (!setup_error.empty()) {
    std::cerr << "atipay-load: source carts: " << setup_error << "\n";
    return 2;
  }
  setup_times["carts_s"] = Seconds(Clock::now() - t0);
  progress(std::to_string(config.identities) + " source carts with " +
           std::to_string(sources[0].items) + " item(s) each, status " + sources[0].status);

  // 3. Wait until they can be cloned.
  t0 = Clock::now();
  if (config.wait_s > 0) {
    const auto wait_deadline = Clock::now() + std::chrono::duration<double>(config.wait_s);
    for (;;) {
      std::atomic<int> open{0};
      ParallelFor(config.identities, setup_threads, [&](int t, int i) {
        Source& s = sources[static_cast<std::size_t>(i)];
        if (s.status != "open") return;
        std::string e =
            ReadSourceCart(s, callers.For(t, *s.identity), *repos[static_cast<std::size_t>(i)]);
        if (!e.empty()) fail_setup(s.identity->did + ": " + e);
        if (s.status == "open") ++open;
      });
      if (!setup_error.empty()) {
        std::cerr << "atipay-load: waiting for the source carts: " << setup_error << "\n";
        return 2;
      }
      if (open == 0) break;
      if (Clock::now() >= wait_deadline) {
        std::cerr << "atipay-load: " << open << " source cart(s) still open after " << config.wait_s
                  << " s (run the server with a short --cart-ttl, or mark the "
                  << "carts paid; --wait-cloneable 0 clones open carts)\n";
        return 2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    progress("source carts are cloneable (status " + sources[0].status + ")");
  }
  setup_times["wait_s"] = Seconds(Clock::now() - t0);
  repos.clear();
  setup_callers.reset();  // their connections are not the measured ones

  // 4. Tokens: about 3 calls per clone plus the deep checks, spread over the identities by
  // thread count.
  t0 = Clock::now();
  const long long deep_checks =
      config.clones && config.verify_every > 0 ? *config.clones / config.verify_every + 1 : 0;
  // A pre-signed token is used until 5 s before it expires (TokenPool::Take): at the assumed
  // 2,000 clones/s, more than that would only expire unused, after costing memory and signing
  // time (a 10-minute run would otherwise sign 3.6 million tokens before it starts).
  const long long usable_tokens =
      static_cast<long long>(3 * 2000 * std::max(1.0, config.token_lifetime_s - 5));
  long long total_tokens =
      config.tokens
          ? *config.tokens
          : std::min(usable_tokens,
                     config.clones ? 3 * *config.clones + deep_checks + 2LL * config.connections
                                   : static_cast<long long>(3 * 2000 * config.duration_s));
  // Threads share the clones of a --clones run as they go, so one identity may do far more than
  // its share: when it is cheap, each identity gets enough for the whole run.
  const bool whole_run_each =
      !config.tokens && config.clones && total_tokens * config.identities <= 20000;
  std::vector<int> threads_per_identity(static_cast<std::size_t>(config.identities), 0);
  for (int t = 0; t < config.connections; ++t)
    ++threads_per_identity[static_cast<std::size_t>(t % config.identities)];
  for (auto& s : sources) {
    s.tokens = std::make_unique<TokenPool>(&*s.identity, config.aud,
                                           static_cast<std::int64_t>(config.token_lifetime_s));
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  ParallelFor(config.identities, static_cast<int>(cores), [&](int, int i) {
    // Otherwise a quarter more than an even share: threads do not all finish the same number.
    const long long share =
        whole_run_each ? total_tokens
                       : total_tokens * threads_per_identity[static_cast<std::size_t>(i)] * 5 /
                                 (4LL * config.connections) +
                             (threads_per_identity[static_cast<std::size_t>(i)] > 0 ? 4 : 0);
    sources[static_cast<std::size_t>(i)].tokens->Fill(static_cast<std::size_t>(share));
  });
  std::size_t presigned = 0;
  for (const auto& s : sources) presigned += s.tokens->presigned();
  setup_times["tokens_s"] = Seconds(Clock::now() - t0);
  progress(std::to_string(presigned) + " tokens pre-signed");

  // 5. The window.
  std::vector<ThreadResult> results(static_cast<std::size_t>(config.connections));
  std::atomic<long long> clones_left{config.clones.value_or(0)};
  std::atomic<long long> deep_counter{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  Clock::time_point deadline;  // set before `go`; read by the threads after it
  for (int t = 0; t < config.connections; ++t) {
    try {
      threads.emplace_back([&, t] {
        RunThread(config, sources[static_cast<std::size_t>(t % config.identities)], deep_counter,
                  clones_left, deadline, ready, go, results[static_cast<std::size_t>(t)]);
      });
    } catch (const std::system_error& e) {
      // Fewer connections than asked would measure something else: let those started return
      // at once (no clones left, a deadline already past), and give up.
      clones_left = 0;
      deadline = Clock::now();
      go.store(true, std::memory_order_release);
      for (auto& thread : threads) thread.join();
      std::cerr << "atipay-load: cannot start " << config.connections << " client threads ("
                << threads.size() << " started): " << e.what() << "\n";
      return 2;
    }
  }
  while (ready.load() < config.connections)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  progress(config.clones ? "running " + std::to_string(*config.clones) + " clones"
                         : "running for " + Fixed(config.duration_s, 1) + " s");
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(config.duration_s));
  go.store(true, std::memory_order_release);
  for (auto& thread : threads) thread.join();
  const double elapsed = Seconds(Clock::now() - start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const int cores_available = AvailableCores();
  const double cores_used = elapsed > 0 ? cpu / elapsed : 0;
  // Past this the tool itself may be what limits the rate.
  const bool saturated = cores_used > 0.85 * cores_available;

  // 6. Results.
  ThreadResult all;
  for (auto& r : results) {
    all.call_ns.insert(all.call_ns.end(), r.call_ns.begin(), r.call_ns.end());
    all.clone_ns.insert(all.clone_ns.end(), r.clone_ns.begin(), r.clone_ns.end());
    for (const auto& [k, v] : r.failures) all.failures[k] += v;
    for (const auto& [k, v] : r.call_errors) all.call_errors[k] += v;
    for (const auto& [k, v] : r.rounds) all.rounds[k] += v;
    all.attempted += r.attempted;
    all.complete += r.complete;
    all.checked += r.checked;
    all.deep += r.deep;
    all.bad += r.bad;
    all.calls += r.calls;
    if (all.first_bad.empty()) all.first_bad = r.first_bad;
  }
  std::int64_t on_demand = 0, expired = 0;
  for (const auto& s : sources) {
    on_demand += s.tokens->signed_on_demand();
    expired += s.tokens->expired();
  }
  Stats calls = Summarize(all.call_ns);
  Stats clones = Summarize(all.clone_ns);
  const std::int64_t failed = all.attempted - all.complete;
  const double rate = elapsed > 0 ? static_cast<double>(all.complete) / elapsed : 0;

  if (config.json) {
    json::object failures, call_errors, rounds;
    for (const auto& [k, v] : all.failures) failures[k] = v;
    for (const auto& [k, v] : all.call_errors) call_errors[k] = v;
    for (const auto& [k, v] : all.rounds) rounds[std::to_string(k)] = v;
    json::object out{
        {"url", config.url},
        {"connections", config.connections},
        {"identities", config.identities},
        {"items_per_cart", sources[0].items},
        {"mode", config.clones ? "clones" : "duration"},
        {"elapsed_s", elapsed},
        {"clones", json::object{{"attempted", all.attempted},
                                {"complete", all.complete},
                                {"failed", failed},
                                {"per_second", rate}}},
        {"failures", std::move(failures)},
        {"verified", json::object{{"checked", all.checked}, {"deep", all.deep}, {"bad", all.bad}}},
        {"calls",
         json::object{{"count", all.calls},
                      {"per_clone", all.attempted > 0 ? static_cast<double>(all.calls) /
                                                            static_cast<double>(all.attempted)
                                                      : 0.0},
                      {"errors", std::move(call_errors)}}},
        {"calls_per_complete_clone", std::move(rounds)},
        {"call_latency", StatsJson(calls)},
        {"clone_latency", StatsJson(clones)},
        {"tokens", json::object{{"presigned", presigned},
                                {"signed_in_window", on_demand},
                                {"expired_in_window", expired}}},
        {"client_cpu",
         json::object{{"seconds", cpu},
                      {"cores", cores_used},
                      {"cores_available", cores_available},
                      {"saturated", saturated},
                      {"per_clone_us",
                       all.attempted > 0 ? cpu * 1e6 / static_cast<double>(all.attempted) : 0.0}}},
        {"setup", std::move(setup_times)}};
    if (!all.first_bad.empty()) out["first_failure"] = all.first_bad;
    std::cout << json::serialize(out) << "\n";
  } else {
    std::ostringstream o;
    o << "atipay-load: " << config.url << ", " << config.connections << " connections, "
      << config.identities << " identities, " << sources[0].items << " item(s) per cart\n";
    o << "  clones complete " << Pad(std::to_string(all.complete), 10) << "   " << Fixed(rate, 1)
      << " /s over " << Fixed(elapsed, 3) << " s\n";
    o << "  clones failed   " << Pad(std::to_string(failed), 10) << "\n";
    o << "  verified        " << Pad(std::to_string(all.checked), 10) << "   (" << all.deep
      << " deep), " << all.bad << " bad\n";
    o << "  calls           " << Pad(std::to_string(all.calls), 10) << "   "
      << Fixed(all.attempted > 0
                   ? static_cast<double>(all.calls) / static_cast<double>(all.attempted)
                   : 0,
               2)
      << " per clone\n";
    o << "  latency (ms)         mean      p50      p90      p99      max\n";
    auto row = [&](const char* name, const Stats& s) {
      o << "    " << name << Pad(Fixed(s.mean), 10) << Pad(Fixed(s.p50), 9) << Pad(Fixed(s.p90), 9)
        << Pad(Fixed(s.p99), 9) << Pad(Fixed(s.max), 9) << "\n";
    };
    row("per call  ", calls);
    row("per clone ", clones);
    o << "  client CPU: " << Fixed(cpu, 3) << " s (" << Fixed(cores_used, 2) << " of "
      << cores_available << " cores), "
      << Fixed(all.attempted > 0 ? cpu * 1e6 / static_cast<double>(all.attempted) : 0, 1)
      << " us per clone"
      << (saturated ? "  WARNING: the load tool is CPU-bound; give it more cores" : "") << "\n";
    o << "  tokens: " << presigned << " pre-signed, " << on_demand << " signed in the window";
    if (expired > 0) {
      o << " (" << expired
        << " for expired ones: signing and running took longer than --token-lifetime)";
    }
    if (on_demand > expired) o << " (" << on_demand - expired << " past the last: raise --tokens)";
    o << "\n";
    if (!all.failures.empty()) {
      o << "  failures:\n";
      for (const auto& [k, v] : all.failures)
        o << "    " << Pad(std::to_string(v), 8) << "  " << k << "\n";
    }
    if (!all.call_errors.empty()) {
      o << "  failed calls:\n";
      bool limited = false;
      for (const auto& [k, v] : all.call_errors) {
        o << "    " << Pad(std::to_string(v), 8) << "  " << k << "\n";
        limited = limited || k.find("RateLimitExceeded") != std::string::npos;
      }
      if (limited) {
        o << "  the server rate-limited the load: start atipay-server with "
             "--rate-limit-caller off\n";
      }
    }
    if (!all.first_bad.empty()) o << "  first failure: " << all.first_bad << "\n";
    std::cout << o.str();
  }
  const bool all_done = failed == 0 && (!config.clones || all.complete == *config.clones);
  return all_done ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  auto usage = [](const std::string& message) {
    std::cerr << "atipay-load: " << message << " (see --help)\n";
    return 1;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (!arg.starts_with("--")) return usage("unexpected argument " + arg);
    std::string name = arg.substr(2);
    if (name == "json") {
      config.json = true;
      continue;
    }
    if (name == "quiet") {
      config.quiet = true;
      continue;
    }
    std::string value;
    if (std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return usage("--" + name + " needs a value");
    }
    auto count = [&](int& out, int min) -> bool {
      auto v = ParseCount(value, 100000);
      if (!v || *v < min) return false;
      out = static_cast<int>(*v);
      return true;
    };
    auto duration = [&](double& out, double max_s) -> bool {
      auto v = ParseDuration(value, max_s);
      if (!v) return false;
      out = *v;
      return true;
    };
    constexpr double kDay = 24 * 3600;
    bool ok = true;
    if (name == "url")
      config.url = value;
    else if (name == "aud")
      config.aud = value;
    else if (name == "plc-url")
      config.plc_url = value;
    else if (name == "did-dir")
      config.did_dir = value;
    else if (name == "subject")
      config.subject = value;
    else if (name == "pds")
      config.pds = value;
    else if (name == "identities")
      ok = count(config.identities, 1);
    else if (name == "connections")
      ok = count(config.connections, 1);
    else if (name == "items-per-cart")
      ok = count(config.items_per_cart, 1);
    else if (name == "verify-every")
      ok = count(config.verify_every, 0);
    else if (name == "duration")
      ok = duration(config.duration_s, 7 * kDay) && config.duration_s > 0;
    else if (name == "wait-cloneable")
      ok = duration(config.wait_s, kDay);
    else if (name == "timeout")
      ok = duration(config.timeout_s, kDay) && config.timeout_s >= 0.001;
    else if (name == "token-lifetime")
      ok = duration(config.token_lifetime_s, kDay) && config.token_lifetime_s >= 10;
    else if (name == "clones")
      ok = (config.clones = ParseCount(value, 1000000000)).has_value() && *config.clones > 0;
    else if (name == "tokens")
      ok = (config.tokens = ParseCount(value, 10000000)).has_value();
    else
      return usage("unknown option --" + name);
    if (!ok) return usage("bad value for --" + name + ": " + value);
  }
  if (config.url.empty()) return usage("--url is required");
  if (config.aud.empty()) return usage("--aud (the server's DID) is required");
  if (!atipay::lex::IsValidDid(config.aud.substr(0, config.aud.find('#')))) {
    return usage("--aud is not a DID: " + config.aud);
  }
  if (config.plc_url.empty() == config.did_dir.empty()) {
    return usage("give one of --plc-url and --did-dir");
  }
  if (!config.subject.empty() && !atipay::lex::IsValidDid(config.subject)) {
    return usage("--subject is not a DID");
  }
  return Run(config);
}
