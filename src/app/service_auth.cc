#include "app/service_auth.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>

#include "xrpc/log.h"
#include "xrpc/metrics.h"
#include "xrpc/rate_limit.h"

namespace atipay::app {

namespace {

xrpc::AuthResult ToAuthResult(auth::ServiceAuthVerifier::Result result) {
  if (auto* error = std::get_if<xrpc::XrpcError>(&result)) return std::move(*error);
  auto& caller = std::get<auth::VerifiedCaller>(result);
  xrpc::AuthContext context;
  context.did = caller.did;
  context.details = std::move(caller);
  return context;
}

}  // namespace

lex::Result<std::unique_ptr<ServiceAuth>> ServiceAuth::Create(const Config& config) {
  identity::IdentityOptions options;
  options.plc_url = config.plc_url;
  options.dev_did_dir = config.dev_did_dir;
  options.dev_allow_http_loopback = config.dev_allow_http_did_web;
  options.http.request_timeout = std::chrono::milliseconds(config.did_resolve_timeout_ms);
  // Why a did:web could not be fetched (host, port, socket or TLS error) is for our log only:
  // the caller, who chose that host, learns just that it failed.
  options.http.log = [](std::string_view message) { xrpc::LogEvent("warn", message); };
  auto resolver = identity::MakeIdentityResolver(options);
  if (!resolver) return resolver.error();

  auth::ServiceAuthOptions auth_options(config.service_did);
  // `aud` is our DID, bare (as the reference PDS sends it) or with our service's fragment.
  auth_options.service_ids = {config.service_id};
  auth_options.clock_skew = std::chrono::seconds(config.auth_clock_skew);
  auth_options.max_lifetime = std::chrono::seconds(config.auth_max_token_lifetime);
  auth_options.replay_cache_size = static_cast<std::size_t>(config.auth_replay_cache_size);
  auth_options.replay_per_issuer = static_cast<std::size_t>(config.auth_replay_per_issuer);

  std::unique_ptr<ServiceAuth> service(new ServiceAuth());
  service->max_waiting_ = config.auth_max_waiting;
  service->max_waiting_per_address_ = config.auth_max_waiting_per_address;
  service->resolver_ = std::move(resolver).value();
  service->verifier_ = std::make_unique<auth::ServiceAuthVerifier>(auth_options, *service->resolver_);
  return service;
}

ServiceAuth::~ServiceAuth() {
  plc_.pool.join();
  web_.pool.join();
}

std::optional<xrpc::XrpcError> ServiceAuth::Admit(Lane& lane, const std::string& address) {
  if (lane.waiting.fetch_add(1) >= max_waiting_) {
    lane.waiting.fetch_sub(1);
    lane.refused_full.fetch_add(1, std::memory_order_relaxed);
    return xrpc::XrpcError{503, "NotEnoughResources",
                           "too many callers are waiting for their DID to be resolved; retry"};
  }
  std::lock_guard<std::mutex> lock(addresses_mu_);
  std::int64_t& mine = waiting_by_address_[address];
  if (mine >= max_waiting_per_address_) {
    if (mine == 0) waiting_by_address_.erase(address);
    lane.waiting.fetch_sub(1);
    lane.refused_address.fetch_add(1, std::memory_order_relaxed);
    return xrpc::XrpcError{503, "NotEnoughResources",
                           "too many calls from this address are waiting for their DID to be "
                           "resolved; retry"};
  }
  ++mine;
  return std::nullopt;
}

void ServiceAuth::Leave(Lane& lane, const std::string& address) {
  {
    std::lock_guard<std::mutex> lock(addresses_mu_);
    auto it = waiting_by_address_.find(address);
    if (it != waiting_by_address_.end() && --it->second <= 0) waiting_by_address_.erase(it);
  }
  lane.waiting.fetch_sub(1);
}

std::string ServiceAuth::Metrics() const {
  const auth::ReplayCache& replay = verifier_->replay_cache();
  std::string out;
  auto add = [&out](const char* name, const char* type, const char* help, std::uint64_t value) {
    xrpc::AppendMetric(out, name, type, help, std::to_string(value));
  };
  add("atipay_auth_replay_pairs", "gauge",
      "Token ids remembered until their token expires, so that each token is accepted once.",
      replay.size());
  add("atipay_auth_replay_capacity", "gauge",
      "Most token ids remembered at once (--auth-replay-cache-size).", replay.capacity());
  add("atipay_auth_replay_bytes", "gauge", "Memory the replay cache holds.",
      replay.memory_bytes());
  add("atipay_auth_replay_full_total", "counter",
      "Fresh tokens refused with 503 because the replay cache was full.",
      replay.full_rejections());
  add("atipay_auth_replay_issuer_full_total", "counter",
      "Fresh tokens refused with 429 because their issuer held --auth-replay-per-issuer ids.",
      replay.issuer_rejections());
  // Per lane: a did:web flood shows apart from did:plc traffic.
  out += "# HELP atipay_auth_resolving Calls waiting for their caller's DID to be resolved.\n"
         "# TYPE atipay_auth_resolving gauge\n";
  for (const auto& [name, lane] : {std::pair{"plc", &plc_}, std::pair{"web", &web_}}) {
    out += std::string("atipay_auth_resolving{lane=\"") + name + "\"} " +
           std::to_string(std::max<std::int64_t>(0, lane->waiting.load())) + "\n";
  }
  out += "# HELP atipay_auth_resolve_refused_total Calls refused with 503 rather than wait for "
         "a DID: their lane was full, or their address had its share.\n"
         "# TYPE atipay_auth_resolve_refused_total counter\n";
  for (const auto& [name, lane] : {std::pair{"plc", &plc_}, std::pair{"web", &web_}}) {
    out += std::string("atipay_auth_resolve_refused_total{lane=\"") + name +
           "\",reason=\"full\"} " + std::to_string(lane->refused_full.load()) + "\n";
    out += std::string("atipay_auth_resolve_refused_total{lane=\"") + name +
           "\",reason=\"address\"} " + std::to_string(lane->refused_address.load()) + "\n";
  }
  add("atipay_identity_cache_entries", "gauge", "DID documents cached.", resolver_->size());
  add("atipay_identity_fetches_total", "counter", "DID documents fetched (PLC, did:web, files).",
      resolver_->fetch_count());
  add("atipay_identity_refreshes_refused_total", "counter",
      "Re-resolutions after a failed signature refused by the global cap (the cached key kept).",
      resolver_->refreshes_refused());
  return out;
}

void ServiceAuth::Install(xrpc::Router& router) {
  router.AddMetrics([this] { return Metrics(); });
  router.SetAsyncAuthHook([this](const xrpc::AuthRequest& request,
                                 std::function<void(xrpc::AuthResult)> done) {
    std::string did;
    if (auto result = verifier_->TryVerify(request.authorization, request.nsid, &did)) {
      done(ToAuthResult(std::move(*result)));
      return;
    }
    // Each waiting call holds its request; tokens need no valid signature to get this far, so
    // the wait is bounded rather than the memory.
    const bool web = did.starts_with("did:web:");
    Lane& lane = web ? web_ : plc_;
    std::string address = std::string(web ? "web " : "plc ") +
                          std::string(xrpc::ClientAddress(
                              request.request != nullptr ? request.request->remote_address : ""));
    if (auto refused = Admit(lane, address)) {
      done(std::move(*refused));
      return;
    }
    // The request (and its views) stays valid until `done` is called.
    boost::asio::post(lane.pool, [this, &lane, &request, address = std::move(address),
                                  done = std::move(done)] {
      xrpc::AuthResult result = xrpc::XrpcError::Internal();
      try {
        result = ToAuthResult(verifier_->Verify(request.authorization, request.nsid));
      } catch (...) {
        // Out of memory, most likely: an exception here would end the process.
      }
      Leave(lane, address);
      done(std::move(result));
    });
  });
}

}  // namespace atipay::app
