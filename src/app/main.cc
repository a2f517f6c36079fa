// atipay-server: the atiproto payment service over XRPC.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "app/config.h"
#include "app/methods.h"
#include "app/service_auth.h"
#include "xrpc/log.h"
#include "xrpc/server.h"

int main(int argc, char** argv) {
  using atipay::xrpc::LogEvent;
  std::signal(SIGPIPE, SIG_IGN);

  atipay::app::Config config;
  std::string help;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto error = atipay::app::LoadConfig(args, config, std::getenv, &help)) {
    std::fprintf(stderr, "atipay-server: %s\n", error->c_str());
    return 2;
  }
  if (config.help) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }

  auto service_auth = atipay::app::ServiceAuth::Create(config);
  if (!service_auth) {
    std::fprintf(stderr, "atipay-server: %s\n", service_auth.error().message.c_str());
    return 2;
  }
  atipay::xrpc::Router router;
  (*service_auth)->Install(router);
  std::string services_error;
  auto services = atipay::app::StartServices(router, config, &services_error);
  if (!services) {
    std::fprintf(stderr, "atipay-server: %s: %s\n", config.db.c_str(), services_error.c_str());
    return 2;
  }

  atipay::xrpc::Server server(atipay::app::ToServerOptions(config), router);
  if (auto error = server.Start()) {
    LogEvent("fatal", *error);
    return 1;
  }
  LogEvent("info", "atipay-server " + std::string(atipay::xrpc::ServerVersion()) +
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
