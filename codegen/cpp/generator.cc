#include "cpp/generator.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "cpp/emitter.h"

namespace atipay::codegen {

lex::Result<GeneratedFiles> GenerateCpp(const lexicon::Catalog& catalog, const Options& options) {
  if (std::optional<std::string> problem = catalog.CheckRefs(/*allow_missing_union_refs=*/true)) {
    return lex::Error{*problem};
  }
  lex::Result<Model> model = Model::Build(catalog, options);
  if (!model) return model.error();
  GeneratedFiles files;
  for (const lexicon::Document& doc : catalog.documents()) {
    DocEmitter emitter(*model, doc);
    const std::string stem = Model::FileStem(doc);
    files[stem + ".h"] = emitter.Header();
    files[stem + ".cc"] = emitter.Source();
  }
  return files;
}

namespace {

// The whole file, or nullopt when it cannot be read.
std::optional<std::string> ReadWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

lex::Result<bool> WriteFiles(const GeneratedFiles& files, const std::string& dir) {
  namespace fs = std::filesystem;
  for (const auto& [relative, content] : files) {
    const fs::path path = fs::path(dir) / relative;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return lex::Error{path.parent_path().string() + ": " + ec.message()};
    if (ReadWhole(path) == content) continue;
    // Write beside and rename, so a reader never sees half a file.
    const fs::path tmp = path.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out) return lex::Error{tmp.string() + ": cannot be written"};
    }
    fs::rename(tmp, path, ec);
    if (ec) return lex::Error{path.string() + ": " + ec.message()};
  }
  return true;
}

lex::Result<std::vector<Drift>> DiffFiles(const GeneratedFiles& files, const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<Drift> drift;
  for (const auto& [relative, content] : files) {
    const std::optional<std::string> existing = ReadWhole(fs::path(dir) / relative);
    if (!existing) {
      drift.push_back({relative, Drift::Kind::kMissing});
    } else if (*existing != content) {
      drift.push_back({relative, Drift::Kind::kDiffers});
    }
  }
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string relative = it->path().lexically_relative(dir).generic_string();
      if (files.contains(relative)) continue;
      std::ifstream in(it->path(), std::ios::binary);
      std::string first(kGeneratedBanner.size(), '\0');
      in.read(first.data(), static_cast<std::streamsize>(first.size()));
      if (in && first == kGeneratedBanner) drift.push_back({relative, Drift::Kind::kStale});
    }
    if (ec) return lex::Error{dir + ": " + ec.message()};
  }
  std::sort(drift.begin(), drift.end(),
            [](const Drift& a, const Drift& b) { return a.path < b.path; });
  return drift;
}

}  // namespace atipay::codegen
