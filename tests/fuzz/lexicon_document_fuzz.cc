// Lexicon documents, as lexgen reads them. Oracle: loading never fails other than with an
// error value, and a document that loads and whose refs resolve generates the same C++ twice.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "cpp/generator.h"
#include "fuzz_check.h"
#include "schema/catalog.h"
#include "schema/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay;
  boost::json::error_code ec;
  const boost::json::value json =
      boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  auto doc = lexicon::LoadDocument(json, "fuzz.json");
  if (!doc.ok()) return 0;
  std::vector<lexicon::Document> docs;
  docs.push_back(std::move(doc).value());
  lexicon::Catalog catalog(std::move(docs));
  if (catalog.CheckRefs(/*allow_missing_union_refs=*/true)) return 0;
  codegen::Options options;
  auto first = codegen::GenerateCpp(catalog, options);
  auto second = codegen::GenerateCpp(catalog, options);
  FUZZ_CHECK(first.ok() == second.ok(), "generation is not deterministic");
  if (first.ok()) FUZZ_CHECK(*first == *second, "generated files differ between runs");
  return 0;
}
