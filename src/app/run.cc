#include "app/run.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "app/service_auth.h"
#include "xrpc/log.h"
#include "xrpc/server.h"

namespace atipay::app {

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
  LogEvent("info", std::string(name) + " " + std::string(xrpc::ServerVersion()) +
                       " listening on " + config.host + ":" + std::to_string(server.port()) +
                       " as " + config.service_did);

  // First SIGINT/SIGTERM: drain and stop. A second one: stop now.
  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_signal;
  int received = 0;
  on_signal = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (++received == 1) {
      LogEvent("info", "shutting down: draining in-flight requests");
      server.Shutdown();
      signals.async_wait(on_signal);
    } else {
      LogEvent("warn", "second signal: exiting now");
      std::_Exit(1);
    }
  };
  signals.async_wait(on_signal);
  server.Wait();
  LogEvent("info", "stopped");
  return 0;
}

}  // namespace atipay::app
