#include "identity/identity.h"

#include <exception>
#include <filesystem>
#include <system_error>

namespace atipay::identity {
namespace {

lex::Result<std::unique_ptr<IdentityResolver>> MakeResolverOrThrow(const IdentityOptions& options,
                                                                   const auth::Clock& clock) {
  auto http = std::make_shared<const HttpClient>(options.http);
  std::string error;
  std::unique_ptr<DidResolver> plc = PlcResolver::Create(options.plc_url, http, &error);
  if (!plc) return lex::Error{error};
  auto web = std::make_unique<WebResolver>(http, options.dev_allow_http_loopback);
  std::unique_ptr<DidResolver> dev;
  if (!options.dev_did_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(options.dev_did_dir, ec)) {
      return lex::Error{"dev DID directory " + options.dev_did_dir + " is not a directory"};
    }
    dev = std::make_unique<DirectoryResolver>(options.dev_did_dir);
  }
  auto chain = std::make_unique<MethodResolver>(std::move(plc), std::move(web), std::move(dev));
  return std::make_unique<IdentityResolver>(std::move(chain), options.cache, clock);
}

}  // namespace

lex::Result<std::unique_ptr<IdentityResolver>> MakeIdentityResolver(const IdentityOptions& options,
                                                                    const auth::Clock& clock) {
  try {
    return MakeResolverOrThrow(options, clock);
  } catch (const std::exception& e) {
    return lex::Error{std::string("cannot start the identity resolver: ") + e.what()};
  }
}

}  // namespace atipay::identity
