#include "cpp/generator.h"

#include <filesystem>
#include <fstream>
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

lex::Result<bool> WriteFiles(const GeneratedFiles& files, const std::string& dir) {
  namespace fs = std::filesystem;
  for (const auto& [relative, content] : files) {
    const fs::path path = fs::path(dir) / relative;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return lex::Error{path.parent_path().string() + ": " + ec.message()};
    {
      std::ifstream in(path, std::ios::binary);
      if (in) {
        std::stringstream existing;
        existing << in.rdbuf();
        if (existing.str() == content) continue;
      }
    }
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

}  // namespace atipay::codegen
