// What both drivers of the differentials share (lexdiff-driver, paramsdiff-driver): the
// table of generated parsers and the wire form of a params object.
#include "lexdiff_driver.h"

#include <boost/json/object.hpp>

#include "lex/data_model.h"

namespace lexdiff {

// Written by lexdiff-dispatch-gen (as many as CMake asks it for).
const std::vector<Entry>& Batch0();
const std::vector<Entry>& Batch1();
const std::vector<Entry>& Batch2();
const std::vector<Entry>& Batch3();

std::vector<const Entry*> AllEntries() {
  std::vector<const Entry*> all;
  for (const auto* batch : {&Batch0(), &Batch1(), &Batch2(), &Batch3()}) {
    for (const Entry& e : *batch) all.push_back(&e);
  }
  return all;
}

const char* RootOf(Part part) {
  switch (part) {
    case Part::kRecord:
      return "Record";
    case Part::kObject:
      return "Object";
    case Part::kParams:
      return "Params";
    case Part::kInput:
      return "Input";
    case Part::kOutput:
      return "Output";
    case Part::kMessage:
      return "Message";
  }
  return "";
}

std::optional<atipay::lex::ParamList> ToParamList(const boost::json::value& value) {
  const boost::json::object* obj = value.if_object();
  if (obj == nullptr) return std::nullopt;
  atipay::lex::ParamList list;
  auto add = [&](std::string_view key, const boost::json::value& v) {
    if (v.is_bool()) {
      list.emplace_back(key, atipay::lex::ParamText(v.get_bool()));
    } else if (v.is_string()) {
      list.emplace_back(key, std::string(v.get_string()));
    } else if (auto i = atipay::lex::JsonToInt64(v); i && !v.is_double()) {
      list.emplace_back(key, atipay::lex::ParamText(*i));
    } else {
      return false;
    }
    return true;
  };
  for (const auto& kv : *obj) {
    if (const boost::json::array* array = kv.value().if_array()) {
      for (const auto& item : *array) {
        if (!add(kv.key(), item)) return std::nullopt;
      }
    } else if (!add(kv.key(), kv.value())) {
      return std::nullopt;
    }
  }
  return list;
}

}  // namespace lexdiff
