// Reading and checking lexicon documents. A document that breaks the Lexicon language is
// rejected with "<file>: <json path>: <reason>".
#ifndef ATIPAY_CODEGEN_SCHEMA_LOADER_H_
#define ATIPAY_CODEGEN_SCHEMA_LOADER_H_

#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "lex/result.h"
#include "schema/schema.h"

namespace atipay::lexicon {

// Checks one parsed JSON document against the Lexicon language and builds its model.
lex::Result<Document> LoadDocument(const boost::json::value& json, const std::string& source);

// Parses and loads one file.
lex::Result<Document> LoadFile(const std::string& path);

// Loads every *.json under each input (files, or directories searched recursively), in a
// stable order. Fails on the first bad document, or on two documents with the same id.
lex::Result<std::vector<Document>> LoadInputs(const std::vector<std::string>& inputs);

}  // namespace atipay::lexicon

#endif  // ATIPAY_CODEGEN_SCHEMA_LOADER_H_
