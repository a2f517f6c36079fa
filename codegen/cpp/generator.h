// The C++ generator's face: a checked catalog in, a set of files out.
#ifndef ATIPAY_CODEGEN_CPP_GENERATOR_H_
#define ATIPAY_CODEGEN_CPP_GENERATOR_H_

#include <map>
#include <string>
#include <vector>

#include "cpp/model.h"
#include "lex/result.h"
#include "schema/catalog.h"

namespace atipay::codegen {

// Relative path ("com/atiproto/cart.h") -> file content. Deterministic for a given catalog.
using GeneratedFiles = std::map<std::string, std::string>;

lex::Result<GeneratedFiles> GenerateCpp(const lexicon::Catalog& catalog, const Options& options);

// Writes the files under `dir`, leaving files whose content is unchanged untouched (so builds
// do not recompile them) and removing nothing. All or nothing on errors is the caller's
// concern: generation fails before any file is written.
lex::Result<bool> WriteFiles(const GeneratedFiles& files, const std::string& dir);

// How `dir` differs from `files`, for a drift check of vendored output: each path (relative,
// sorted) that is missing, has other content, or is a stale generated file (one with lexgen's
// banner that no document generates any more). Empty when `dir` is up to date.
struct Drift {
  enum class Kind { kMissing, kDiffers, kStale };
  std::string path;
  Kind kind;
};
lex::Result<std::vector<Drift>> DiffFiles(const GeneratedFiles& files, const std::string& dir);

}  // namespace atipay::codegen

#endif  // ATIPAY_CODEGEN_CPP_GENERATOR_H_
