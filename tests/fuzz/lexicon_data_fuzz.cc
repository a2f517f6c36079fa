// Data against the atiproto lexicons, through both validators: the generated parsers (what the
// server runs) and the schema interpreter (lexgen validate). Input: one byte choosing the
// schema, then JSON. Oracle: both give the same verdict and message, and whatever the
// generated parser accepts serializes back to the same JSON (unknown properties included).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "com/atiproto/actions.h"
#include "com/atiproto/cart.h"
#include "com/atiproto/item.h"
#include "com/atiproto/payment/cart/clone.h"
#include "com/atiproto/payment/cart/create.h"
#include "com/atiproto/payment/cart/put.h"
#include "com/atiproto/payment/item/create.h"
#include "com/atiproto/payment/subscription/create.h"
#include "com/atiproto/profile.h"
#include "com/atiproto/recipient/profile/put.h"
#include "com/atiproto/subscription.h"
#include "fuzz_check.h"
#include "schema/catalog.h"
#include "schema/loader.h"
#include "schema/validator.h"

namespace {

namespace ati = ::lexicons::com::atiproto;
using atipay::lexicon::MethodPart;

struct Verdict {
  std::string message;  // empty: valid
  boost::json::value round_trip;
};

template <class T>
Verdict Generated(const boost::json::value& data, std::string_view root) {
  T out;
  atipay::lex::Errors errors;
  if (!Parse(data, out, atipay::lex::Path(root), errors)) return {errors.message(), nullptr};
  return {"", ToJson(out)};
}

struct Schema {
  const char* name;
  MethodPart part;
  const char* root;
  Verdict (*generated)(const boost::json::value&, std::string_view);
};

const Schema kSchemas[] = {
    {"com.atiproto.cart", MethodPart::kNone, "Record", &Generated<ati::cart::Record>},
    {"com.atiproto.item", MethodPart::kNone, "Record", &Generated<ati::item::Record>},
    {"com.atiproto.subscription", MethodPart::kNone, "Record",
     &Generated<ati::subscription::Record>},
    {"com.atiproto.profile", MethodPart::kNone, "Record", &Generated<ati::profile::Record>},
    {"com.atiproto.actions#inboundWorkflow", MethodPart::kNone, "Object",
     &Generated<ati::actions::InboundWorkflow>},
    {"com.atiproto.actions#outboundWorkflow", MethodPart::kNone, "Object",
     &Generated<ati::actions::OutboundWorkflow>},
    {"com.atiproto.payment.cart.clone", MethodPart::kInput, "Input",
     &Generated<ati::payment::cart::clone::Input>},
    {"com.atiproto.payment.cart.create", MethodPart::kInput, "Input",
     &Generated<ati::payment::cart::create::Input>},
    {"com.atiproto.payment.cart.put", MethodPart::kInput, "Input",
     &Generated<ati::payment::cart::put::Input>},
    {"com.atiproto.payment.item.create", MethodPart::kInput, "Input",
     &Generated<ati::payment::item::create::Input>},
    {"com.atiproto.payment.subscription.create", MethodPart::kInput, "Input",
     &Generated<ati::payment::subscription::create::Input>},
    {"com.atiproto.recipient.profile.put", MethodPart::kInput, "Input",
     &Generated<ati::recipient::profile::put::Input>},
};

const atipay::lexicon::Catalog* catalog = nullptr;

// JSON numbers as the data model sees them: 3.0 is the integer 3 (JavaScript has one number
// type; the validators accept it as an integer and the generated types keep it as one).
boost::json::value Normalized(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (d >= -9.2e18 && d <= 9.2e18 && d == static_cast<double>(static_cast<std::int64_t>(d)))
        return static_cast<std::int64_t>(d);
      return v;
    }
    case boost::json::kind::uint64:
      if (v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v.get_uint64());
      return v;
    case boost::json::kind::array: {
      boost::json::array out;
      for (const auto& e : v.get_array()) out.push_back(Normalized(e));
      return out;
    }
    case boost::json::kind::object: {
      boost::json::object out;
      for (const auto& kv : v.get_object()) out[kv.key()] = Normalized(kv.value());
      return out;
    }
    default:
      return v;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto docs = atipay::lexicon::LoadInputs({ATIPAY_SOURCE_DIR "/lexicons"});
  FUZZ_CHECK(docs.ok(), "cannot load the lexicons: %s", docs.error().message.c_str());
  catalog = new atipay::lexicon::Catalog(std::move(docs).value());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Schema& schema = kSchemas[data[0] % std::size(kSchemas)];
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  const boost::json::value value = boost::json::parse(
      std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), ec, {}, options);
  if (ec) return 0;

  atipay::lexicon::Validator validator(*catalog);
  atipay::lex::Errors errors;
  const std::string dynamic =
      validator.Validate(value, schema.name, schema.part, errors) ? "" : errors.message();
  const Verdict generated = schema.generated(value, schema.root);
  FUZZ_CHECK(generated.message == dynamic, "%s: generated \"%s\", validator \"%s\"", schema.name,
             generated.message.c_str(), dynamic.c_str());
  if (generated.message.empty()) {
    FUZZ_CHECK(Normalized(generated.round_trip) == Normalized(value), "%s: round trip gave %s",
               schema.name,
               boost::json::serialize(generated.round_trip).c_str());
  }
  return 0;
}
