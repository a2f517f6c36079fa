// lexdiff-driver LEXICON_DIR...: reads cases, one JSON object a line ({"s": schema, "p": part,
// "v": value}), and answers each with one line {"i": interpreter, "g": generated}: "" when the
// value is accepted, else the first error; "g" is null when a query string cannot carry the
// value. The interpreter is what `lexgen validate` runs; the generated parsers what the server
// runs. tests/interop-ts/lexdiff.mjs compares both with the TypeScript reference.
#include "lexdiff_driver.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <map>
#include <string>
#include <utility>

#include "schema/catalog.h"
#include "schema/loader.h"
#include "schema/validator.h"

int main(int argc, char** argv) {
  using atipay::lexicon::MethodPart;
  using lexdiff::Part;
  auto docs = atipay::lexicon::LoadInputs(std::vector<std::string>(argv + 1, argv + argc));
  if (!docs) {
    std::cerr << docs.error().message << "\n";
    return 2;
  }
  const atipay::lexicon::Catalog catalog(std::move(docs).value());
  const atipay::lexicon::Validator validator(catalog);

  std::map<std::pair<std::string, Part>, const lexdiff::Entry*> table;
  for (const lexdiff::Entry* e : lexdiff::AllEntries()) table[{e->schema, e->part}] = e;
  const std::map<std::string, std::pair<Part, MethodPart>, std::less<>> parts = {
      {"record", {Part::kRecord, MethodPart::kNone}},
      {"object", {Part::kObject, MethodPart::kNone}},
      {"params", {Part::kParams, MethodPart::kParams}},
      {"input", {Part::kInput, MethodPart::kInput}},
      {"output", {Part::kOutput, MethodPart::kOutput}},
      {"message", {Part::kMessage, MethodPart::kMessage}}};

  boost::json::parse_options options;
  options.max_depth = 256;  // as lexgen validate
  std::string line;
  std::size_t n = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    boost::system::error_code ec;
    const boost::json::value c = boost::json::parse(line, ec, {}, options);
    const boost::json::object* obj = c.if_object();
    const boost::json::value* value = obj ? obj->if_contains("v") : nullptr;
    const auto part = obj && obj->contains("p") && (*obj).at("p").is_string()
                          ? parts.find(std::string_view((*obj).at("p").get_string()))
                          : parts.end();
    if (ec || value == nullptr || part == parts.end() || !(*obj).at("s").is_string()) {
      std::cerr << "line " << n << ": not a case\n";
      return 2;
    }
    const std::string schema((*obj).at("s").get_string());
    auto entry = table.find({schema, part->second.first});
    if (entry == table.end()) {
      std::cerr << "line " << n << ": no generated type for " << schema << "\n";
      return 2;
    }
    atipay::lex::Errors errors;
    const bool ok = validator.Validate(*value, schema, part->second.second, errors);
    const lexdiff::Verdict generated =
        entry->second->check(*value, lexdiff::RootOf(part->second.first));
    boost::json::object out;
    out["i"] = ok ? std::string() : errors.message();
    out["g"] = generated ? boost::json::value(*generated) : boost::json::value(nullptr);
    std::cout << boost::json::serialize(out) << "\n";
  }
  return 0;
}
