// paramsdiff-driver: reads cases, one JSON object a line ({"s": NSID, "t": request target such
// as "/xrpc/NSID?limit=5"}), and answers each with one line {"e": error, "v": [[key, value]...]}:
// error "" and the decoded params (as ToParamList writes them back, each key and value
// percent-encoded, so bytes that are not UTF-8 reach the comparison as they are) when they are
// accepted, else the first error. The target goes through what Server::Impl::Handle runs on it
// (SplitTarget, ParseQueryString), then the generated Parse, as Router::Add runs it.
// tests/interop-ts/paramsdiff.mjs compares the answers with @atproto/xrpc-server's.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <map>
#include <string>

#include "lexdiff_driver.h"
#include "xrpc/wire.h"

int main() {
  std::map<std::string, const lexdiff::Entry*, std::less<>> table;
  for (const lexdiff::Entry* e : lexdiff::AllEntries()) {
    if (e->part == lexdiff::Part::kParams) table[e->schema] = e;
  }
  std::string line;
  std::size_t n = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    boost::system::error_code ec;
    const boost::json::value c = boost::json::parse(line, ec);
    const boost::json::object* obj = c.if_object();
    const boost::json::string* nsid = obj ? obj->at("s").if_string() : nullptr;
    const boost::json::string* target = obj ? obj->at("t").if_string() : nullptr;
    if (ec || nsid == nullptr || target == nullptr) {
      std::cerr << "line " << n << ": not a case\n";
      return 2;
    }
    auto entry = table.find(std::string_view(*nsid));
    if (entry == table.end()) {
      std::cerr << "line " << n << ": no generated params for " << *nsid << "\n";
      return 2;
    }
    std::string_view path, query, routed;
    atipay::xrpc::SplitTarget(*target, path, query);
    if (atipay::xrpc::ExtractXrpcNsid(path, routed) != atipay::xrpc::XrpcPath::kValid ||
        routed != std::string_view(*nsid)) {
      std::cerr << "line " << n << ": the target does not route to " << *nsid << "\n";
      return 2;
    }
    const lexdiff::QueryAnswer answer = entry->second->query(atipay::xrpc::ParseQueryString(query));
    boost::json::array decoded;
    for (const auto& [key, value] : answer.decoded) {
      std::string k, v;
      atipay::lex::AppendPercentEncoded(k, key);
      atipay::lex::AppendPercentEncoded(v, value);
      decoded.push_back({k, v});
    }
    boost::json::object out;
    out["e"] = answer.error;
    out["v"] = std::move(decoded);
    std::cout << boost::json::serialize(out) << "\n";
  }
  return 0;
}
