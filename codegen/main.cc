// lexgen: the atipay lexicon compiler.
//
//   lexgen generate --out DIR [--namespace NS] [--check] INPUT...
//   lexgen check INPUT...
//   lexgen validate --lexicons DIR [--lexicons DIR...] --schema NSID[#def] [--part P] FILE...
//
// Exit status: 0 success (all valid), 1 some data invalid, 2 usage or lexicon problems.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "cpp/generator.h"
#include "cpp/names.h"
#include "schema/loader.h"
#include "schema/validator.h"

namespace {

using atipay::lexicon::Catalog;
using atipay::lexicon::MethodPart;

constexpr int kOk = 0;
constexpr int kInvalid = 1;
constexpr int kUsage = 2;

constexpr const char* kUsageText = R"(usage:
  lexgen generate --out DIR [--namespace NS] [--check] INPUT...
      Compile lexicon documents (files, or directories searched recursively for *.json)
      into C++: one header and one source per document, under DIR. With --check, write
      nothing: list each file of DIR that is missing, differs or is stale (generated, but
      by no document any more), and exit 1 if there is any.
  lexgen check INPUT...
      Load and check lexicon documents and their refs; write nothing.
  lexgen validate --lexicons DIR [--lexicons DIR...] --schema NSID[#def]
                  [--part params|input|output|message] FILE...
      Validate JSON files ('-' for stdin) against a record, an object or any named def,
      or a part of a query/procedure/subscription. Prints "FILE: valid" or
      "FILE: <path> <reason>" per file.

exit status: 0 all valid, 1 some data invalid (or --check found drift), 2 usage or
lexicon problems
)";

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "lexgen: " << problem << "\n";
  std::cerr << kUsageText;
  return kUsage;
}

// NS for --namespace: identifiers joined by "::", none of them a keyword, a common macro, std
// or boost (the names NamespaceSegment would change), so that the output compiles.
bool IsNamespaceName(const std::string& ns) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = ns.find("::", start);
    const std::string segment = ns.substr(start, end == std::string::npos ? end : end - start);
    if (segment.empty() || atipay::codegen::NamespaceSegment(segment) != segment) return false;
    if (end == std::string::npos) return true;
    start = end + 2;
  }
}

atipay::lex::Result<Catalog> LoadCatalog(const std::vector<std::string>& inputs) {
  auto docs = atipay::lexicon::LoadInputs(inputs);
  if (!docs) return docs.error();
  return Catalog(std::move(docs).value());
}

int Generate(const std::vector<std::string>& args) {
  std::string out;
  atipay::codegen::Options options;
  std::vector<std::string> inputs;
  bool check = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--check") {
      check = true;
    } else if (args[i] == "--out" && i + 1 < args.size()) {
      out = args[++i];
    } else if (args[i] == "--namespace" && i + 1 < args.size()) {
      options.root_namespace = args[++i];
      if (!IsNamespaceName(options.root_namespace)) {
        return Usage("--namespace wants a C++ namespace name (a::b), not '" +
                     options.root_namespace + "'");
      }
    } else if (args[i] == "--out" || args[i] == "--namespace") {
      return Usage(args[i] + " needs a value");
    } else if (args[i].starts_with("--")) {
      return Usage("unknown option " + args[i]);
    } else {
      inputs.push_back(args[i]);
    }
  }
  if (out.empty() || inputs.empty()) return Usage("generate needs --out DIR and at least one input");
  auto catalog = LoadCatalog(inputs);
  if (!catalog) {
    std::cerr << catalog.error().message << "\n";
    return kUsage;
  }
  auto files = atipay::codegen::GenerateCpp(*catalog, options);
  if (!files) {
    std::cerr << files.error().message << "\n";
    return kUsage;
  }
  if (check) {
    auto drift = atipay::codegen::DiffFiles(*files, out);
    if (!drift) {
      std::cerr << drift.error().message << "\n";
      return kUsage;
    }
    using Kind = atipay::codegen::Drift::Kind;
    for (const auto& d : *drift) {
      std::cout << out << "/" << d.path << ": "
                << (d.kind == Kind::kMissing   ? "missing"
                    : d.kind == Kind::kDiffers ? "differs"
                                               : "stale (no document generates it)")
                << "\n";
    }
    if (!drift->empty()) return kInvalid;
    std::cout << files->size() << " generated files up to date\n";
    return kOk;
  }
  auto written = atipay::codegen::WriteFiles(*files, out);
  if (!written) {
    std::cerr << written.error().message << "\n";
    return kUsage;
  }
  return kOk;
}

int Check(const std::vector<std::string>& inputs) {
  if (inputs.empty()) return Usage("check needs at least one input");
  auto catalog = LoadCatalog(inputs);
  if (!catalog) {
    std::cerr << catalog.error().message << "\n";
    return kUsage;
  }
  if (auto problem = catalog->CheckRefs(/*allow_missing_union_refs=*/true)) {
    std::cerr << *problem << "\n";
    return kUsage;
  }
  std::cout << catalog->documents().size() << " lexicon documents OK\n";
  return kOk;
}

int Validate(const std::vector<std::string>& args) {
  std::vector<std::string> lexicons, files;
  std::string schema;
  MethodPart part = MethodPart::kNone;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--lexicons" && i + 1 < args.size()) {
      lexicons.push_back(args[++i]);
    } else if (args[i] == "--schema" && i + 1 < args.size()) {
      schema = args[++i];
    } else if (args[i] == "--part" && i + 1 < args.size()) {
      const std::string p = args[++i];
      if (p == "params") part = MethodPart::kParams;
      else if (p == "input") part = MethodPart::kInput;
      else if (p == "output") part = MethodPart::kOutput;
      else if (p == "message") part = MethodPart::kMessage;
      else return Usage("unknown --part " + p);
    } else if (args[i] != "-" && args[i].starts_with("-")) {
      return Usage("unknown option " + args[i]);
    } else {
      files.push_back(args[i]);
    }
  }
  if (lexicons.empty() || schema.empty() || files.empty()) {
    return Usage("validate needs --lexicons, --schema and at least one file");
  }
  auto catalog = LoadCatalog(lexicons);
  if (!catalog) {
    std::cerr << catalog.error().message << "\n";
    return kUsage;
  }
  if (!catalog->Resolve(schema)) {
    std::cerr << "lexgen: schema " << schema << " is not among the loaded lexicons\n";
    return kUsage;
  }
  atipay::lexicon::Validator validator(*catalog);
  int status = kOk;
  for (const std::string& file : files) {
    std::string text;
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::error_code dir_ec;
      std::ifstream in(file, std::ios::binary);
      if (!in || std::filesystem::is_directory(file, dir_ec)) {
        std::cerr << file << ": cannot be read\n";
        return kUsage;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 256;
    boost::json::value value = boost::json::parse(text, ec, {}, options);
    if (ec) {
      std::cout << file << ": not valid JSON (" << ec.message() << ")\n";
      status = kInvalid;
      continue;
    }
    atipay::lex::Errors errors;
    if (validator.Validate(value, schema, part, errors)) {
      std::cout << file << ": valid\n";
    } else {
      std::cout << file << ": " << errors.message() << "\n";
      status = kInvalid;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("");
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h" || command == "help" ||
      std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::cout << kUsageText;
    return kOk;
  }
  if (command == "generate") return Generate(args);
  if (command == "check") return Check(args);
  if (command == "validate") return Validate(args);
  return Usage("unknown command " + command);
}
