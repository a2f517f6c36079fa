// The atiproto lexicons (lexicons/atiproto) through the generated types and the
// schema-driven Validator.
//
// Part 1: realistic records, workflow envelopes and method bodies parse, validate and
// round-trip unchanged (unknown properties included).
//
// Part 2: every constraint in the lexicons gets a failing case, generated rather than picked
// by hand. A walker goes over every record, object def and method part of the catalog loaded
// from lexicons/, builds a valid sample per schema node, and for each constraint it meets
// (required property, type, null, string lengths / graphemes / enum / const / format, integer
// range / enum / const, array length, union $type, closed union, unknown data model, blob,
// bytes, cid-link, record $type) emits one mutation that breaks exactly that constraint,
// with the message the TypeScript reference gives, plus positive cases at the boundaries.
// Each case goes through the Validator and through the generated parser of the def; both
// must give the expected verdict. A separate structural pass lists every constraint site in
// the lexicons, and every site must have been hit by at least one failing case.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "com/atiproto/actions.h"
#include "com/atiproto/cart.h"
#include "com/atiproto/item.h"
#include "com/atiproto/payment/cart/clone.h"
#include "com/atiproto/payment/cart/create.h"
#include "com/atiproto/payment/cart/get.h"
#include "com/atiproto/payment/cart/list.h"
#include "com/atiproto/payment/cart/put.h"
#include "com/atiproto/payment/item/create.h"
#include "com/atiproto/payment/item/get.h"
#include "com/atiproto/payment/item/list.h"
#include "com/atiproto/payment/item/put.h"
#include "com/atiproto/payment/item/validate.h"
#include "com/atiproto/payment/list.h"
#include "com/atiproto/payment/subscription/cancel.h"
#include "com/atiproto/payment/subscription/create.h"
#include "com/atiproto/payment/subscription/get.h"
#include "com/atiproto/payment/subscription/list.h"
#include "com/atiproto/payment/subscription/put.h"
#include "com/atiproto/payment/subscription/validate.h"
#include "com/atiproto/profile.h"
#include "com/atiproto/recipient/payment/cart/get.h"
#include "com/atiproto/recipient/payment/cart/list.h"
#include "com/atiproto/recipient/payment/item/get.h"
#include "com/atiproto/recipient/payment/item/list.h"
#include "com/atiproto/recipient/payment/item/validate.h"
#include "com/atiproto/recipient/payment/subscription/get.h"
#include "com/atiproto/recipient/payment/subscription/list.h"
#include "com/atiproto/recipient/payment/subscription/validate.h"
#include "com/atiproto/recipient/profile/get.h"
#include "com/atiproto/recipient/profile/put.h"
#include "com/atiproto/repo/item/count.h"
#include "com/atiproto/repo/profile/get.h"
#include "com/atiproto/repo/subscription/count.h"
#include "com/atiproto/subscription.h"
#include "lex/params.h"
#include "schema/catalog.h"
#include "schema/loader.h"
#include "schema/validator.h"

namespace atipay::lexicon {
namespace {

namespace json = boost::json;
namespace ati = ::lexicons::com::atiproto;

constexpr std::string_view kValid = "valid";

// ---------------------------------------------------------------------------------------
// The generated side: one parser per def URI.

struct Outcome {
  std::string verdict;     // "valid" or the first error
  json::value round_trip;  // ToJson of the parsed value (params: the ToParamList pairs)
};

template <class T>
Outcome ParseBody(const json::value& data, std::string_view root) {
  T out;
  lex::Errors errors;
  if (!Parse(data, out, lex::Path(root), errors)) return {errors.message(), nullptr};
  return {std::string(kValid), ToJson(out)};
}

// Query parameters travel as text: a JSON params object maps to the wire form, when it can.
std::optional<std::string> ParamText(const json::value& v) {
  if (const json::string* s = v.if_string()) return std::string(*s);
  if (v.is_int64()) return lex::ParamText(v.get_int64());
  if (v.is_bool()) return lex::ParamText(v.get_bool());
  return std::nullopt;
}

std::optional<lex::ParamList> ToWire(const json::value& params) {
  lex::ParamList out;
  for (const auto& member : params.as_object()) {
    const std::string key(member.key());
    if (const json::array* items = member.value().if_array()) {
      for (const json::value& item : *items) {
        std::optional<std::string> text = ParamText(item);
        if (!text) return std::nullopt;
        out.emplace_back(key, *text);
      }
    } else {
      std::optional<std::string> text = ParamText(member.value());
      if (!text) return std::nullopt;
      out.emplace_back(key, *text);
    }
  }
  return out;
}

// Wire pairs as JSON: a key once is a string, a repeated key an array of strings.
json::value FromWire(const lex::ParamList& params) {
  std::map<std::string, std::vector<std::string>> grouped;
  for (const auto& [key, text] : params) grouped[key].push_back(text);
  json::object out;
  for (const auto& [key, texts] : grouped) {
    if (texts.size() == 1) {
      out[key] = texts.front();
    } else {
      json::array items;
      for (const std::string& t : texts) items.emplace_back(t);
      out[key] = std::move(items);
    }
  }
  return out;
}

template <class P>
Outcome ParseParams(const json::value& data, std::string_view /*root*/) {
  std::optional<lex::ParamList> wire = ToWire(data);
  if (!wire) return {"not representable as query parameters", nullptr};
  P out;
  lex::Errors errors;
  if (!Parse(*wire, out, errors)) return {errors.message(), nullptr};
  return {std::string(kValid), FromWire(ToParamList(out))};
}

using GeneratedParser = Outcome (*)(const json::value&, std::string_view root);

// Every def the walker visits must be here, and nothing else: a new lexicon def without a
// generated parser wired in fails GeneratedParsersCoverExactlyTheVisitedDefs.
const std::map<std::string, GeneratedParser>& GeneratedParsers() {
  static const auto* const table = new std::map<std::string, GeneratedParser>{
      {"com.atiproto.actions#create", &ParseBody<ati::actions::Create>},
      {"com.atiproto.actions#update", &ParseBody<ati::actions::Update>},
      {"com.atiproto.actions#delete", &ParseBody<ati::actions::Delete>},
      {"com.atiproto.actions#raise", &ParseBody<ati::actions::Raise>},
      {"com.atiproto.actions#response", &ParseBody<ati::actions::Response>},
      {"com.atiproto.actions#recordResult", &ParseBody<ati::actions::RecordResult>},
      {"com.atiproto.actions#error", &ParseBody<ati::actions::Error>},
      {"com.atiproto.actions#inboundWorkflow", &ParseBody<ati::actions::InboundWorkflow>},
      {"com.atiproto.actions#outboundWorkflow", &ParseBody<ati::actions::OutboundWorkflow>},
      {"com.atiproto.cart#main", &ParseBody<ati::cart::Record>},
      {"com.atiproto.cart#view", &ParseBody<ati::cart::View>},
      {"com.atiproto.cart#cartItem", &ParseBody<ati::cart::CartItem>},
      {"com.atiproto.item#main", &ParseBody<ati::item::Record>},
      {"com.atiproto.item#view", &ParseBody<ati::item::View>},
      {"com.atiproto.profile#main", &ParseBody<ati::profile::Record>},
      {"com.atiproto.profile#view", &ParseBody<ati::profile::View>},
      {"com.atiproto.subscription#main", &ParseBody<ati::subscription::Record>},
      {"com.atiproto.subscription#view", &ParseBody<ati::subscription::View>},
      {"com.atiproto.payment.cart.clone#main:input", &ParseBody<ati::payment::cart::clone::Input>},
      {"com.atiproto.payment.cart.clone#main:output",
       &ParseBody<ati::payment::cart::clone::Output>},
      {"com.atiproto.payment.cart.create#main:input",
       &ParseBody<ati::payment::cart::create::Input>},
      {"com.atiproto.payment.cart.create#main:output",
       &ParseBody<ati::payment::cart::create::Output>},
      {"com.atiproto.payment.cart.get#main:params", &ParseParams<ati::payment::cart::get::Params>},
      {"com.atiproto.payment.cart.get#main:output", &ParseBody<ati::payment::cart::get::Output>},
      {"com.atiproto.payment.cart.list#main:params",
       &ParseParams<ati::payment::cart::list::Params>},
      {"com.atiproto.payment.cart.list#main:output", &ParseBody<ati::payment::cart::list::Output>},
      {"com.atiproto.payment.cart.list#cartResponse",
       &ParseBody<ati::payment::cart::list::CartResponse>},
      {"com.atiproto.payment.cart.put#main:input", &ParseBody<ati::payment::cart::put::Input>},
      {"com.atiproto.payment.cart.put#main:output", &ParseBody<ati::payment::cart::put::Output>},
      {"com.atiproto.payment.item.create#main:input",
       &ParseBody<ati::payment::item::create::Input>},
      {"com.atiproto.payment.item.create#main:output",
       &ParseBody<ati::payment::item::create::Output>},
      {"com.atiproto.payment.item.get#main:params", &ParseParams<ati::payment::item::get::Params>},
      {"com.atiproto.payment.item.get#main:output", &ParseBody<ati::payment::item::get::Output>},
      {"com.atiproto.payment.item.list#main:params",
       &ParseParams<ati::payment::item::list::Params>},
      {"com.atiproto.payment.item.list#main:output", &ParseBody<ati::payment::item::list::Output>},
      {"com.atiproto.payment.item.put#main:input", &ParseBody<ati::payment::item::put::Input>},
      {"com.atiproto.payment.item.put#main:output", &ParseBody<ati::payment::item::put::Output>},
      {"com.atiproto.payment.item.validate#main:params",
       &ParseParams<ati::payment::item::validate::Params>},
      {"com.atiproto.payment.item.validate#main:output",
       &ParseBody<ati::payment::item::validate::Output>},
      {"com.atiproto.payment.list#main:params", &ParseParams<ati::payment::list::Params>},
      {"com.atiproto.payment.list#main:output", &ParseBody<ati::payment::list::Output>},
      {"com.atiproto.payment.subscription.cancel#main:input",
       &ParseBody<ati::payment::subscription::cancel::Input>},
      {"com.atiproto.payment.subscription.cancel#main:output",
       &ParseBody<ati::payment::subscription::cancel::Output>},
      {"com.atiproto.payment.subscription.create#main:input",
       &ParseBody<ati::payment::subscription::create::Input>},
      {"com.atiproto.payment.subscription.create#main:output",
       &ParseBody<ati::payment::subscription::create::Output>},
      {"com.atiproto.payment.subscription.get#main:params",
       &ParseParams<ati::payment::subscription::get::Params>},
      {"com.atiproto.payment.subscription.get#main:output",
       &ParseBody<ati::payment::subscription::get::Output>},
      {"com.atiproto.payment.subscription.list#main:params",
       &ParseParams<ati::payment::subscription::list::Params>},
      {"com.atiproto.payment.subscription.list#main:output",
       &ParseBody<ati::payment::subscription::list::Output>},
      {"com.atiproto.payment.subscription.put#main:input",
       &ParseBody<ati::payment::subscription::put::Input>},
      {"com.atiproto.payment.subscription.put#main:output",
       &ParseBody<ati::payment::subscription::put::Output>},
      {"com.atiproto.payment.subscription.validate#main:params",
       &ParseParams<ati::payment::subscription::validate::Params>},
      {"com.atiproto.payment.subscription.validate#main:output",
       &ParseBody<ati::payment::subscription::validate::Output>},
      {"com.atiproto.recipient.payment.cart.get#main:params",
       &ParseParams<ati::recipient::payment::cart::get::Params>},
      {"com.atiproto.recipient.payment.cart.get#main:output",
       &ParseBody<ati::recipient::payment::cart::get::Output>},
      {"com.atiproto.recipient.payment.cart.list#main:params",
       &ParseParams<ati::recipient::payment::cart::list::Params>},
      {"com.atiproto.recipient.payment.cart.list#main:output",
       &ParseBody<ati::recipient::payment::cart::list::Output>},
      {"com.atiproto.recipient.payment.cart.list#cartResponse",
       &ParseBody<ati::recipient::payment::cart::list::CartResponse>},
      {"com.atiproto.recipient.payment.item.get#main:params",
       &ParseParams<ati::recipient::payment::item::get::Params>},
      {"com.atiproto.recipient.payment.item.get#main:output",
       &ParseBody<ati::recipient::payment::item::get::Output>},
      {"com.atiproto.recipient.payment.item.list#main:params",
       &ParseParams<ati::recipient::payment::item::list::Params>},
      {"com.atiproto.recipient.payment.item.list#main:output",
       &ParseBody<ati::recipient::payment::item::list::Output>},
      {"com.atiproto.recipient.payment.item.validate#main:params",
       &ParseParams<ati::recipient::payment::item::validate::Params>},
      {"com.atiproto.recipient.payment.item.validate#main:output",
       &ParseBody<ati::recipient::payment::item::validate::Output>},
      {"com.atiproto.recipient.payment.subscription.get#main:params",
       &ParseParams<ati::recipient::payment::subscription::get::Params>},
      {"com.atiproto.recipient.payment.subscription.get#main:output",
       &ParseBody<ati::recipient::payment::subscription::get::Output>},
      {"com.atiproto.recipient.payment.subscription.list#main:params",
       &ParseParams<ati::recipient::payment::subscription::list::Params>},
      {"com.atiproto.recipient.payment.subscription.list#main:output",
       &ParseBody<ati::recipient::payment::subscription::list::Output>},
      {"com.atiproto.recipient.payment.subscription.validate#main:params",
       &ParseParams<ati::recipient::payment::subscription::validate::Params>},
      {"com.atiproto.recipient.payment.subscription.validate#main:output",
       &ParseBody<ati::recipient::payment::subscription::validate::Output>},
      {"com.atiproto.recipient.profile.get#main:output",
       &ParseBody<ati::recipient::profile::get::Output>},
      {"com.atiproto.recipient.profile.put#main:input",
       &ParseBody<ati::recipient::profile::put::Input>},
      {"com.atiproto.recipient.profile.put#main:output",
       &ParseBody<ati::recipient::profile::put::Output>},
      {"com.atiproto.repo.item.count#main:params", &ParseParams<ati::repo::item::count::Params>},
      {"com.atiproto.repo.item.count#main:output", &ParseBody<ati::repo::item::count::Output>},
      {"com.atiproto.repo.profile.get#main:params", &ParseParams<ati::repo::profile::get::Params>},
      {"com.atiproto.repo.profile.get#main:output", &ParseBody<ati::repo::profile::get::Output>},
      {"com.atiproto.repo.subscription.count#main:params",
       &ParseParams<ati::repo::subscription::count::Params>},
      {"com.atiproto.repo.subscription.count#main:output",
       &ParseBody<ati::repo::subscription::count::Output>},
  };
  return *table;
}

// ---------------------------------------------------------------------------------------
// Entry points: the records, object defs and method parts of the catalog.

struct Entry {
  std::string key;     // "com.atiproto.cart#main", "com.atiproto.payment.cart.clone#main:input"
  std::string schema;  // what Validator::Validate takes
  MethodPart part = MethodPart::kNone;
  std::string root;  // "Record", "Object", "Params", "Input", "Output"
  const Def* def = nullptr;
  const Node* node = nullptr;  // the record def, object def, params or body schema
  std::string nsid;
};

std::vector<Entry> EntryPoints(const Catalog& catalog, std::vector<std::string>* unsupported) {
  std::vector<Entry> out;
  for (const Document& doc : catalog.documents()) {
    for (const Def& def : doc.defs) {
      const Node& n = def.node;
      const std::string uri = DefUri(doc.id, def.name);
      switch (n.kind) {
        case Kind::kRecord:
          out.push_back({uri, doc.id, MethodPart::kNone, "Record", &def, &n, doc.id});
          break;
        case Kind::kObject:
          out.push_back({uri, uri, MethodPart::kNone, "Object", &def, &n, doc.id});
          break;
        case Kind::kQuery:
        case Kind::kProcedure:
          if (n.parameters) {
            out.push_back({uri + ":params", doc.id, MethodPart::kParams, "Params", &def,
                           n.parameters.get(), doc.id});
          }
          if (n.input && n.input->schema) {
            out.push_back({uri + ":input", doc.id, MethodPart::kInput, "Input", &def,
                           n.input->schema.get(), doc.id});
          }
          if (n.output && n.output->schema) {
            out.push_back({uri + ":output", doc.id, MethodPart::kOutput, "Output", &def,
                           n.output->schema.get(), doc.id});
          }
          break;
        case Kind::kPermissionSet:
        case Kind::kToken:
          break;  // no data form
        default:
          unsupported->push_back(uri + " (" + std::string(KindName(n.kind)) + ")");
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Sample values.

struct FormatSamples {
  std::vector<std::string> valid;  // the first is the default sample
  std::string invalid;
  std::string message;  // the TypeScript reference's wording after the path
};

const std::map<lex::StringFormat, FormatSamples>& Formats() {
  using F = lex::StringFormat;
  static const auto* const formats = new std::map<lex::StringFormat, FormatSamples>{
      {F::kDid,
       {{"did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:web:pay.atiproto.com"},
        "alice.bsky.social",  // a handle where a DID belongs
        "must be a valid did"}},
      {F::kAtUri,
       {{"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqbn7ycz22k",
         "at://alice.bsky.social/app.bsky.feed.post/3lbqbn2vkfc2s"},
        "https://bsky.app/profile/alice.bsky.social/post/3lbqbn2vkfc2s",
        "must be a valid at-uri"}},
      {F::kDatetime,
       {{"2024-11-21T10:15:00.000Z", "2024-11-21T11:15:00+01:00"},
        "2024-11-21 10:15:00",
        "must be an valid atproto datetime (both RFC-3339 and ISO-8601)"}},
      {F::kUri,
       {{"https://pay.atiproto.com/checkout/cs_test_a1B2c3",
         "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz"},
        "pay.atiproto.com/checkout",
        "must be a uri"}},
      {F::kCid,
       {{"bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
        "bafyrei-not-a-cid",
        "must be a cid string"}},
      {F::kNsid,
       {{"com.atiproto.item", "com.atiproto.subscription"},
        "com.atiproto",
        "must be a valid nsid"}},
      {F::kHandle, {{"alice.bsky.social"}, "alice", "must be a valid handle"}},
      {F::kAtIdentifier,
       {{"alice.bsky.social", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"},
        "@alice.bsky.social",
        "must be a valid did or a handle"}},
      {F::kLanguage, {{"en", "pt-BR"}, "en_US", "must be a well-formed BCP 47 language tag"}},
      {F::kRecordKey, {{"self", "3lbqbn7ycz22k"}, "a/b", "must be a valid Record Key"}},
  };
  return *formats;
}

// A string of exactly `bytes` UTF-8 bytes that is exactly `graphemes` extended grapheme
// clusters: bases "a" (or one "é" to fix the parity) carrying combining acute accents
// (U+0301, two bytes, Grapheme_Extend) spread round-robin.
std::string MakeText(std::int64_t bytes, std::int64_t graphemes) {
  if (graphemes <= 0 || bytes < graphemes) {
    ADD_FAILURE() << "MakeText(" << bytes << ", " << graphemes << ") is impossible";
    return std::string(static_cast<std::size_t>(std::max<std::int64_t>(bytes, 0)), 'a');
  }
  std::vector<std::string> clusters(static_cast<std::size_t>(graphemes), "a");
  std::int64_t extra = bytes - graphemes;
  if (extra % 2 == 1) {
    clusters[0] = "\xc3\xa9";  // é
    --extra;
  }
  for (std::size_t i = 0; extra > 0; extra -= 2, i = (i + 1) % clusters.size()) {
    clusters[i] += "\xcc\x81";
  }
  std::string out;
  for (const std::string& c : clusters) out += c;
  return out;
}

std::string JoinEnum(const std::vector<std::string>& values) {
  std::string out = "must be one of (";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i > 0 ? "|" : "") + values[i];
  return out + ")";
}

// The $type a union member carries in data: the bare NSID for main defs, as records write it.
std::string MemberType(const std::string& ref) {
  constexpr std::string_view kMain = "#main";
  if (ref.ends_with(kMain)) return ref.substr(0, ref.size() - kMain.size());
  return ref;
}

bool HasDefault(const Node& n) {
  return n.bool_default.has_value() || n.int_default.has_value() || n.string_default.has_value();
}

// ---------------------------------------------------------------------------------------
// The case generator.

struct Case {
  std::string entry;     // key of the entry point
  std::string label;     // what the case exercises
  json::value data;      // the whole document handed to both parsers
  std::string expected;  // "valid" or the exact message
  bool wire = true;      // params only: false when query text can not express the mutation
};

// A constraint site: a schema node and the constraint on it ("maxLength", "required:uri").
using Site = std::pair<const Node*, std::string>;

using Segments = std::vector<std::string>;
using Rebuild = std::function<json::value(json::value)>;

std::string Render(const std::string& root, const Segments& at) {
  std::string out = root;
  for (const std::string& s : at) out += "/" + s;
  return out;
}

Segments Append(Segments at, std::string segment) {
  at.push_back(std::move(segment));
  return at;
}

class CaseGenerator {
 public:
  explicit CaseGenerator(const Catalog& catalog) : catalog_(catalog) {}

  void Generate(const Entry& entry) {
    entry_ = &entry;
    params_ = entry.part == MethodPart::kParams;
    const Rebuild identity = [](json::value v) { return v; };
    if (entry.node->kind == Kind::kRecord) {
      const Node& object = *entry.node->record;
      json::value full = WithRecordType(Sample(object, false), entry.nsid);
      Positive("full sample", full);
      Positive("required properties only", WithRecordType(Sample(object, true), entry.nsid));
      Negative(*entry.node, "type", json::value("not a record"), {}, "must be an object");
      json::object untyped = full.as_object();
      untyped.erase("$type");
      Negative(*entry.node, "$type", untyped, {"$type"}, "must be a string");
      json::object mistyped = full.as_object();
      const std::string other = "com.example.notThisRecord";
      mistyped["$type"] = other;
      NegativeMessage(*entry.node, "$type", mistyped,
                      "Invalid $type: must be " + entry.nsid + ", got " + other);
      WalkObject(object, full, identity, {}, /*check_type=*/false);
      return;
    }
    json::value full = Sample(*entry.node, false);
    Positive("full sample", full);
    Positive("required properties only", Sample(*entry.node, true));
    if (params_) {
      WalkObject(*entry.node, full, identity, {}, false);
      return;
    }
    if (entry.part != MethodPart::kNone) {
      // Bodies must be objects before anything else is looked at.
      Negative(*entry.node, "type", json::array{full}, {}, "must be an object");
      Walk(*entry.node, full, identity, {}, /*check_type=*/false);
      return;
    }
    Walk(*entry.node, full, identity, {}, /*check_type=*/true);
  }

  const std::vector<Case>& cases() const { return cases_; }
  const std::set<Site>& hit() const { return hit_; }

 private:
  static json::value WithRecordType(json::value object, const std::string& nsid) {
    json::object out;
    out["$type"] = nsid;
    for (const auto& member : object.as_object()) out[member.key()] = member.value();
    return out;
  }

  // The def a ref names, or a failure.
  const Def* Target(const std::string& ref) {
    std::optional<DefRef> target = catalog_.Resolve(ref);
    if (!target) {
      ADD_FAILURE() << entry_->key << ": unresolved ref " << ref;
      return nullptr;
    }
    return target->def;
  }

  json::value Sample(const Node& node, bool minimal) {
    switch (node.kind) {
      case Kind::kBoolean:
        return node.bool_const.value_or(true);
      case Kind::kInteger:
        if (node.int_const) return *node.int_const;
        if (!node.int_enum.empty()) return node.int_enum.front();
        if (node.minimum) return *node.minimum;
        if (node.maximum) return std::min<std::int64_t>(*node.maximum, 0);
        return 1500;
      case Kind::kString:
        return json::string(SampleString(node));
      case Kind::kBytes:
        return json::object{{"$bytes", "AQID"}};
      case Kind::kCidLink:
        return json::object{{"$link", Formats().at(lex::StringFormat::kCid).valid[0]}};
      case Kind::kBlob:
        return json::object{{"$type", "blob"},
                            {"ref", {{"$link", Formats().at(lex::StringFormat::kCid).valid[0]}}},
                            {"mimeType", json::string(SampleMime(node))},
                            {"size", std::min<std::int64_t>(node.max_size.value_or(1000), 1000)}};
      case Kind::kArray: {
        json::array items;
        const std::int64_t n = std::max<std::int64_t>(node.min_length.value_or(0), minimal ? 0 : 1);
        for (std::int64_t i = 0; i < n; ++i) items.push_back(Sample(*node.items, minimal));
        return items;
      }
      case Kind::kObject:
      case Kind::kParams: {
        json::object out;
        for (const Property& p : node.properties) {
          if (minimal && !p.required) continue;
          if (p.type->kind == Kind::kRef && OnStack(p.type->ref)) {
            if (p.required) ADD_FAILURE() << entry_->key << ": required recursive ref " << p.name;
            continue;
          }
          out[p.name] = Sample(*p.type, minimal);
        }
        return out;
      }
      case Kind::kRef: {
        const Def* target = Target(node.ref);
        if (target == nullptr) return nullptr;
        if (OnStack(node.ref)) {
          ADD_FAILURE() << entry_->key << ": no finite sample through recursive ref " << node.ref;
          return json::object{};
        }
        stack_.push_back(node.ref);
        json::value out =
            target->node.kind == Kind::kRecord
                ? WithRecordType(Sample(*target->node.record, minimal), MemberType(node.ref))
                : Sample(target->node, minimal);
        stack_.pop_back();
        return out;
      }
      case Kind::kUnion:
        return MemberSample(node.refs.front(), minimal);
      case Kind::kUnknown:
        return UnknownSample();
      default:
        ADD_FAILURE() << entry_->key << ": no sample for a " << KindName(node.kind);
        return nullptr;
    }
  }

  json::value MemberSample(const std::string& ref, bool minimal) {
    const Def* target = Target(ref);
    if (target == nullptr) return nullptr;
    stack_.push_back(ref);
    const Node& object = target->node.kind == Kind::kRecord ? *target->node.record : target->node;
    json::value sample = Sample(object, minimal);
    stack_.pop_back();
    json::object out;
    out["$type"] = MemberType(ref);
    for (const auto& member : sample.as_object()) out[member.key()] = member.value();
    return out;
  }

  static json::value UnknownSample() {
    return json::parse(R"({"$type":"com.example.note","text":"kept verbatim","n":3,
                           "nested":{"list":[1,"two",true,null]}})");
  }

  static std::string SampleMime(const Node& node) {
    if (node.accept.empty()) return "image/png";
    std::string pattern = node.accept.front();
    if (pattern == "*/*") return "application/octet-stream";
    if (pattern.ends_with("/*")) return pattern.substr(0, pattern.size() - 1) + "png";
    return pattern;
  }

  std::string SampleString(const Node& node) {
    if (node.string_const) return *node.string_const;
    if (!node.string_enum.empty()) return node.string_enum.front();
    if (node.format) {
      auto it = Formats().find(*node.format);
      if (it == Formats().end()) {
        ADD_FAILURE() << "no samples for format " << lex::StringFormatName(*node.format);
        return "";
      }
      const std::string& s = it->second.valid.front();
      if (node.min_length || node.max_length || node.min_graphemes || node.max_graphemes) {
        ADD_FAILURE() << entry_->key << ": a formatted string with length limits needs samples";
      }
      return s;
    }
    const std::int64_t graphemes =
        std::max<std::int64_t>({1, node.min_graphemes.value_or(0), node.min_length.value_or(0)});
    return MakeText(graphemes, graphemes);
  }

  bool OnStack(const std::string& ref) const {
    return std::find(stack_.begin(), stack_.end(), ref) != stack_.end();
  }

  // Recording cases.

  void Positive(std::string label, json::value data, bool wire = true) {
    cases_.push_back({entry_->key, std::move(label), std::move(data), std::string(kValid), wire});
  }

  void Negative(const Node& node, const std::string& constraint, json::value data,
                const Segments& at, const std::string& what, bool wire = true) {
    NegativeMessage(node, constraint, std::move(data), Render(entry_->root, at) + " " + what, wire);
  }

  void NegativeMessage(const Node& node, const std::string& constraint, json::value data,
                       std::string message, bool wire = true) {
    hit_.insert({&node, constraint});
    cases_.push_back({entry_->key, constraint, std::move(data), std::move(message), wire});
  }

  // The message a value of the wrong JSON type gets for `node`.
  std::string TypeMessage(const Node& node) {
    switch (node.kind) {
      case Kind::kBoolean:
        return "must be a boolean";
      case Kind::kInteger:
        return "must be an integer";
      case Kind::kString:
        return "must be a string";
      case Kind::kArray:
        return "must be an array";
      case Kind::kUnion:
        return "must be an object which includes the \"$type\" property";
      case Kind::kBytes:
        return "must be a byte array";
      case Kind::kCidLink:
        return "must be a CID";
      case Kind::kBlob:
        return "should be a blob ref";
      case Kind::kRef: {
        const Def* target = Target(node.ref);
        if (target == nullptr) return "";
        const Kind k = target->node.kind;
        if (k == Kind::kRecord || k == Kind::kObject) return "must be an object";
        return TypeMessage(target->node);
      }
      default:
        return "must be an object";
    }
  }

  // A value of the wrong JSON type for `node`; query text can carry only strings.
  json::value WrongType(const Node& node) {
    switch (node.kind) {
      case Kind::kBoolean:
        return json::value("yes");
      case Kind::kInteger:
        return params_ ? json::value("ten") : json::value("10");
      case Kind::kString:
        return 7;
      case Kind::kArray:
        return json::object{};
      default:
        return json::value("not an object");
    }
  }

  // Walking: `here` is the valid value at `at`; `rebuild` puts a replacement for it back into
  // the whole document.

  void Walk(const Node& node, const json::value& here, const Rebuild& rebuild, const Segments& at,
            bool check_type) {
    if (check_type) {
      // Query text is always a string, so a string param can not get the wrong type.
      const bool wire = !(params_ && node.kind == Kind::kString);
      Negative(node, "type", rebuild(WrongType(node)), at, TypeMessage(node), wire);
      if (node.kind == Kind::kInteger && !params_) {
        Negative(node, "type", rebuild(12.5), at, "must be an integer");
      }
    }
    switch (node.kind) {
      case Kind::kBoolean:
        if (node.bool_const) {
          Negative(node, "const", rebuild(!*node.bool_const), at,
                   *node.bool_const ? "must be true" : "must be false");
        }
        return;
      case Kind::kInteger:
        return WalkInteger(node, rebuild, at);
      case Kind::kString:
        return WalkString(node, rebuild, at);
      case Kind::kArray:
        return WalkArray(node, here, rebuild, at);
      case Kind::kObject:
      case Kind::kParams:
        return WalkObject(node, here, rebuild, at, false);
      case Kind::kRef:
        return WalkRef(node, here, rebuild, at);
      case Kind::kUnion:
        return WalkUnion(node, here, rebuild, at);
      case Kind::kUnknown:
        Negative(node, "data-model",
                 rebuild(json::parse(R"({"$type":"com.example.note","amount":12.5})")),
                 Append(at, "amount"), "must be an integer, not a float");
        Negative(node, "type",
                 rebuild(json::object{{"$link", Formats().at(lex::StringFormat::kCid).valid[0]}}),
                 at, "must be an object");
        Positive("unknown holding an empty object", rebuild(json::object{}));
        return;
      case Kind::kBlob: {
        if (!node.accept.empty()) {
          json::object blob = here.as_object();
          blob["mimeType"] = "application/x-not-accepted";
          std::string what = "mime type must be one of ";
          for (std::size_t i = 0; i < node.accept.size(); ++i)
            what += (i ? ", " : "") + node.accept[i];
          Negative(node, "accept", rebuild(blob), at, what);
        }
        if (node.max_size) {
          json::object blob = here.as_object();
          blob["size"] = *node.max_size + 1;
          Negative(node, "maxSize", rebuild(blob), at,
                   "is too big (max " + std::to_string(*node.max_size) + " bytes)");
          blob["size"] = *node.max_size;
          Positive("blob of the largest size", rebuild(blob));
        }
        return;
      }
      case Kind::kBytes:
        Negative(node, "type", rebuild(json::object{{"$bytes", "!!"}}), at, "must be a byte array");
        if (node.max_length || node.min_length) {
          ADD_FAILURE() << entry_->key << ": bytes length limits need cases";
        }
        return;
      case Kind::kCidLink:
        Negative(node, "type", rebuild(json::object{{"$link", "bafy-nope"}}), at, "must be a CID");
        return;
      default:
        ADD_FAILURE() << entry_->key << " " << Render(entry_->root, at) << ": can not walk a "
                      << KindName(node.kind);
    }
  }

  void WalkInteger(const Node& node, const Rebuild& rebuild, const Segments& at) {
    if (node.int_const) {
      Negative(node, "const", rebuild(*node.int_const + 1), at,
               "must be " + std::to_string(*node.int_const));
    }
    if (!node.int_enum.empty()) {
      const std::int64_t outside =
          *std::max_element(node.int_enum.begin(), node.int_enum.end()) + 1;
      std::string what = "must be one of (";
      for (std::size_t i = 0; i < node.int_enum.size(); ++i) {
        what += (i ? "|" : "") + std::to_string(node.int_enum[i]);
      }
      Negative(node, "enum", rebuild(outside), at, what + ")");
    }
    if ((node.int_const || !node.int_enum.empty()) && (node.minimum || node.maximum)) {
      ADD_FAILURE() << entry_->key << ": integer range together with enum/const needs cases";
      return;
    }
    if (node.maximum) {
      Negative(node, "maximum", rebuild(*node.maximum + 1), at,
               "can not be greater than " + std::to_string(*node.maximum));
      Positive("integer at its maximum", rebuild(*node.maximum));
    }
    if (node.minimum) {
      Negative(node, "minimum", rebuild(*node.minimum - 1), at,
               "can not be less than " + std::to_string(*node.minimum));
      Positive("integer at its minimum", rebuild(*node.minimum));
    }
  }

  // The message for a value outside a string's const / enum, which is checked before lengths.
  static std::string ClosedSetMessage(const Node& node) {
    return node.string_const ? "must be " + *node.string_const : JoinEnum(node.string_enum);
  }

  void WalkString(const Node& node, const Rebuild& rebuild, const Segments& at) {
    const bool closed_set = node.string_const || !node.string_enum.empty();
    if (node.string_const) {
      Negative(node, "const", rebuild(json::value(*node.string_const + "-other")), at,
               "must be " + *node.string_const);
    }
    if (!node.string_enum.empty()) {
      // A plausible slip: the first member in upper case.
      std::string upper = node.string_enum.front();
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_EQ(std::count(node.string_enum.begin(), node.string_enum.end(), upper), 0);
      Negative(node, "enum", rebuild(json::value(upper)), at, JoinEnum(node.string_enum));
      for (const std::string& member : node.string_enum) {
        Positive("enum member " + member, rebuild(json::value(member)));
        // The lexicon must be satisfiable: every member fits the length limits.
        const auto bytes = static_cast<std::int64_t>(member.size());
        EXPECT_LE(bytes, node.max_length.value_or(bytes)) << entry_->key << " " << member;
        EXPECT_GE(bytes, node.min_length.value_or(0)) << entry_->key << " " << member;
      }
    }
    if (!closed_set && !node.known_values.empty()) {
      Positive("value outside knownValues", rebuild(json::value(MakeText(7, 7))));
    }
    if (node.format) {
      auto it = Formats().find(*node.format);
      if (it != Formats().end()) {
        for (const std::string& valid : it->second.valid) {
          Positive("valid " + std::string(lex::StringFormatName(*node.format)),
                   rebuild(json::value(valid)));
        }
        Negative(node, "format", rebuild(json::value(it->second.invalid)), at, it->second.message);
      }
    }
    if (node.format &&
        (node.max_length || node.min_length || node.max_graphemes || node.min_graphemes)) {
      return;  // reported by SampleString
    }
    // Lengths are UTF-8 bytes, graphemes extended grapheme clusters; each limit is broken
    // while the other kind of limit still holds, so the message names the one broken.
    const std::int64_t max_g = node.max_graphemes.value_or(INT64_MAX);
    if (node.max_length) {
      const std::int64_t bytes = *node.max_length + 1;
      const std::string what =
          "must not be longer than " + std::to_string(*node.max_length) + " characters";
      // With an enum the value is checked against the members first.
      Negative(node, "maxLength", rebuild(json::value(MakeText(bytes, std::min(bytes, max_g)))), at,
               closed_set ? ClosedSetMessage(node) : what);
      if (!closed_set) {
        Positive(
            "string of maxLength bytes",
            rebuild(json::value(MakeText(*node.max_length, std::min(*node.max_length, max_g)))));
      }
    }
    if (node.min_length && *node.min_length > 0) {
      const std::int64_t bytes = *node.min_length - 1;
      Negative(node, "minLength",
               rebuild(json::value(bytes == 0 ? std::string() : MakeText(bytes, bytes))), at,
               closed_set ? ClosedSetMessage(node)
                          : "must not be shorter than " + std::to_string(*node.min_length) +
                                " characters");
    }
    if (node.max_graphemes && !closed_set) {
      const std::int64_t g = *node.max_graphemes + 1;
      const std::int64_t bytes = std::max(g, node.min_length.value_or(0));
      if (bytes > node.max_length.value_or(INT64_MAX)) {
        ADD_FAILURE() << entry_->key << ": maxGraphemes can not be broken within maxLength";
      } else {
        Negative(node, "maxGraphemes", rebuild(json::value(MakeText(bytes, g))), at,
                 "must not be longer than " + std::to_string(*node.max_graphemes) + " graphemes");
      }
      // At the limit with wide clusters: graphemes, not bytes, are counted.
      const std::int64_t wide =
          std::min(node.max_length.value_or(INT64_MAX), 3 * *node.max_graphemes);
      Positive("string of maxGraphemes wide clusters",
               rebuild(json::value(MakeText(wide, *node.max_graphemes))));
    }
    if (node.min_graphemes && *node.min_graphemes > 0 && !closed_set) {
      const std::int64_t g = *node.min_graphemes - 1;
      const std::int64_t bytes = std::max(g, node.min_length.value_or(0));
      if (g == 0 && bytes > 0) {
        ADD_FAILURE() << entry_->key << ": minGraphemes 1 with minLength needs a case";
      } else if (bytes > node.max_length.value_or(INT64_MAX)) {
        ADD_FAILURE() << entry_->key << ": minGraphemes and maxLength clash";
      } else {
        Negative(node, "minGraphemes",
                 rebuild(json::value(g == 0 ? std::string() : MakeText(bytes, g))), at,
                 "must not be shorter than " + std::to_string(*node.min_graphemes) + " graphemes");
      }
    }
  }

  void WalkArray(const Node& node, const json::value& here, const Rebuild& rebuild,
                 const Segments& at) {
    const json::array& array = here.as_array();
    if (array.empty()) {
      ADD_FAILURE() << entry_->key << " " << Render(entry_->root, at) << ": empty sample array";
      return;
    }
    auto repeat = [&](std::int64_t n) {
      json::array out;
      for (std::int64_t i = 0; i < n; ++i) out.push_back(array[0]);
      return json::value(std::move(out));
    };
    if (node.max_length) {
      Negative(node, "maxLength", rebuild(repeat(*node.max_length + 1)), at,
               "must not have more than " + std::to_string(*node.max_length) + " elements");
      Positive("array of maxLength elements", rebuild(repeat(*node.max_length)));
    }
    if (node.min_length && *node.min_length > 0) {
      Negative(node, "minLength", rebuild(repeat(*node.min_length - 1)), at,
               "must not have fewer than " + std::to_string(*node.min_length) + " elements");
    }
    if (node.min_length.value_or(0) == 0) Positive("empty array", rebuild(json::array{}));
    // Every element is checked, not just the first: break the last of two.
    json::array two{array[0], array[0]};
    const Rebuild at_last = [rebuild, two](json::value v) {
      json::array copy = two;
      copy[1] = std::move(v);
      return rebuild(json::value(std::move(copy)));
    };
    Walk(*node.items, two[1], at_last, Append(at, "1"), true);
  }

  void WalkObject(const Node& node, const json::value& here, const Rebuild& rebuild,
                  const Segments& at, bool check_type) {
    if (check_type)
      Negative(node, "type", rebuild(json::value("not an object")), at, "must be an object");
    const json::object& object = here.as_object();
    for (const Property& p : node.properties) {
      auto it = object.find(p.name);
      if (it == object.end()) continue;  // a recursive ref left out of the sample
      json::object without = object;
      without.erase(p.name);
      if (p.required && !HasDefault(*p.type)) {
        Negative(node, "required:" + p.name, rebuild(without), at,
                 "must have the property \"" + p.name + "\"");
      } else {
        Positive("without " + p.name, rebuild(without));
      }
      json::object with_null = object;
      with_null[p.name] = nullptr;
      if (p.nullable) {
        Positive(p.name + " null", rebuild(with_null));
      } else {
        Negative(node, "null:" + p.name, rebuild(with_null), Append(at, p.name),
                 TypeMessage(*p.type),
                 /*wire=*/false);
      }
      const std::string name = p.name;
      const Rebuild child = [rebuild, object, name](json::value v) {
        json::object copy = object;
        copy[name] = std::move(v);
        return rebuild(json::value(std::move(copy)));
      };
      Walk(*p.type, it->value(), child, Append(at, p.name), true);
    }
    if (!params_) {
      json::object extended = object;
      extended["atiprotoFutureField"] = json::parse(R"({"kept":["as",1,"written"]})");
      Positive("unknown property kept", rebuild(extended));
    } else {
      json::object extended = object;
      extended["undeclaredParam"] = "ignored";
      Positive("undeclared param ignored", rebuild(extended));
    }
  }

  void WalkRef(const Node& node, const json::value& here, const Rebuild& rebuild,
               const Segments& at) {
    const Def* target = Target(node.ref);
    if (target == nullptr || OnStack(node.ref)) return;
    stack_.push_back(node.ref);
    if (target->node.kind == Kind::kRecord) {
      WalkObject(*target->node.record, here, rebuild, at, false);
    } else if (target->node.kind == Kind::kObject) {
      WalkObject(target->node, here, rebuild, at, false);
    } else {
      Walk(target->node, here, rebuild, at, false);
    }
    stack_.pop_back();
  }

  void WalkUnion(const Node& node, const json::value& here, const Rebuild& rebuild,
                 const Segments& at) {
    const std::string type_message = TypeMessage(node);
    json::object untyped = here.as_object();
    untyped.erase("$type");
    Negative(node, "type", rebuild(untyped), at, type_message);
    json::object empty_type = here.as_object();
    empty_type["$type"] = "";
    Negative(node, "type", rebuild(empty_type), at, type_message);
    json::object number_type = here.as_object();
    number_type["$type"] = 7;
    Negative(node, "type", rebuild(number_type), at, type_message);

    const json::value stranger = json::parse(
        R"({"$type":"com.example.unlisted#thing","note":"from a newer lexicon","n":1})");
    if (node.closed) {
      std::string what = "$type must be one of ";
      for (std::size_t i = 0; i < node.refs.size(); ++i) what += (i ? ", " : "") + node.refs[i];
      Negative(node, "closed", rebuild(stranger), at, what);
    } else {
      Positive("unknown union member kept verbatim", rebuild(stranger));
      Negative(node, "open-member",
               rebuild(json::parse(R"({"$type":"com.example.unlisted#thing","amount":12.5})")),
               Append(at, "amount"), "must be an integer, not a float");
    }
    for (const std::string& ref : node.refs) {
      const Def* target = Target(ref);
      if (target == nullptr || OnStack(ref)) continue;
      json::value member = MemberSample(ref, false);
      Positive("union member " + ref, rebuild(member));
      stack_.push_back(ref);
      const Node& object = target->node.kind == Kind::kRecord ? *target->node.record : target->node;
      WalkObject(object, member, rebuild, at, false);
      stack_.pop_back();
    }
  }

  const Catalog& catalog_;
  const Entry* entry_ = nullptr;
  bool params_ = false;
  std::vector<std::string> stack_;  // refs being expanded, against recursion
  std::vector<Case> cases_;
  std::set<Site> hit_;
};

// Every constraint site in a document, by a plain structural pass that does not follow refs.
class SiteCollector {
 public:
  void Collect(const Document& doc) {
    for (const Def& def : doc.defs) {
      const std::string where = DefUri(doc.id, def.name);
      const Node& n = def.node;
      switch (n.kind) {
        case Kind::kRecord:
          Add(n, "type", where);
          Add(n, "$type", where);
          VisitObject(*n.record, where, /*is_params=*/false, /*check_type=*/false);
          break;
        case Kind::kQuery:
        case Kind::kProcedure:
          if (n.parameters) VisitObject(*n.parameters, where + ":params", true, false);
          if (n.input && n.input->schema) VisitBody(*n.input->schema, where + ":input");
          if (n.output && n.output->schema) VisitBody(*n.output->schema, where + ":output");
          break;
        case Kind::kPermissionSet:
        case Kind::kToken:
          break;
        default:
          Visit(n, where, true);
      }
    }
  }

  const std::map<Site, std::string>& sites() const { return sites_; }

 private:
  void Add(const Node& n, const std::string& constraint, const std::string& where) {
    sites_.emplace(Site{&n, constraint}, where + " " + constraint);
  }

  void VisitBody(const Node& n, const std::string& where) {
    Add(n, "type", where);
    if (n.kind == Kind::kObject) {
      VisitObject(n, where, false, false);
    } else {
      Visit(n, where, false);
    }
  }

  void VisitObject(const Node& n, const std::string& where, bool is_params, bool check_type) {
    if (check_type) Add(n, "type", where);
    for (const Property& p : n.properties) {
      const std::string at = where + "/" + p.name;
      if (p.required && !HasDefault(*p.type)) Add(n, "required:" + p.name, where);
      if (!p.nullable) Add(n, "null:" + p.name, where);
      if (is_params && p.type->kind == Kind::kUnknown) continue;
      Visit(*p.type, at, true);
    }
  }

  void Visit(const Node& n, const std::string& where, bool check_type) {
    if (check_type) Add(n, "type", where);
    switch (n.kind) {
      case Kind::kBoolean:
        if (n.bool_const) Add(n, "const", where);
        break;
      case Kind::kInteger:
        if (n.int_const) Add(n, "const", where);
        if (!n.int_enum.empty()) Add(n, "enum", where);
        if (n.minimum) Add(n, "minimum", where);
        if (n.maximum) Add(n, "maximum", where);
        break;
      case Kind::kString:
        if (n.string_const) Add(n, "const", where);
        if (!n.string_enum.empty()) Add(n, "enum", where);
        if (n.format) Add(n, "format", where);
        if (n.max_length) Add(n, "maxLength", where);
        if (n.min_length && *n.min_length > 0) Add(n, "minLength", where);
        if (n.max_graphemes) Add(n, "maxGraphemes", where);
        if (n.min_graphemes && *n.min_graphemes > 0) Add(n, "minGraphemes", where);
        break;
      case Kind::kArray:
        if (n.max_length) Add(n, "maxLength", where);
        if (n.min_length && *n.min_length > 0) Add(n, "minLength", where);
        Visit(*n.items, where + "/[]", true);
        break;
      case Kind::kObject:
        VisitObject(n, where, false, false);
        break;
      case Kind::kUnion:
        Add(n, n.closed ? "closed" : "open-member", where);
        break;
      case Kind::kUnknown:
        Add(n, "data-model", where);
        break;
      case Kind::kBlob:
        if (!n.accept.empty()) Add(n, "accept", where);
        if (n.max_size) Add(n, "maxSize", where);
        break;
      default:
        break;
    }
  }

  std::map<Site, std::string> sites_;
};

// ---------------------------------------------------------------------------------------
// The fixture: the atiproto catalog, loaded once.

class Atiproto : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto docs = LoadInputs({ATIPAY_SOURCE_DIR "/lexicons"});
    ASSERT_TRUE(docs.ok()) << docs.error().message;
    catalog_ = new Catalog(std::move(docs).value());
  }
  static void TearDownTestSuite() {
    delete catalog_;
    catalog_ = nullptr;
  }

  static std::string Dynamic(const Entry& entry, const json::value& data) {
    Validator validator(*catalog_);
    lex::Errors errors;
    return validator.Validate(data, entry.schema, entry.part, errors) ? std::string(kValid)
                                                                      : errors.message();
  }

  // The JSON a params round trip must give back: the declared params as query text, plus
  // the defaults the generated struct fills in.
  static json::value ExpectedParamsRoundTrip(const Entry& entry, const json::value& data) {
    json::object declared;
    for (const Property& p : entry.node->properties) {
      if (const json::value* v = data.as_object().if_contains(p.name)) declared[p.name] = *v;
    }
    json::value wire = FromWire(*ToWire(declared));
    for (const Property& p : entry.node->properties) {
      if (wire.as_object().contains(p.name)) continue;
      if (p.type->int_default) wire.as_object()[p.name] = lex::ParamText(*p.type->int_default);
      if (p.type->bool_default) wire.as_object()[p.name] = lex::ParamText(*p.type->bool_default);
      if (p.type->string_default) wire.as_object()[p.name] = *p.type->string_default;
    }
    return wire;
  }

  static Catalog* catalog_;
};
Catalog* Atiproto::catalog_ = nullptr;

json::value J(const char* text) { return json::parse(text); }

// Parses with the generated type T and checks it validates and round-trips.
template <class T>
T ParseValid(const Catalog& catalog, const json::value& data, std::string_view schema,
             MethodPart part, std::string_view root) {
  T out;
  lex::Errors errors;
  EXPECT_TRUE(Parse(data, out, lex::Path(root), errors)) << schema << ": " << errors.message();
  EXPECT_EQ(ToJson(out), data) << schema << "\n got:  " << json::serialize(ToJson(out))
                               << "\n want: " << json::serialize(data);
  Validator validator(catalog);
  lex::Errors dynamic_errors;
  EXPECT_TRUE(validator.Validate(data, schema, part, dynamic_errors))
      << schema << ": " << dynamic_errors.message();
  return out;
}

template <class T>
std::string GeneratedError(const json::value& data, std::string_view root) {
  T out;
  lex::Errors errors;
  return Parse(data, out, lex::Path(root), errors) ? std::string(kValid) : errors.message();
}

// ---------------------------------------------------------------------------------------
// Part 1: realistic data.

constexpr const char* kAlice = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

json::value CartRecord() {
  return J(R"({
    "$type": "com.atiproto.cart",
    "items": [
      {"type": "com.atiproto.item",
       "recordUri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.item/3lbqbn7ycz22k"},
      {"type": "com.atiproto.subscription",
       "recordUri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.subscription/3lbqbnb2tzk2x",
       "addedBy": "checkout-widget"}
    ],
    "currency": "USD",
    "total": 1799,
    "status": "completed",
    "createdAt": "2024-11-21T10:15:00.000Z",
    "expiresAt": "2024-11-22T10:15:00.000Z",
    "completedAt": "2024-11-21T10:19:42.318Z",
    "stripeSession": {"id": "cs_test_a1B2c3", "mode": "payment"}
  })");
}

json::value ItemRecord() {
  return J(R"({
    "$type": "com.atiproto.item",
    "subject": "did:plc:z72i7hdynmk6r22z27h6tvur",
    "recordUri": "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3lbqbn2vkfc2s",
    "amount": 500,
    "currency": "USD",
    "status": "authorized",
    "message": "Thanks for the thread on lexicons! \ud83d\udc4d\ud83c\udffd Ça m'a beaucoup aidé.",
    "createdAt": "2024-11-21T10:15:00.000Z"
  })");
}

json::value SubscriptionRecord() {
  return J(R"({
    "$type": "com.atiproto.subscription",
    "subject": "did:plc:z72i7hdynmk6r22z27h6tvur",
    "amount": 300,
    "currency": "EUR",
    "interval": "monthly",
    "status": "cancelled",
    "billingStartDate": "2024-10-01T00:00:00.000Z",
    "cancelledAt": "2024-11-20T08:00:00.000Z",
    "accessUntil": "2024-12-01T00:00:00.000Z",
    "createdAt": "2024-09-30T23:59:58.000Z"
  })");
}

json::value ProfileRecord() {
  return J(R"({
    "$type": "com.atiproto.profile",
    "acceptsItems": true,
    "acceptsSubscriptions": false,
    "disableReceiptNotifications": true,
    "createdAt": "2024-09-01T12:00:00.000Z",
    "updatedAt": "2024-11-21T09:00:00.000Z"
  })");
}

TEST_F(Atiproto, RealisticRecordsParseValidateAndRoundTrip) {
  ati::cart::Record cart = ParseValid<ati::cart::Record>(
      *catalog_, CartRecord(), "com.atiproto.cart", MethodPart::kNone, "Record");
  ASSERT_EQ(cart.items.size(), 2u);
  EXPECT_EQ(cart.items[1].type, "com.atiproto.subscription");
  EXPECT_EQ(cart.items[1].extra.at("addedBy"), "checkout-widget");
  EXPECT_EQ(cart.total, 1799);
  EXPECT_EQ(cart.completed_at, "2024-11-21T10:19:42.318Z");
  EXPECT_EQ(cart.extra.at("stripeSession").at("id"), "cs_test_a1B2c3");
  EXPECT_FALSE(cart.extra.contains("$type"));

  ati::item::Record item = ParseValid<ati::item::Record>(
      *catalog_, ItemRecord(), "com.atiproto.item", MethodPart::kNone, "Record");
  EXPECT_EQ(item.amount, 500);
  EXPECT_EQ(item.subject, "did:plc:z72i7hdynmk6r22z27h6tvur");
  ASSERT_TRUE(item.message);
  EXPECT_NE(item.message->find("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"), std::string::npos);  // 👍🏽
  EXPECT_FALSE(item.completed_at);

  ati::subscription::Record sub = ParseValid<ati::subscription::Record>(
      *catalog_, SubscriptionRecord(), "com.atiproto.subscription", MethodPart::kNone, "Record");
  EXPECT_EQ(sub.interval, "monthly");
  EXPECT_EQ(sub.access_until, "2024-12-01T00:00:00.000Z");

  ati::profile::Record profile = ParseValid<ati::profile::Record>(
      *catalog_, ProfileRecord(), "com.atiproto.profile", MethodPart::kNone, "Record");
  EXPECT_EQ(profile.accepts_items, true);
  EXPECT_EQ(profile.accepts_subscriptions, false);
  EXPECT_EQ(ati::profile::Record::kRecordKey, "literal:self");

  // Built in C++, the records serialize with their $type.
  ati::profile::Record built;
  built.created_at = "2024-09-01T12:00:00.000Z";
  EXPECT_EQ(ToJson(built),
            J(R"({"$type":"com.atiproto.profile","createdAt":"2024-09-01T12:00:00.000Z"})"));
}

TEST_F(Atiproto, TipMessageCountsGraphemesNotBytes) {
  // maxGraphemes 500, maxLength 5000: 500 thumbs-up with a skin tone (8 bytes each) fit.
  std::string thumbs;
  for (int i = 0; i < 500; ++i) thumbs += "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd";
  json::value record = ItemRecord();
  record.as_object()["message"] = thumbs;
  ParseValid<ati::item::Record>(*catalog_, record, "com.atiproto.item", MethodPart::kNone,
                                "Record");
  record.as_object()["message"] = thumbs + "!";
  EXPECT_EQ(GeneratedError<ati::item::Record>(record, "Record"),
            "Record/message must not be longer than 500 graphemes");
  // 625 of them are exactly 5000 bytes but too many graphemes; 5001 bytes fail on bytes first.
  std::string many;
  for (int i = 0; i < 626; ++i) many += "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd";
  record.as_object()["message"] = many;
  EXPECT_EQ(GeneratedError<ati::item::Record>(record, "Record"),
            "Record/message must not be longer than 5000 characters");
}

TEST_F(Atiproto, RealisticViewsAndListOutputsRoundTrip) {
  json::value cart_view = CartRecord();
  cart_view.as_object().erase("$type");
  cart_view.as_object()["uri"] =
      "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqbmz6xvc2k";
  ParseValid<ati::cart::View>(*catalog_, cart_view, "com.atiproto.cart#view", MethodPart::kNone,
                              "Object");

  json::value item_view = ItemRecord();
  item_view.as_object().erase("$type");
  item_view.as_object()["uri"] =
      "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.item/3lbqbn7ycz22k";
  json::value sub_view = SubscriptionRecord();
  sub_view.as_object().erase("$type");
  sub_view.as_object()["uri"] =
      "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.subscription/3lbqbnb2tzk2x";
  sub_view.as_object()["renewalDate"] = "2024-12-01T00:00:00.000Z";

  // payment.list mixes item and subscription views in an open union.
  json::object list;
  json::array items;
  json::value typed_item = item_view;
  typed_item.as_object()["$type"] = "com.atiproto.item#view";
  json::value typed_sub = sub_view;
  typed_sub.as_object()["$type"] = "com.atiproto.subscription#view";
  items.push_back(typed_item);
  items.push_back(typed_sub);
  items.push_back(J(
      R"({"$type":"com.atiproto.gift#view","uri":"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.gift/1","amount":9})"));
  list["items"] = items;
  list["cursor"] = "3lbqbn7ycz22k";
  auto out = ParseValid<ati::payment::list::Output>(*catalog_, list, "com.atiproto.payment.list",
                                                    MethodPart::kOutput, "Output");
  ASSERT_EQ(out.items.size(), 3u);
  EXPECT_EQ(out.items[0].index(), 0u);
  EXPECT_EQ(out.items[1].index(), 1u);
  ASSERT_EQ(out.items[2].index(), 2u);
  EXPECT_EQ(std::get<2>(out.items[2]).type(), "com.atiproto.gift#view");
  EXPECT_EQ(std::get<1>(out.items[1]).renewal_date, "2024-12-01T00:00:00.000Z");

  json::object get;
  get["uri"] = cart_view.at("uri");
  get["cid"] = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
  get["cart"] = cart_view;
  get["checkoutUrl"] = "https://checkout.stripe.com/c/pay/cs_test_a1B2c3";
  get["items"] = json::array{item_view};
  get["subscriptions"] = json::array{sub_view};
  ParseValid<ati::payment::cart::get::Output>(*catalog_, get, "com.atiproto.payment.cart.get",
                                              MethodPart::kOutput, "Output");
}

json::value InboundWorkflow() {
  return J(R"({
    "intent": "cloneCart",
    "responses": [
      {"action": "create", "name": "item-0",
       "result": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.item/3lbqc2ewd3s2k",
                  "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}},
      {"action": "create", "name": "cart",
       "result": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqc2f4r5c2k",
                  "cid": "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
       "latencyMs": 84},
      {"action": "delete", "name": "old-cart",
       "result": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqbmz6xvc2k"}}
    ],
    "agentVersion": "0.9.1"
  })");
}

TEST_F(Atiproto, CloneInputWithoutAndWithAnInboundWorkflow) {
  json::value plain = J(R"({
    "uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqbmz6xvc2k",
    "redirectUrl": "https://shop.example.com/thanks?order=42"
  })");
  auto first = ParseValid<ati::payment::cart::clone::Input>(
      *catalog_, plain, "com.atiproto.payment.cart.clone", MethodPart::kInput, "Input");
  EXPECT_FALSE(first.workflow);
  EXPECT_EQ(first.redirect_url, "https://shop.example.com/thanks?order=42");

  // The agent's callback: the original input spread, plus the workflow.
  json::value callback = plain;
  callback.as_object()["workflow"] = InboundWorkflow();
  auto second = ParseValid<ati::payment::cart::clone::Input>(
      *catalog_, callback, "com.atiproto.payment.cart.clone", MethodPart::kInput, "Input");
  ASSERT_TRUE(second.workflow);
  EXPECT_EQ(second.workflow->intent, "cloneCart");
  ASSERT_EQ(second.workflow->responses.size(), 3u);
  EXPECT_EQ(second.workflow->responses[1].name, "cart");
  EXPECT_EQ(second.workflow->responses[1].extra.at("latencyMs"), 84);
  EXPECT_FALSE(second.workflow->responses[2].result.cid);  // deletes carry no cid
  EXPECT_EQ(second.workflow->extra.at("agentVersion"), "0.9.1");

  // After a failed action the agent overrides the intent and reports the error.
  json::value failed = plain;
  failed.as_object()["workflow"] = J(R"({
    "intent": "error",
    "responses": [],
    "error": {"action": "create", "name": "subscription-0",
              "message": "Record/amount can not be less than 0", "code": "InvalidRequest"}
  })");
  auto third = ParseValid<ati::payment::cart::clone::Input>(
      *catalog_, failed, "com.atiproto.payment.cart.clone", MethodPart::kInput, "Input");
  ASSERT_TRUE(third.workflow && third.workflow->error);
  EXPECT_EQ(third.workflow->error->code, "InvalidRequest");
  EXPECT_TRUE(third.workflow->responses.empty());

  failed.as_object()["workflow"].as_object()["error"].as_object().erase("message");
  EXPECT_EQ(GeneratedError<ati::payment::cart::clone::Input>(failed, "Input"),
            "Input/workflow/error must have the property \"message\"");
}

json::value OutboundWorkflow() {
  return J(R"({
    "intent": "cloneCart",
    "actions": [
      {"$type": "com.atiproto.actions#create",
       "repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "name": "item-0",
       "collection": "com.atiproto.item",
       "record": {"$type": "com.atiproto.item", "subject": "did:plc:z72i7hdynmk6r22z27h6tvur",
                  "amount": 500, "currency": "USD", "status": "pending",
                  "createdAt": "2024-11-21T10:15:00.000Z"}},
      {"$type": "com.atiproto.actions#update",
       "repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "name": "profile",
       "collection": "com.atiproto.profile", "rkey": "self",
       "record": {"$type": "com.atiproto.profile", "acceptsItems": true,
                  "createdAt": "2024-09-01T12:00:00.000Z"},
       "swapCommit": "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
      {"$type": "com.atiproto.actions#delete",
       "repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "name": "old-cart",
       "collection": "com.atiproto.cart", "rkey": "3lbqbmz6xvc2k", "reason": "superseded"},
      {"$type": "com.atiproto.actions#raise", "message": "Cart expired; cloned into a new cart",
       "code": "CartExpired"},
      {"$type": "com.atiproto.actions#notify", "channel": "dm", "text": "a verb from a newer server"}
    ]
  })");
}

TEST_F(Atiproto, CloneOutputWithAnOutboundWorkflowOfEveryAction) {
  json::value output = J("{}");
  output.as_object()["workflow"] = OutboundWorkflow();
  auto out = ParseValid<ati::payment::cart::clone::Output>(
      *catalog_, output, "com.atiproto.payment.cart.clone", MethodPart::kOutput, "Output");
  ASSERT_TRUE(out.workflow);
  const auto& actions = out.workflow->actions;
  ASSERT_EQ(actions.size(), 5u);
  ASSERT_TRUE(std::holds_alternative<ati::actions::Create>(actions[0]));
  const auto& create = std::get<ati::actions::Create>(actions[0]);
  EXPECT_EQ(create.collection, "com.atiproto.item");
  EXPECT_FALSE(create.rkey);
  EXPECT_EQ(create.record.at("amount"), 500);  // unknown: kept as JSON
  ASSERT_TRUE(std::holds_alternative<ati::actions::Update>(actions[1]));
  EXPECT_EQ(std::get<ati::actions::Update>(actions[1]).rkey, "self");
  EXPECT_TRUE(std::get<ati::actions::Update>(actions[1]).swap_commit);
  ASSERT_TRUE(std::holds_alternative<ati::actions::Delete>(actions[2]));
  EXPECT_EQ(std::get<ati::actions::Delete>(actions[2]).extra.at("reason"), "superseded");
  ASSERT_TRUE(std::holds_alternative<ati::actions::Raise>(actions[3]));
  EXPECT_EQ(std::get<ati::actions::Raise>(actions[3]).code, "CartExpired");
  ASSERT_TRUE(std::holds_alternative<lex::UnknownUnionMember>(actions[4]));
  EXPECT_EQ(std::get<lex::UnknownUnionMember>(actions[4]).type(), "com.atiproto.actions#notify");

  // The final answer of the same procedure: no workflow, the native result.
  json::value cart_view = CartRecord();
  cart_view.as_object().erase("$type");
  cart_view.as_object()["uri"] =
      "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqc2f4r5c2k";
  cart_view.as_object()["status"] = "open";
  cart_view.as_object().erase("completedAt");
  json::value item_view = ItemRecord();
  item_view.as_object().erase("$type");
  item_view.as_object()["uri"] =
      "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.item/3lbqc2ewd3s2k";
  json::value final_output = J("{}");
  final_output.as_object()["cart"] = cart_view;
  final_output.as_object()["cartUri"] = cart_view.at("uri");
  final_output.as_object()["checkoutUrl"] = "https://checkout.stripe.com/c/pay/cs_test_z9Y8x7";
  final_output.as_object()["items"] = json::array{item_view};
  final_output.as_object()["subscriptions"] = json::array{};
  auto done = ParseValid<ati::payment::cart::clone::Output>(
      *catalog_, final_output, "com.atiproto.payment.cart.clone", MethodPart::kOutput, "Output");
  EXPECT_FALSE(done.workflow);
  ASSERT_TRUE(done.items && done.subscriptions);
  EXPECT_EQ(done.items->size(), 1u);
  EXPECT_TRUE(done.subscriptions->empty());

  // A broken action names its index in the batch.
  json::value broken = output;
  broken.at("workflow").at("actions").as_array()[2].as_object().erase("collection");
  EXPECT_EQ(GeneratedError<ati::payment::cart::clone::Output>(broken, "Output"),
            "Output/workflow/actions/2 must have the property \"collection\"");
  broken = output;
  broken.at("workflow").at("actions").as_array()[1].as_object()["swapCommit"] = "not a cid";
  EXPECT_EQ(GeneratedError<ati::payment::cart::clone::Output>(broken, "Output"),
            "Output/workflow/actions/1/swapCommit must be a cid string");
  broken = output;
  broken.at("workflow").at("actions").as_array()[0].as_object()["record"] = "a string";
  EXPECT_EQ(GeneratedError<ati::payment::cart::clone::Output>(broken, "Output"),
            "Output/workflow/actions/0/record must be an object");
}

TEST_F(Atiproto, BuiltInCxxTheWorkflowSerializesWithUnionTypes) {
  ati::actions::OutboundWorkflow workflow;
  workflow.intent = "rollback";
  ati::actions::Delete del;
  del.repo = kAlice;
  del.name = "item-0";
  del.collection = "com.atiproto.item";
  del.rkey = "3lbqc2ewd3s2k";
  ati::actions::Raise raise;
  raise.message = "Tip could not be created";
  raise.code = "TipCreateFailed";
  workflow.actions.emplace_back(del);
  workflow.actions.emplace_back(raise);
  const json::value expected = J(R"({"intent":"rollback","actions":[
      {"$type":"com.atiproto.actions#delete","repo":"did:plc:ewvi7nxzyoun6zhxrhs64oiz",
       "name":"item-0","collection":"com.atiproto.item","rkey":"3lbqc2ewd3s2k"},
      {"$type":"com.atiproto.actions#raise","message":"Tip could not be created","code":"TipCreateFailed"}]})");
  EXPECT_EQ(ToJson(workflow), expected);
  ati::actions::OutboundWorkflow back = ParseValid<ati::actions::OutboundWorkflow>(
      *catalog_, expected, "com.atiproto.actions#outboundWorkflow", MethodPart::kNone, "Object");
  ASSERT_EQ(back.actions.size(), 2u);
  EXPECT_EQ(std::get<ati::actions::Delete>(back.actions[0]).rkey, del.rkey);
  EXPECT_EQ(std::get<ati::actions::Raise>(back.actions[1]).code, raise.code);
}

// BUG (generator, codegen/cpp/emit_struct.cc EmitStructImpl): only records leave "$type" out
// of `extra`; an object parsed as a union member keeps its "$type" in `extra`, so a parsed
// member never compares equal to the same member built in C++ (ToJson hides it because
// WithType overwrites the key).
TEST_F(Atiproto, ParsedUnionMemberEqualsTheSameMemberBuiltInCxx) {
  ati::actions::Raise raise;
  raise.message = "Cart expired";
  ati::actions::OutboundWorkflow built;
  built.intent = "cloneCart";
  built.actions.emplace_back(raise);
  ati::actions::OutboundWorkflow parsed;
  lex::Errors errors;
  ASSERT_TRUE(Parse(ToJson(built), parsed, lex::Path("Object"), errors)) << errors.message();
  ASSERT_TRUE(std::holds_alternative<ati::actions::Raise>(parsed.actions.at(0)));
  EXPECT_EQ(json::value(std::get<ati::actions::Raise>(parsed.actions[0]).extra), json::object{});
  EXPECT_TRUE(parsed == built);
}

// BUG (generator vs Validator): a ref to a record def (payment.cart.put's Input.record refs
// com.atiproto.cart) makes the generated parser call the top-level record parser, which
// requires "$type" and reports a wrong one without a path; the Validator validates the
// record's object only (codegen/schema/validator.cc ValidateRef) and accepts both inputs.
TEST_F(Atiproto, NestedRecordRefIsCheckedTheSameWayByBothValidators) {
  json::value cart = CartRecord();
  cart.as_object().erase("$type");
  json::value input = J("{}");
  input.as_object()["uri"] =
      "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3lbqbmz6xvc2k";
  input.as_object()["record"] = cart;
  Validator validator(*catalog_);
  for (const char* type : {"", "com.atiproto.item"}) {
    if (*type != 0) input.at("record").as_object()["$type"] = type;
    lex::Errors errors;
    const std::string dynamic =
        validator.Validate(input, "com.atiproto.payment.cart.put", MethodPart::kInput, errors)
            ? std::string(kValid)
            : errors.message();
    EXPECT_EQ(GeneratedError<ati::payment::cart::put::Input>(input, "Input"), dynamic)
        << "record $type: \"" << type << "\"";
  }
}

TEST_F(Atiproto, QueryParamsRoundTripWithDefaults) {
  ati::payment::cart::list::Params params;
  lex::Errors errors;
  ASSERT_TRUE(Parse(lex::ParamList{{"status", "open"}, {"cursor", "3lbq"}}, params, errors))
      << errors.message();
  EXPECT_EQ(params.status, "open");
  EXPECT_EQ(params.limit, 20);  // the lexicon default
  ASSERT_FALSE(Parse(lex::ParamList{{"limit", "101"}}, params, errors));
  EXPECT_EQ(errors.message(), "Params/limit can not be greater than 100");
  ati::repo::profile::get::Params get;
  lex::Errors get_errors;
  ASSERT_FALSE(Parse(lex::ParamList{}, get, get_errors));
  EXPECT_EQ(get_errors.message(), "Params must have the property \"did\"");
}

// ---------------------------------------------------------------------------------------
// Part 2: generated constraint cases.

struct Generated {
  std::vector<Entry> entries;
  std::vector<std::string> unsupported;
  std::vector<Case> cases;
  std::set<Site> hit;
};

class AtiprotoConstraints : public Atiproto {
 protected:
  static void SetUpTestSuite() {
    Atiproto::SetUpTestSuite();
    generated_ = new Generated;
    generated_->entries = EntryPoints(*catalog_, &generated_->unsupported);
    CaseGenerator generator(*catalog_);
    for (const Entry& entry : generated_->entries) generator.Generate(entry);
    generated_->cases = generator.cases();
    generated_->hit = generator.hit();
  }
  static void TearDownTestSuite() {
    delete generated_;
    generated_ = nullptr;
    Atiproto::TearDownTestSuite();
  }
  static Generated* generated_;
};
Generated* AtiprotoConstraints::generated_ = nullptr;

TEST_F(AtiprotoConstraints, TheCatalogIsSelfContained) {
  EXPECT_FALSE(catalog_->documents().empty());
  EXPECT_FALSE(catalog_->CheckRefs(false)) << *catalog_->CheckRefs(false);
  EXPECT_TRUE(generated_->unsupported.empty()) << ::testing::PrintToString(generated_->unsupported);
}

TEST_F(AtiprotoConstraints, GeneratedParsersCoverExactlyTheVisitedDefs) {
  std::set<std::string> visited;
  for (const Entry& e : generated_->entries) visited.insert(e.key);
  std::set<std::string> table;
  for (const auto& [key, parser] : GeneratedParsers()) table.insert(key);
  std::vector<std::string> missing, stale;
  std::set_difference(visited.begin(), visited.end(), table.begin(), table.end(),
                      std::back_inserter(missing));
  std::set_difference(table.begin(), table.end(), visited.begin(), visited.end(),
                      std::back_inserter(stale));
  EXPECT_TRUE(missing.empty()) << "defs without a generated parser in the table: "
                               << ::testing::PrintToString(missing);
  EXPECT_TRUE(stale.empty()) << "table entries no lexicon def has: "
                             << ::testing::PrintToString(stale);
}

TEST_F(AtiprotoConstraints, EveryConstraintSiteHasAFailingCase) {
  SiteCollector collector;
  for (const Document& doc : catalog_->documents()) collector.Collect(doc);
  std::vector<std::string> unhit;
  for (const auto& [site, name] : collector.sites()) {
    if (!generated_->hit.contains(site)) unhit.push_back(name);
  }
  EXPECT_TRUE(unhit.empty()) << unhit.size() << " constraint sites without a failing case:\n"
                             << ::testing::PrintToString(unhit);
  // Sanity: the atiproto lexicons have a few hundred sites; a walker that found none would
  // pass the loop above vacuously.
  EXPECT_GT(collector.sites().size(), 400u);
  std::cout << "[ atiproto ] " << collector.sites().size() << " constraint sites, all hit\n";
}

TEST_F(AtiprotoConstraints, BothValidatorsGiveTheExpectedVerdictForEveryCase) {
  const auto& cases = generated_->cases;
  std::map<std::string, const Entry*> entries;
  for (const Entry& e : generated_->entries) entries[e.key] = &e;

  std::size_t negative = 0, positive = 0, generated_checked = 0, dynamic_only = 0;
  std::set<std::string> seen;
  std::vector<std::string> failures;
  auto fail = [&](const Case& c, const std::string& what) {
    failures.push_back(c.entry + " [" + c.label + "] " + what +
                       "\n    data: " + json::serialize(c.data));
  };
  for (const Case& c : cases) {
    if (!seen.insert(c.entry + "\n" + json::serialize(c.data)).second) continue;  // duplicate
    (c.expected == kValid ? positive : negative)++;
    const Entry& entry = *entries.at(c.entry);
    const std::string dynamic = Dynamic(entry, c.data);
    if (dynamic != c.expected)
      fail(c, "validator: \"" + dynamic + "\", expected \"" + c.expected + "\"");

    auto parser = GeneratedParsers().find(c.entry);
    if (parser == GeneratedParsers().end()) continue;  // reported by the coverage test
    if (entry.part == MethodPart::kParams && (!c.wire || !ToWire(c.data))) {
      ++dynamic_only;
      continue;
    }
    ++generated_checked;
    const Outcome generated = parser->second(c.data, entry.root);
    if (generated.verdict != dynamic) {
      fail(c, "generated: \"" + generated.verdict + "\", validator: \"" + dynamic + "\"");
      continue;
    }
    if (generated.verdict != kValid) continue;
    const json::value want =
        entry.part == MethodPart::kParams ? ExpectedParamsRoundTrip(entry, c.data) : c.data;
    if (generated.round_trip != want) {
      fail(c, "round trip gave " + json::serialize(generated.round_trip) + ", want " +
                  json::serialize(want));
    }
  }
  std::ostringstream shown;
  for (std::size_t i = 0; i < failures.size() && i < 40; ++i) shown << failures[i] << "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << seen.size() << " cases failed:\n"
                                << shown.str();
  std::cout << "[ atiproto ] " << seen.size() << " generated cases over " << entries.size()
            << " entry points: " << negative << " constraint violations, " << positive
            << " valid variants; " << generated_checked << " also through the generated parsers, "
            << dynamic_only << " params cases query text can not express (validator only)\n";
  RecordProperty("constraint_cases", static_cast<int>(negative));
  RecordProperty("valid_cases", static_cast<int>(positive));
  EXPECT_GT(negative, 1000u);
}

// The walker's own helpers, so a broken helper can not make cases vacuous.
TEST(AtiprotoHelpers, MakeTextHasTheRequestedBytesAndGraphemes) {
  for (auto [bytes, graphemes] :
       std::vector<std::pair<int, int>>{{1, 1}, {2, 1}, {7, 3}, {5001, 500}, {64, 64}}) {
    const std::string s = MakeText(bytes, graphemes);
    EXPECT_EQ(static_cast<int>(s.size()), bytes);
    lex::StringConstraints exact;
    exact.min_graphemes = graphemes;
    exact.max_graphemes = graphemes;
    lex::Errors errors;
    EXPECT_TRUE(lex::CheckString(s, exact, lex::Path("T"), errors))
        << bytes << "/" << graphemes << ": " << errors.message();
  }
  for (const auto& [format, samples] : Formats()) {
    for (const std::string& valid : samples.valid) {
      EXPECT_TRUE(lex::IsValidFormat(format, valid))
          << lex::StringFormatName(format) << " " << valid;
    }
    EXPECT_FALSE(lex::IsValidFormat(format, samples.invalid)) << lex::StringFormatName(format);
  }
}

}  // namespace
}  // namespace atipay::lexicon
