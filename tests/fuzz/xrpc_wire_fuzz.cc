// What the XRPC layer reads off the wire before any lexicon: query strings, integer and
// boolean params, JSON bodies. Oracles: query parameters survive encoding and decoding; an
// integer param is exactly a decimal literal in range; every error body for a bad JSON body
// (whose message may quote the body) is itself JSON.
#include <boost/json/parse.hpp>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "lex/params.h"
#include "xrpc/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const lex::ParamList params = xrpc::ParseQueryString(input);
  for (const auto& [name, value] : params) FUZZ_CHECK(!value.empty(), "an empty value was kept");
  FUZZ_CHECK(xrpc::ParseQueryString(lex::EncodeQueryString(params)) == params,
             "query parameters do not survive encoding");

  if (auto n = lex::DecodeIntegerParam(input)) {
    std::int64_t parsed = 0;
    const char* end = input.data() + input.size();
    auto [at, ec] = std::from_chars(input.data(), end, parsed);
    FUZZ_CHECK(ec == std::errc() && at == end && parsed == *n, "integer param %lld",
               static_cast<long long>(*n));
  }
  if (auto b = lex::DecodeBooleanParam(input)) {
    FUZZ_CHECK(input == (*b ? "true" : "false"), "boolean param");
  }

  std::string_view path, query;
  xrpc::SplitTarget(input, path, query);
  std::string_view nsid;
  if (xrpc::ExtractXrpcNsid(path, nsid) == xrpc::XrpcPath::kValid) {
    FUZZ_CHECK(nsid.size() >= 2 && nsid.data() == path.data() + 6, "nsid outside the path");
  }

  boost::json::value body;
  if (auto error = xrpc::ParseJsonBody(input, 64, body)) {
    const std::string text = xrpc::ErrorBody(*error);
    boost::json::error_code ec;
    const boost::json::value parsed = boost::json::parse(text, ec);
    FUZZ_CHECK(!ec, "error body is not JSON: %s", text.c_str());
    FUZZ_CHECK(parsed.as_object().at("error").as_string() == error->name, "error name");
  } else {
    FUZZ_CHECK(body.is_object() || body.is_array(), "a body that is neither object nor array");
  }
  return 0;
}
