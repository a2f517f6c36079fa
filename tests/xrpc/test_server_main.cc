// xrpc-test-server: atipay-server's configuration and server core with the fake generated
// methods (clone, item.count, cart.list, ...) registered, for interop tests and load benchmarks.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "app/config.h"
#include "tests/xrpc/test_support.h"
#include "xrpc/log.h"
#include "xrpc/server.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  atipay::app::Config config;
  config.rate_limit_caller = "off";  // load tools hammer it from one address
  std::string help;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto error = atipay::app::LoadConfig(args, config, std::getenv, &help)) {
    std::fprintf(stderr, "xrpc-test-server: %s\n", error->c_str());
    return 2;
  }
  if (config.help) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }
  atipay::xrpc::Router router;
  atipay::testing::FakeService service;
  service.Register(router);
  atipay::xrpc::Server server(atipay::app::ToServerOptions(config), router);
  if (auto error = server.Start()) {
    atipay::xrpc::LogEvent("fatal", *error);
    return 1;
  }
  // The port line tells scripts where we are (useful with --listen 127.0.0.1:0).
  std::fprintf(stderr, "PORT %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stderr);
  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) server.Shutdown();
  });
  server.Wait();
  return 0;
}
