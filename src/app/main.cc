// atipay-server: the atiproto payment service over XRPC.
#include <memory>

#include "app/methods.h"
#include "app/run.h"

int main(int argc, char** argv) {
  using namespace atipay;
  return app::RunServer("atipay-server", argc, argv,
                        [](xrpc::Router& router, const app::Config& config,
                           std::shared_ptr<void>* keep) -> std::optional<std::string> {
                          std::string error;
                          std::shared_ptr<app::Services> services =
                              app::StartServices(router, config, &error);
                          if (!services) return error;  // it names the database
                          *keep = std::move(services);
                          return std::nullopt;
                        });
}
