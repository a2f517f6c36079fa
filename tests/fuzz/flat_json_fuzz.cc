// flat_json, the allocation-free reader of JWT headers and claims, against boost::json (which
// it promises to match, flat_json.h): the same texts are one valid object, and the members it
// captures have the values boost::json reads.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/flat_json.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay::auth;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  flat_json::Wanted wanted[] = {{"iss", {}}, {"exp", {}}, {"typ", {}}, {"a", {}}, {"", {}}};
  const bool flat_ok = flat_json::ParseObject(text, wanted);

  boost::json::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);  // default options: depth 32
  const bool boost_ok = !ec && value.is_object();
  FUZZ_CHECK(flat_ok == boost_ok, "flat_json says %d, boost::json %d (%s)", flat_ok, boost_ok,
             ec.message().c_str());
  if (!flat_ok) return 0;

  const boost::json::object& object = value.as_object();
  for (const flat_json::Wanted& w : wanted) {
    const boost::json::value* member = object.if_contains(w.name);
    FUZZ_CHECK(w.value.has_value() == (member != nullptr), "member presence");
    if (!member) continue;
    switch (w.value->kind) {
      case flat_json::Value::Kind::kString:
        FUZZ_CHECK(member->is_string() &&
                       flat_json::DecodeString(*w.value) == std::string_view(member->as_string()),
                   "string member differs");
        break;
      case flat_json::Value::Kind::kNumber:
        FUZZ_CHECK(member->is_number(), "number member");
        if (auto n = flat_json::PositiveInteger(*w.value)) {
          const bool same =
              (member->is_int64() && member->as_int64() == *n) ||
              (member->is_uint64() && member->as_uint64() == static_cast<std::uint64_t>(*n));
          FUZZ_CHECK(same, "integer member differs");
        }
        break;
      case flat_json::Value::Kind::kOther:
        FUZZ_CHECK(!member->is_string() && !member->is_number(), "other member");
        break;
    }
  }
  return 0;
}
