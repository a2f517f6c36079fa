#include "app/run.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/service_auth.h"
#include "xrpc/log.h"
#include "xrpc/server.h"

namespace atipay::app {
namespace {

// SIGINT and SIGTERM, on a thread of their own from before the server listens until the process
// is done: the first calls the stop function (at once if the signal came before there was one),
// a second exits at once. Handled on the server's event loop, a second signal would go unheard
// once that loop stops, while the server waits for answers a store still holds and then while
// the store finishes its queue: with a disk that hangs, until SIGKILL.
class StopSignals {
 public:
  StopSignals() {
    Listen();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~StopSignals() {
    io_.stop();
    thread_.join();
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // What the first signal calls; called now if it came already. Empty: nothing.
  void OnFirst(std::function<void()> stop) {
    bool received;
    {
      std::lock_guard lock(mu_);
      stop_ = stop;
      received = received_;
    }
    if (received && stop) stop();
  }

 private:
  void Listen() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      {
        std::lock_guard lock(mu_);
        if (received_) {
          xrpc::LogEvent("warn", "second signal: exiting now");
          std::_Exit(1);
        }
        received_ = true;
        xrpc::LogEvent("info", "shutting down: draining in-flight requests");
        // Called under the lock, so that OnFirst({}) waits for the call to return: the server
        // it stops may be destroyed as soon as it has (a race ThreadSanitizer saw).
        if (stop_) stop_();
      }
      Listen();
    });
  }

  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
  std::thread thread_;
  std::mutex mu_;
  bool received_ = false;
  std::function<void()> stop_;
};

}  // namespace

int RunServer(std::string_view name, int argc, char** argv, const AddMethods& add_methods) {
  using xrpc::LogEvent;
  std::signal(SIGPIPE, SIG_IGN);
  const std::string prefix = std::string(name) + ": ";

  Config config;
  std::string help;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto error = LoadConfig(args, config, std::getenv, &help)) {
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), error->c_str());
    return 2;
  }
  if (config.help) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }

  // The server opens its access log as it starts, after the store: a path it cannot open is
  // found here, before anything is created.
  if (std::string error; !xrpc::AccessLog::Open(config.access_log, &error)) {
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), error.c_str());
    return 2;
  }

  // Outlives everything below: a second signal still ends the process while the store closes.
  StopSignals signals;
  {
    // Declared before the server, so that all of them outlive its threads.
    xrpc::Router router;
    std::unique_ptr<ServiceAuth> service_auth;
    std::shared_ptr<void> methods_state;
    xrpc::Server server(ToServerOptions(config), router);
    // Listening first: with port 0 the service DID (the `aud` of every token) and the URLs name
    // the port the system picked.
    if (auto error = server.Listen()) {
      LogEvent("fatal", *error);
      return 1;
    }
    ApplyBoundPort(config, server.port());
    server.SetServiceIdentity(config.service_did, config.public_url);

    auto created = ServiceAuth::Create(config);
    if (!created) {
      std::fprintf(stderr, "%s%s\n", prefix.c_str(), created.error().message.c_str());
      return 2;
    }
    service_auth = std::move(*created);
    service_auth->Install(router);
    if (auto error = add_methods(router, config, &methods_state)) {
      std::fprintf(stderr, "%s%s\n", prefix.c_str(), error->c_str());
      return 2;
    }
    // A limit for a method we do not serve is a typo, and the limit meant would not apply.
    xrpc::RateLimitOptions limits;
    ParseRateLimits(config, limits);  // checked by LoadConfig
    for (const auto& [nsid, limit] : limits.per_method) {
      if (router.Find(nsid) == nullptr) {
        std::fprintf(stderr, "%s--rate-limit-methods: no method %s here\n", prefix.c_str(),
                     nsid.c_str());
        return 2;
      }
    }
    if (auto error = server.Start()) {
      LogEvent("fatal", *error);
      return 1;
    }
    // A signal that came while the store opened stops the server now.
    signals.OnFirst([&server] { server.Shutdown(); });
    LogEvent("info", std::string(name) + " " + std::string(xrpc::ServerVersion()) +
                         " listening on " + config.host + ":" + std::to_string(server.port()) +
                         " as " + config.service_did);
    server.Wait();
    signals.OnFirst({});
    // Leaving the block stops the sweeper and closes the store once its queue is committed.
  }
  LogEvent("info", "stopped");
  return 0;
}

}  // namespace atipay::app
