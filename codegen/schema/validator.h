// Schema-driven validation of atproto JSON against a loaded catalog: the interpreter
// behind `lexgen validate`. Same rules and messages as the generated parsers, which share
// the runtime checks in lex/validate.h.
#ifndef ATIPAY_CODEGEN_SCHEMA_VALIDATOR_H_
#define ATIPAY_CODEGEN_SCHEMA_VALIDATOR_H_

#include <boost/json/value.hpp>
#include <string_view>

#include "lex/path.h"
#include "schema/catalog.h"

namespace atipay::lexicon {

enum class MethodPart { kNone, kParams, kInput, kOutput, kMessage };

class Validator {
 public:
  explicit Validator(const Catalog& catalog) : catalog_(catalog) {}

  // Validates against "nsid[#def]": a record (root "Record", $type checked), an object or any
  // other named def (root "Object"), or a part of a method (roots "Params", "Input", ...).
  // Returns false with a message in `errors` when the value or the schema name is bad.
  bool Validate(const boost::json::value& value, std::string_view schema, MethodPart part,
                lex::Errors& errors) const;

  bool ValidateNode(const boost::json::value& value, const Node& node, const lex::Path& path,
                    lex::Errors& errors) const;

 private:
  bool ValidateObject(const boost::json::value& value, const Node& node, const lex::Path& path,
                      lex::Errors& errors) const;
  bool ValidateRef(const boost::json::value& value, std::string_view uri, const lex::Path& path,
                   lex::Errors& errors) const;
  bool ValidateUnion(const boost::json::value& value, const Node& node, const lex::Path& path,
                     lex::Errors& errors) const;

  const Catalog& catalog_;
};

}  // namespace atipay::lexicon

#endif  // ATIPAY_CODEGEN_SCHEMA_VALIDATOR_H_
