// The C++ side of the lexicon differential (tests/interop-ts/lexdiff.mjs): every case through
// the generated parsers, by a table that lexdiff-dispatch-gen writes for the whole corpus.
#ifndef ATIPAY_TESTS_CODEGEN_LEXDIFF_DRIVER_H_
#define ATIPAY_TESTS_CODEGEN_LEXDIFF_DRIVER_H_

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lex/params.h"
#include "lex/path.h"

namespace lexdiff {

enum class Part { kRecord, kObject, kParams, kInput, kOutput, kMessage };

// The first error, or "" when the value is accepted; nullopt when the case has no form the
// parser can take (params that a query string cannot carry).
using Verdict = std::optional<std::string>;

// A query string's params through the generated parser, as the server runs it: error "" and
// the decoded values (defaults filled in, as ToParamList writes them), or the first error.
struct QueryAnswer {
  std::string error;
  atipay::lex::ParamList decoded;
};

struct Entry {
  const char* schema;
  Part part;
  Verdict (*check)(const boost::json::value& value, const char* root);
  QueryAnswer (*query)(const atipay::lex::ParamList& params) = nullptr;  // params parts only
};

// Every entry of the table lexdiff-dispatch-gen wrote, in its batches.
std::vector<const Entry*> AllEntries();

const char* RootOf(Part part);

template <class T>
Verdict Json(const boost::json::value& value, const char* root) {
  T out;
  atipay::lex::Errors errors;
  return Parse(value, out, atipay::lex::Path(root), errors) ? std::string() : errors.message();
}

// A params object as a client puts it on the wire: scalars as text, arrays as repeated keys.
std::optional<atipay::lex::ParamList> ToParamList(const boost::json::value& value);

template <class P>
Verdict Params(const boost::json::value& value, const char* /*root*/) {
  std::optional<atipay::lex::ParamList> list = ToParamList(value);
  if (!list) return std::nullopt;
  P out;
  atipay::lex::Errors errors;
  return Parse(*list, out, errors) ? std::string() : errors.message();
}

template <class P>
QueryAnswer Query(const atipay::lex::ParamList& params) {
  P out;
  atipay::lex::Errors errors;
  if (!Parse(params, out, errors)) return {errors.message(), {}};
  return {std::string(), ToParamList(out)};
}

}  // namespace lexdiff

#endif  // ATIPAY_TESTS_CODEGEN_LEXDIFF_DRIVER_H_
