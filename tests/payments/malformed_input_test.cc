// Malformed input on every method we serve, generated from the lexicons themselves: whatever a
// client sends, the answer is a clear XRPC error (4xx with a JSON body {"error": Name,
// "message": text}) or a success, never a 5xx, a crash, a hang or a body that is not JSON.
//
// The methods are every query and procedure under lexicons/atiproto (read at test time), which
// must be exactly the methods the server registers. For each one: a valid-looking baseline
// built from its schema (params for queries, the JSON body for procedures), then mutations of
// it (required fields missing, wrong JSON types, broken formats and lengths, integers out of
// range, unknown fields, deep nesting, long strings, bad UTF-8 and lone surrogates, URIs of the
// wrong collection, of another user or of nothing), bodies that are not JSON or not sent as
// JSON, duplicate params, bodies on queries, and for the procedures that answer with workflows,
// inbound `workflow` envelopes: junk ones and ones mutated from a real workflow of that method.
// Deterministic: a fixed seed (printed) picks the junk and the sample when a method has more
// cases than its share; the number of requests is bounded.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <variant>

#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names
namespace fs = std::filesystem;
using atipay::testing::Client;
using atipay::testing::Reply;

constexpr std::uint64_t kSeed = 0x5eed'a71'9a7ULL;
constexpr auto kRequestTimeout = std::chrono::milliseconds(10000);
constexpr std::size_t kMaxCasesPerMethod = 220;  // beyond, a seeded sample of them
constexpr std::size_t kMaxBody = 100 * 1024;     // the server's default body limit
constexpr int kMaxFailuresShown = 40;

constexpr char kPost[] = "at://did:plc:carolcarolcarolcarolcaro/app.bsky.feed.post/3kabcdefghij2";
constexpr char kNobody[] = "did:plc:nobodynobodynobodynobody";
constexpr char kPlaceholder[] = "@@MALFORMED-PLACEHOLDER@@";

// ---- the lexicons ----------------------------------------------------------------------------

struct Method {
  std::string nsid;
  bool procedure = false;
  const json::object* schema = nullptr;  // params (query) or input schema (procedure); may be null
  bool has_workflow = false;             // the input takes an inbound `workflow`
};

class Lexicons {
 public:
  explicit Lexicons(const fs::path& dir) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.path().extension() != ".json") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      json::value doc = json::parse(text.str());
      std::string id(doc.at("id").as_string());
      docs_.emplace(id, std::move(doc.as_object()));
    }
    for (const auto& [id, doc] : docs_) {
      if (id.rfind("com.atiproto.", 0) != 0) continue;
      const auto& defs = doc.at("defs").as_object();
      auto main = defs.find("main");
      if (main == defs.end()) continue;
      const auto& def = main->value().as_object();
      std::string_view type = def.at("type").as_string();
      if (type != "query" && type != "procedure") continue;
      Method m;
      m.nsid = id;
      m.procedure = type == "procedure";
      if (m.procedure) {
        if (auto in = def.find("input"); in != def.end()) {
          if (auto s = in->value().as_object().find("schema"); s != in->value().as_object().end()) {
            m.schema = &s->value().as_object();
          }
        }
      } else if (auto p = def.find("parameters"); p != def.end()) {
        m.schema = &p->value().as_object();
      }
      if (m.schema) {
        if (auto props = m.schema->find("properties"); props != m.schema->end()) {
          m.has_workflow = props->value().as_object().contains("workflow");
        }
      }
      methods_.push_back(std::move(m));
    }
  }

  const std::vector<Method>& methods() const { return methods_; }

  // The schema a "ref" names, seen from document `context`; `context` becomes the ref's document.
  // A record def stands for its record object.
  const json::object* Resolve(std::string_view ref, std::string& context) const {
    std::string doc_id = context, def = "main";
    auto hash = ref.find('#');
    if (hash == std::string_view::npos) {
      doc_id = std::string(ref);
    } else {
      if (hash > 0) doc_id = std::string(ref.substr(0, hash));
      def = std::string(ref.substr(hash + 1));
    }
    auto doc = docs_.find(doc_id);
    if (doc == docs_.end()) return nullptr;
    const auto& defs = doc->second.at("defs").as_object();
    auto it = defs.find(def);
    if (it == defs.end()) return nullptr;
    context = doc_id;
    const auto& schema = it->value().as_object();
    if (schema.at("type") == "record") return &schema.at("record").as_object();
    return &schema;
  }

  // Follows refs until a concrete schema.
  const json::object* Concrete(const json::object* schema, std::string& context) const {
    for (int i = 0; schema && i < 8 && schema->at("type") == "ref"; ++i) {
      schema = Resolve(schema->at("ref").as_string(), context);
    }
    return schema;
  }

 private:
  std::map<std::string, json::object> docs_;
  std::vector<Method> methods_;
};

std::string Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}
std::optional<std::int64_t> Int(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_int64()) return std::nullopt;
  return it->value().get_int64();
}
bool Has(const json::object& o, std::string_view key) { return o.contains(key); }

// ---- what is in the store when the cases run ----------------------------------------------

struct Seeded {
  std::string open_cart, completed_cart, bob_cart;
  std::string pending_item, completed_item, bob_item, private_item;
  std::string pending_subscription, active_subscription, bob_subscription;
  std::string profile;
  std::string cid;  // a real record CID

  // Well-formed URIs of every kind a caller could point at the wrong thing with.
  std::vector<std::string> Uris() const {
    return {open_cart,
            completed_cart,
            bob_cart,
            pending_item,
            completed_item,
            bob_item,
            private_item,
            pending_subscription,
            active_subscription,
            bob_subscription,
            profile,
            kPost,
            std::string("at://") + kAlice + "/com.atiproto.cart/3kzzzzzzzzzz2",
            std::string("at://") + kAlice + "/com.atiproto.item/3kzzzzzzzzzz2",
            std::string("at://") + kAlice + "/com.atiproto.subscription/3kzzzzzzzzzz2",
            std::string("at://") + kAlice,
            std::string("at://") + kAlice + "/com.atiproto.cart",
            "at://alice.test/com.atiproto.cart/3kzzzzzzzzzz2",
            std::string("at://") + kNobody + "/com.atiproto.item/" + Rkey(pending_item)};
  }
  static std::string Rkey(const std::string& uri) { return uri.substr(uri.rfind('/') + 1); }
};

// ---- the baseline: a valid-looking value for a schema ---------------------------------------

class Sampler {
 public:
  Sampler(const Lexicons& lex, const Seeded& seeded, std::string nsid)
      : lex_(lex), seeded_(seeded), nsid_(std::move(nsid)) {}

  // `all`: optional properties too (but never `workflow`).
  json::value Value(const json::object* schema, std::string context, std::string_view name,
                    bool all, int depth = 0) const {
    schema = lex_.Concrete(schema, context);
    if (!schema || depth > 8) return json::object{};
    const std::string type = Str(*schema, "type");
    if (type == "object" || type == "params") {
      json::object out;
      std::set<std::string> required;
      if (auto r = schema->find("required"); r != schema->end()) {
        for (const auto& k : r->value().as_array()) required.insert(std::string(k.as_string()));
      }
      if (auto props = schema->find("properties"); props != schema->end()) {
        for (const auto& [key, prop] : props->value().as_object()) {
          if (key == "workflow") continue;
          if (!all && !required.count(std::string(key))) continue;
          out[key] = Value(&prop.as_object(), context, key, all, depth + 1);
        }
      }
      return out;
    }
    if (type == "string") return json::string(String(*schema, name));
    if (type == "integer") return Integer(*schema, name);
    if (type == "boolean") return name == "isPrivate" ? false : true;
    if (type == "array") {
      json::array out;
      if (auto items = schema->find("items"); items != schema->end()) {
        out.push_back(Value(&items->value().as_object(), context, name, all, depth + 1));
      }
      return out;
    }
    if (type == "union") {
      const auto& refs = schema->at("refs").as_array();
      if (refs.empty()) return json::object{};
      std::string ctx = context;
      const json::object* member = lex_.Resolve(refs[0].as_string(), ctx);
      json::value v = Value(member, ctx, name, all, depth + 1);
      std::string ref(refs[0].as_string());
      if (v.is_object()) v.as_object()["$type"] = ref[0] == '#' ? context + ref : ref;
      return v;
    }
    return json::object{};  // unknown, and anything else
  }

  std::string String(const json::object& s, std::string_view name) const {
    const std::string format = Str(s, "format");
    const std::string n(name);
    if (format == "did") return n == "subject" || n == "sender" ? kCarol : kAlice;
    if (format == "at-uri") return AtUri(n);
    if (format == "datetime") return "2026-09-21T10:00:00.000Z";
    if (format == "uri") return "https://shop.example/done?x=1";
    if (format == "cid") return seeded_.cid;
    if (format == "nsid") return "com.atiproto.item";
    if (format == "handle") return "alice.test";
    if (format == "at-identifier") return kAlice;
    if (format == "tid") return "3kabcdefghij2";
    if (format == "record-key") return "self";
    if (format == "language") return "en";
    if (auto e = s.find("enum"); e != s.end() && !e->value().as_array().empty()) {
      return std::string(e->value().as_array()[0].as_string());
    }
    if (auto k = s.find("knownValues"); k != s.end() && !k->value().as_array().empty()) {
      return std::string(k->value().as_array()[0].as_string());
    }
    if (n == "currency") return "USD";
    std::string out = "thanks";
    if (auto min = Int(s, "minLength")) out.resize(std::max<std::size_t>(out.size(), *min), 'x');
    if (auto max = Int(s, "maxLength"); max && out.size() > static_cast<std::size_t>(*max)) {
      out.resize(*max);
    }
    return out;
  }

  json::value Integer(const json::object& s, std::string_view name) const {
    std::int64_t v = name == "amount" ? 300 : name == "total" ? 300 : 10;
    if (auto d = Int(s, "default")) v = *d;
    if (auto min = Int(s, "minimum")) v = std::max(v, *min);
    if (auto max = Int(s, "maximum")) v = std::min(v, *max);
    return v;
  }

 private:
  std::string AtUri(const std::string& name) const {
    auto has = [&](std::string_view what) {
      return name.find(what) != std::string::npos || nsid_.find(what) != std::string::npos;
    };
    if (name == "recordUri") return kPost;
    if (name == "cartUri") return seeded_.open_cart;
    if (name.find("item") != std::string::npos) return seeded_.pending_item;
    if (name.find("subscription") != std::string::npos) return seeded_.active_subscription;
    if (has(".cart.")) return seeded_.open_cart;
    if (has(".item.")) return seeded_.pending_item;
    if (has("subscription.cancel")) return seeded_.active_subscription;
    if (has(".subscription.")) return seeded_.pending_subscription;
    return seeded_.open_cart;
  }

  const Lexicons& lex_;
  const Seeded& seeded_;
  std::string nsid_;
};

// ---- fields of a baseline, with their schemas ---------------------------------------------

using PathStep = std::variant<std::string, std::size_t>;
using JsonPath = std::vector<PathStep>;

std::string PathText(const JsonPath& path) {
  std::string out;
  for (const auto& step : path) {
    if (auto* k = std::get_if<std::string>(&step)) {
      out += (out.empty() ? "" : ".") + *k;
    } else {
      out += "[" + std::to_string(std::get<std::size_t>(step)) + "]";
    }
  }
  return out.empty() ? "(root)" : out;
}

struct Field {
  JsonPath path;
  std::string name;
  json::object schema;  // concrete (refs followed)
  bool required = false;
};

void CollectFields(const Lexicons& lex, const json::object* schema, std::string context,
                   const json::value& value, JsonPath path, std::vector<Field>& out, int depth = 0) {
  schema = lex.Concrete(schema, context);
  if (!schema || depth > 6) return;
  const std::string type = Str(*schema, "type");
  if ((type == "object" || type == "params") && value.is_object()) {
    std::set<std::string> required;
    if (auto r = schema->find("required"); r != schema->end()) {
      for (const auto& k : r->value().as_array()) required.insert(std::string(k.as_string()));
    }
    auto props = schema->find("properties");
    if (props == schema->end()) return;
    for (const auto& [key, prop] : props->value().as_object()) {
      std::string ctx = context;
      const json::object* concrete = lex.Concrete(&prop.as_object(), ctx);
      if (!concrete) continue;
      JsonPath p = path;
      p.emplace_back(std::string(key));
      out.push_back({p, std::string(key), *concrete, required.count(std::string(key)) > 0});
      if (auto it = value.as_object().find(key); it != value.as_object().end()) {
        CollectFields(lex, concrete, ctx, it->value(), p, out, depth + 1);
      }
    }
  } else if (type == "array" && value.is_array() && !value.as_array().empty()) {
    std::string ctx = context;
    const json::object* items = lex.Concrete(&schema->at("items").as_object(), ctx);
    if (!items) return;
    JsonPath p = path;
    p.emplace_back(std::size_t{0});
    out.push_back({p, "items", *items, false});  // an element may go: arrays have no minimum here
    CollectFields(lex, items, ctx, value.as_array()[0], p, out, depth + 1);
  }
}

json::value* At(json::value& root, const JsonPath& path) {
  json::value* v = &root;
  for (const auto& step : path) {
    if (auto* k = std::get_if<std::string>(&step)) {
      if (!v->is_object()) return nullptr;
      auto it = v->as_object().find(*k);
      if (it == v->as_object().end()) return nullptr;
      v = &it->value();
    } else {
      std::size_t i = std::get<std::size_t>(step);
      if (!v->is_array() || i >= v->as_array().size()) return nullptr;
      v = &v->as_array()[i];
    }
  }
  return v;
}

// `root` with the value at `path` replaced by `raw` (JSON text, sent as is: it may be invalid);
// the field is added when absent (its parent must exist).
std::optional<std::string> WithRaw(json::value root, const JsonPath& path, std::string_view raw) {
  if (path.empty()) return std::string(raw);
  JsonPath parent_path(path.begin(), path.end() - 1);
  json::value* parent = At(root, parent_path);
  if (!parent) return std::nullopt;
  if (auto* k = std::get_if<std::string>(&path.back())) {
    if (!parent->is_object()) return std::nullopt;
    parent->as_object()[*k] = kPlaceholder;
  } else {
    std::size_t i = std::get<std::size_t>(path.back());
    if (!parent->is_array() || i >= parent->as_array().size()) return std::nullopt;
    parent->as_array()[i] = kPlaceholder;
  }
  std::string text = json::serialize(root);
  const std::string quoted = std::string("\"") + kPlaceholder + "\"";
  auto at = text.find(quoted);
  if (at == std::string::npos) return std::nullopt;
  text.replace(at, quoted.size(), raw);
  return text;
}

std::optional<json::value> Without(json::value root, const JsonPath& path) {
  if (path.empty()) return std::nullopt;
  JsonPath parent_path(path.begin(), path.end() - 1);
  json::value* parent = At(root, parent_path);
  if (!parent) return std::nullopt;
  if (auto* k = std::get_if<std::string>(&path.back())) {
    if (!parent->is_object()) return std::nullopt;
    parent->as_object().erase(*k);
  } else {
    std::size_t i = std::get<std::size_t>(path.back());
    if (!parent->is_array() || i >= parent->as_array().size()) return std::nullopt;
    parent->as_array().erase(parent->as_array().begin() + i);
  }
  return root;
}

std::string Quote(std::string_view s) { return json::serialize(json::string(s)); }

// ---- values that break a field of a given schema -------------------------------------------

struct Bad {
  std::string raw;       // JSON text (bodies); for params, `param` is used instead
  std::string param;     // the query parameter's text (already decoded), if any
  bool param_ok = true;  // whether this case makes sense as a query parameter
  bool invalid = false;  // a lexicon violation: the answer must be 400 InvalidRequest
  std::string what;
};

// Junk that should never be a valid value of `schema` (invalid=true), and odd-but-maybe-valid
// values (invalid=false), for body fields and, as text, for params.
std::vector<Bad> BadValues(const Field& f, const Seeded& seeded, std::mt19937_64& rng) {
  std::vector<Bad> out;
  const json::object& s = f.schema;
  const std::string type = Str(s, "type");
  auto body = [&](std::string raw, bool invalid, std::string what) {
    out.push_back({std::move(raw), "", false, invalid, std::move(what)});
  };
  auto both = [&](std::string text, bool invalid, std::string what) {
    out.push_back({Quote(text), text, true, invalid, std::move(what)});
  };
  // A number: bare in a body, as text in a param.
  auto number = [&](std::string text, bool invalid, std::string what) {
    out.push_back({text, text, true, invalid, std::move(what)});
  };
  auto param_only = [&](std::string text, bool invalid, std::string what) {
    out.push_back({"", std::move(text), true, invalid, std::move(what)});
  };
  // Wrong JSON types (the body's own; a param is always text).
  if (type != "string") body("\"x\"", true, "a string");
  if (type != "integer") body("12345", true, "a number");
  if (type != "boolean") body("true", true, "a boolean");
  if (type != "object" && type != "unknown") body("{}", true, "an object");
  if (type != "array") body("[]", true, "an array");
  body("null", true, "null");
  if (type != "integer") body("1.5", true, "a float");

  if (type == "integer") {
    const auto min = Int(s, "minimum");
    const auto max = Int(s, "maximum");
    if (min) number(std::to_string(*min - 1), true, "below minimum");
    if (max) number(std::to_string(*max + 1), true, "above maximum");
    body("9223372036854775808", true, "2^63");
    param_only("9223372036854775808", true, "2^63");
    body("18446744073709551616", true, "2^64");
    body("-9223372036854775809", false, "-2^63-1 (a double that rounds to -2^63)");
    param_only("-9223372036854775809", true, "-2^63-1");
    number("-9223372036854775808", min.has_value(), "-2^63");
    number("9223372036854775807", max.has_value(), "2^63-1");
    body("1e400", true, "1e400");
    body("-1e400", true, "-1e400");
    body("1.5", true, "1.5");
    body("1.0", false, "1.0");
    body("-0", false, "-0");
    body("1e2", false, "1e2");
    body("\"5\"", true, "a numeric string");
    number("-1", min && *min > -1, "-1");
    number("0", min && *min > 0, "0");
    for (const char* t : {"abc", "1.5", "1e3", "+5", " 5", "5 ", "0x10", "\xd9\xa3", "--1"}) {
      param_only(t, true, std::string("integer text '") + t + "'");
    }
    param_only(std::string(400, '9'), true, "400 digits");
  }
  if (type == "boolean") {
    for (const char* t : {"yes", "1", "0", "TRUE", "False", "truee"}) {
      param_only(t, true, std::string("boolean text '") + t + "'");
    }
  }
  if (type == "string") {
    const std::string format = Str(s, "format");
    // Not this format, whatever it is.
    std::vector<std::string> broken;
    if (format == "did") {
      broken = {"did:PLC:abc", "did:plc:", "did:", "plc:abc", std::string(kAlice) + "#frag",
                std::string(kAlice) + " ", " " + std::string(kAlice), "did:plc:ab/cd",
                "did:plc:" + std::string(2100, 'a'),
                std::string("did:plc:abc\0def", 15), "did:plc:caf\xc3\xa9"};
      for (const char* good : {"did:web:example.com", "did:web:localhost%3A1", "did:web:exa%2mple.com",
                               "did:example:123", kNobody, kBob, kAlice}) {
        both(good, false, std::string("the DID ") + good);
      }
    } else if (format == "at-uri") {
      broken = {"https://example.com/x", "at://", "at:///com.atiproto.cart/x",
                seeded.open_cart + "#frag", seeded.open_cart + "/extra/x",
                "at://did:plc:x y/com.atiproto.cart/z", "AT://" + seeded.open_cart.substr(5),
                "at://" + std::string(9000, 'a'), seeded.open_cart + " ",
                std::string("at://did:plc:a\0b/com.atiproto.cart/x", 36)};
      for (const auto& uri : seeded.Uris()) both(uri, false, "the URI " + uri);
      both(seeded.open_cart + "?q=1", false, "a query in an at-uri");
    } else if (format == "datetime") {
      broken = {"2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00",
                "2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z", "-2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00.Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+25:00",
                "now", "1790000000", "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-01-01T00:00:00Z"};
      for (const char* good : {"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
                               "1970-01-01T00:00:00Z", "2026-01-01T00:00:00+14:00",
                               "2026-09-21T10:00:00.123456789Z"}) {
        both(good, false, std::string("the datetime ") + good);
      }
    } else if (format == "uri") {
      broken = {"not a uri", "example.com/x", "://x", "http//x", ""};
      for (const char* good : {"javascript:alert(1)", "ftp://x/y", "data:text/plain,x",
                               "mailto:a@b.c", "http://[::1]:99999/x", "https://x/\"<>"}) {
        both(good, false, std::string("the uri ") + good);
      }
    } else if (format == "cid") {
      broken = {"bafy", "Qm", "bafyrei!!!"};
      both("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", false, "another CID");
      both("zzzzzzzz", false, "a CID by Go's rule only");
    } else if (format == "nsid") {
      broken = {"com", "com..x", "1com.x.y", "com.x.y-", "com.atiproto.item#view"};
    } else if (format == "handle") {
      broken = {"alice", "-alice.test", "alice..test", "al ice.test"};
    } else if (!format.empty()) {
      broken = {"%%%", ""};
    }
    for (auto& b : broken) both(b, true, format + " broken: " + b.substr(0, 60));

    const auto max_len = Int(s, "maxLength");
    const auto min_len = Int(s, "minLength");
    const auto max_graphemes = Int(s, "maxGraphemes");
    if (max_len) {
      both(std::string(*max_len + 1, 'A'), true, "maxLength+1 bytes");
      std::string multi;
      while (multi.size() + 2 <= static_cast<std::size_t>(*max_len) + 1) multi += "\xc3\xa9";
      if (multi.size() <= static_cast<std::size_t>(*max_len)) multi += "\xc3\xa9";
      both(multi, true, "maxLength exceeded in 2-byte characters");
    }
    if (min_len && *min_len > 0) both(std::string(*min_len - 1, 'a'), true, "minLength-1");
    if (max_graphemes) {
      std::string emoji;
      for (std::int64_t i = 0; i <= *max_graphemes; ++i) emoji += "\xf0\x9f\x91\x8d";  // 👍
      both(emoji, true, "maxGraphemes+1 emoji");
      std::string flags;
      for (std::int64_t i = 0; i < *max_graphemes; ++i) flags += "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8";
      if (!max_len || static_cast<std::int64_t>(flags.size()) <= *max_len) {
        both(flags, false, "maxGraphemes flags (8 bytes each)");
      }
      both(std::string(*max_graphemes, 'e') + std::string(3000, '\xcc'), false,
           "invalid UTF-8 tail");
    }
    if (auto e = s.find("enum"); e != s.end()) {
      for (const char* junk : {"bogus", "", "OPEN", " open"}) {
        both(junk, true, std::string("enum junk '") + junk + "'");
      }
    }
    if (auto k = s.find("knownValues"); k != s.end()) {
      both("bogus-known-value", false, "unknown knownValue");
      both("", false, "empty knownValue");
    }
    if (Str(f.schema, "format").empty() && f.name == "currency") {
      for (const char* c : {"usd", "US", "", "US1", "\xe2\x82\xac", "XXX"}) {
        both(c, false, std::string("currency '") + c + "'");
      }
    }
    if (f.name == "cursor") {
      for (const char* c : {"0", "-1", "abc", "9223372036854775807", "9223372036854775808", "1 ",
                            "00000000000000000001"}) {
        both(c, false, std::string("cursor '") + c + "'");
      }
    }
    // Text the JSON parser or the string checks must cope with.
    body("\"\\ud800\"", false, "a lone high surrogate");
    body("\"\\udc00x\"", false, "a lone low surrogate");
    body("\"\\ud800\\ud800\"", false, "two high surrogates");
    body("\"\\u0000\"", false, "NUL");
    body("\"a\xff\xfe" "b\"", false, "invalid UTF-8 bytes");
    body("\"\xed\xa0\x80\"", false, "a UTF-8-encoded surrogate");
    body("\"\xc0\xaf\"", false, "an overlong encoding");
    param_only("\xff\xfe", !format.empty() || Has(s, "enum"), "invalid UTF-8 in a param");
    param_only("\xed\xa0\x80", !format.empty() || Has(s, "enum"), "a surrogate in a param");
    param_only(std::string("a\0b", 3), !format.empty() || Has(s, "enum"), "NUL in a param");
    // Long strings the body limit still lets through.
    std::uniform_int_distribution<int> byte(0x20, 0x7e);
    std::string junk(90 * 1024, ' ');
    for (auto& c : junk) {
      c = static_cast<char>(byte(rng));
      if (c == '"' || c == '\\') c = 'q';
    }
    body("\"" + junk + "\"", !format.empty() || max_len || Has(s, "enum"), "90 KiB of junk");
    param_only(std::string(12 * 1024, 'x'), !format.empty() || max_len || Has(s, "enum"),
               "12 KiB param");
  }
  return out;
}

// ---- one request and what must hold of its answer ------------------------------------------

struct Case {
  std::string nsid;
  std::string label;
  std::string http_method;
  std::string target;
  std::optional<std::string> body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw;  // sent as is when not empty (chunked bodies and such)
  std::optional<int> want_status;
  std::string want_error;  // with want_status
};

struct Answer {
  bool ok = false;
  std::string problem;
  std::optional<Reply> reply;
};

std::string Truncate(std::string_view s, std::size_t n = 300) {
  std::string out;
  for (char c : s.substr(0, n)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  if (s.size() > n) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Strict JSON: boost::json refuses invalid UTF-8 in strings.
std::optional<json::value> StrictJson(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

// Where `v` holds an `amount` or `total` below 0, if anywhere.
std::optional<std::string> NegativeAmount(const json::value& v, const std::string& path) {
  if (v.is_object()) {
    for (const auto& [key, value] : v.get_object()) {
      const std::string here = path + "/" + std::string(key);
      if ((key == "amount" || key == "total") && value.is_int64() && value.get_int64() < 0) return here;
      if (auto found = NegativeAmount(value, here)) return found;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
      if (auto found = NegativeAmount(v.get_array()[i], path + "/" + std::to_string(i))) return found;
    }
  }
  return std::nullopt;
}

std::string Check(const Case& c, const std::optional<Reply>& reply) {
  if (!reply) return "no answer within the timeout (or the connection was dropped)";
  const int status = reply->status;
  if (status >= 500) return "status " + std::to_string(status);
  if (status != 200 && status < 400) return "unexpected status " + std::to_string(status);
  const bool head = c.http_method == "HEAD";
  if (status >= 400) {
    if (reply->content_type.rfind("application/json", 0) != 0) {
      return "error answer with Content-Type '" + reply->content_type + "'";
    }
    if (head) return "";
    auto v = StrictJson(reply->body);
    if (!v) return "error body is not (UTF-8) JSON";
    if (!v->is_object()) return "error body is not a JSON object";
    const auto& o = v->as_object();
    auto e = o.find("error");
    auto m = o.find("message");
    if (e == o.end() || !e->value().is_string()) return "error body has no string `error`";
    if (m == o.end() || !m->value().is_string()) return "error body has no string `message`";
    std::string_view name = e->value().get_string();
    if (name.empty() || name.find_first_of(" \t\r\n") != std::string_view::npos) {
      return "error name is empty or has whitespace";
    }
  } else if (!head) {
    if (reply->content_type.rfind("application/json", 0) != 0) {
      return "success with Content-Type '" + reply->content_type + "'";
    }
    auto v = StrictJson(reply->body);
    if (!v || !v->is_object()) return "success body is not a (UTF-8) JSON object";
    // Amounts are cents, 0 or more, so no total of them is below 0 unless it wrapped around.
    if (auto where = NegativeAmount(*v, "")) return "a negative amount or total at " + *where;
  }
  if (c.want_status && status != *c.want_status) {
    return "expected status " + std::to_string(*c.want_status) + ", got " + std::to_string(status);
  }
  if (c.want_status && !c.want_error.empty() && !head && reply->Error() != c.want_error) {
    return "expected error " + c.want_error + ", got " + reply->Error();
  }
  return "";
}

class MalformedInputTest : public PaymentFlowTest {
 protected:
  std::optional<Reply> Send(const Case& c) {
    try {
      Client client(server_->port(), kRequestTimeout);
      if (!c.raw.empty()) {
        if (!client.SendRaw(c.raw)) return std::nullopt;
        return client.Read(c.http_method == "HEAD");
      }
      return client.Call(c.http_method, c.target, c.body, c.headers);
    } catch (const std::exception&) {
      return std::nullopt;  // could not connect: the server is gone
    }
  }

  // Sends the case and checks its answer; returns it.
  std::optional<Reply> Try(const Case& c) {
    ++requests_;
    ++per_method_[c.nsid];
    std::optional<Reply> reply = Send(c);
    std::string problem = Check(c, reply);
    if (verbose_) {
      std::printf("%s [%s] -> %s\n", c.nsid.c_str(), Truncate(c.label, 80).c_str(),
                  reply ? (std::to_string(reply->status) + " " + Truncate(reply->body, 160)).c_str()
                        : "none");
    }
    if (!problem.empty()) {
      ++failures_;
      if (failures_ <= kMaxFailuresShown) {
        ADD_FAILURE() << c.nsid << " [" << c.label << "]: " << problem << "\n  request: "
                      << c.http_method << " " << Truncate(c.target, 200)
                      << (c.body ? "\n  body: " + Truncate(*c.body) : std::string())
                      << (c.raw.empty() ? std::string() : "\n  raw: " + Truncate(c.raw))
                      << "\n  answer: "
                      << (reply ? std::to_string(reply->status) + " " + reply->content_type + " " +
                                      Truncate(reply->body)
                                : std::string("none"));
      }
    }
    return reply;
  }

  Case Base(const Method& m, std::string label) {
    Case c;
    c.nsid = m.nsid;
    c.label = std::move(label);
    c.http_method = m.procedure ? "POST" : "GET";
    c.target = "/xrpc/" + m.nsid;
    c.headers = {{"Authorization", std::string("Bearer ") + kAlice}};
    if (m.procedure) c.headers.emplace_back("Content-Type", "application/json");
    return c;
  }

  Case Body(const Method& m, std::string label, std::string body, bool invalid = false) {
    Case c = Base(m, std::move(label));
    c.body = std::move(body);
    if (invalid) {
      c.want_status = 400;
      c.want_error = "InvalidRequest";
    }
    return c;
  }

  Case Query(const Method& m, std::string label, const lex::ParamList& params,
             bool invalid = false) {
    Case c = Base(m, std::move(label));
    std::string q = lex::EncodeQueryString(params);
    if (!q.empty()) c.target += "?" + q;
    if (invalid) {
      c.want_status = 400;
      c.want_error = "InvalidRequest";
    }
    return c;
  }

  static lex::ParamList ToParams(const json::object& o) {
    lex::ParamList out;
    for (const auto& [k, v] : o) {
      auto text = [](const json::value& x) {
        if (x.is_string()) return std::string(x.get_string());
        if (x.is_bool()) return std::string(x.get_bool() ? "true" : "false");
        return json::serialize(x);
      };
      if (v.is_array()) {
        for (const auto& e : v.as_array()) out.emplace_back(std::string(k), text(e));
      } else {
        out.emplace_back(std::string(k), text(v));
      }
    }
    return out;
  }

  Seeded Seed() {
    Seeded s;
    json::object completed_first = NewItem(kAlice, 500);
    s.completed_cart = std::string(completed_first.at("cartUri").as_string());
    s.completed_item = std::string(completed_first.at("itemUri").as_string());
    json::object sub = Ok(Run(kAlice, kSubscriptionCreate,
                              {{"subject", kDave}, {"amount", 300}, {"currency", "USD"},
                               {"interval", "monthly"}, {"cartUri", s.completed_cart}}));
    s.active_subscription = std::string(sub.at("subscriptionUri").as_string());
    Pay(s.completed_cart, PaymentOutcome::kCompleted);

    json::object open = NewItem(kAlice, 250);
    s.open_cart = std::string(open.at("cartUri").as_string());
    s.pending_item = std::string(open.at("itemUri").as_string());
    json::object priv = NewItem(kAlice, 100, s.open_cart, /*is_private=*/true);
    s.private_item = std::string(priv.at("itemUri").as_string());
    json::object pending_sub = NewSubscription(kAlice, s.open_cart);
    s.pending_subscription = std::string(pending_sub.at("subscriptionUri").as_string());

    json::object bob = NewItem(kBob, 700);
    s.bob_cart = std::string(bob.at("cartUri").as_string());
    s.bob_item = std::string(bob.at("itemUri").as_string());
    json::object bob_sub = NewSubscription(kBob, s.bob_cart);
    s.bob_subscription = std::string(bob_sub.at("subscriptionUri").as_string());

    Ok(Run(kAlice, kProfilePut, {{"acceptsItems", true}}));
    s.profile = std::string("at://") + kAlice + "/com.atiproto.profile/self";
    s.cid = store_->GetRecord(s.open_cart)->cid;
    return s;
  }

  // A `record` next to a `uri` (the put methods) becomes the record we hold at that URI, so
  // that the input passes the handler's first checks and mutations of it reach further.
  void WithHeldRecord(json::object& in) {
    if (!in.contains("uri") || !in.contains("record") || !in.at("uri").is_string()) return;
    if (auto row = store_->GetRecord(in.at("uri").as_string())) in["record"] = json::parse(row->record_json);
  }

  // Adds `c` unless an identical request is already there.
  void Add(std::vector<Case>& cases, Case c) {
    std::string key = c.http_method + " " + c.target + "\n" + c.body.value_or("") + "\n" + c.raw;
    for (const auto& [k, v] : c.headers) key += "\n" + k + ": " + v;
    if (seen_.insert(std::move(key)).second) cases.push_back(std::move(c));
  }

  std::vector<Case> CasesFor(const Lexicons& lex, const Method& m, const Seeded& seeded,
                             std::mt19937_64& rng);
  std::vector<Case> WorkflowCases(const Method& m, const json::object& input, const Seeded& seeded);
  std::vector<Case> RealWorkflowCases(const Lexicons& lex, const Method& m, const Seeded& seeded);

  // MALFORMED_INPUT_VERBOSE=1 lists every request and its answer.
  const bool verbose_ = std::getenv("MALFORMED_INPUT_VERBOSE") != nullptr;
  int requests_ = 0;
  int failures_ = 0;
  std::map<std::string, int> per_method_;
  std::set<std::string> seen_;
};

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string Nested(int depth, std::string_view inner = "1") {
  std::string out;
  out.reserve(depth * 6 + inner.size());
  for (int i = 0; i < depth; ++i) out += "{\"a\":";
  out += inner;
  out.append(depth, '}');
  return out;
}

std::vector<Case> MalformedInputTest::CasesFor(const Lexicons& lex, const Method& m,
                                               const Seeded& seeded, std::mt19937_64& rng) {
  std::vector<Case> cases;
  Sampler sampler(lex, seeded, m.nsid);
  json::value full = m.schema ? sampler.Value(m.schema, m.nsid, "", true) : json::object{};
  if (m.procedure && full.is_object()) WithHeldRecord(full.as_object());
  const json::value minimal = m.schema ? sampler.Value(m.schema, m.nsid, "", false) : json::object{};
  std::vector<Field> fields;
  if (m.schema) CollectFields(lex, m.schema, m.nsid, full, {}, fields);

  if (m.procedure) {
    const std::string base = json::serialize(full);
    Add(cases, Body(m, "baseline", base));
    Add(cases, Body(m, "baseline, required fields only", json::serialize(minimal)));
    for (const auto& f : fields) {
      if (f.required) {
        if (auto without = Without(full, f.path)) {
          Add(cases, Body(m, "missing required " + PathText(f.path), json::serialize(*without), true));
        }
      } else if (auto without = Without(full, f.path)) {
        Add(cases, Body(m, "without optional " + PathText(f.path), json::serialize(*without)));
      }
      for (const Bad& bad : BadValues(f, seeded, rng)) {
        if (bad.raw.empty()) continue;
        if (auto text = WithRaw(full, f.path, bad.raw)) {
          if (text->size() > kMaxBody) continue;
          Add(cases, Body(m, PathText(f.path) + ": " + bad.what, *text, bad.invalid));
        }
      }
    }
    // The body as a whole.
    for (const auto& [body, label] : std::vector<std::pair<std::string, std::string>>{
             {"", "empty body"}, {"null", "null"}, {"[]", "an array"}, {"[" + base + "]", "[input]"},
             {"\"x\"", "a string"}, {"12", "a number"}, {"true", "true"}, {"{", "truncated"},
             {base + "}", "trailing brace"}, {base + " x", "trailing junk"},
             {"{\"a\":}", "missing value"}, {"{'a':1}", "single quotes"}, {"{\"a\":1,}", "trailing comma"},
             {"\xef\xbb\xbf" + base, "a BOM"}, {"\xff\xfe{}", "invalid UTF-8"},
             {"{\"\xff\":1}", "an invalid UTF-8 key"},
             {"{\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\":x}",
              "a syntax error after multi-byte characters"},
             {"{\"k\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\" \xe2\x82\xac\xe2\x82\xac"
              "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac}",
              "a multi-byte unexpected token"},
             {"{\"a\":1\xc3}", "a cut multi-byte character"},
             {std::string("{\"a\":1}\0", 8), "a trailing NUL"},
             {"{\"a\":\"\\x41\"}", "a bad escape"}, {"{\"a\":\"\\u12\"}", "a short \\u escape"},
             {"{\"a\":NaN}", "NaN"}, {"{\"a\":Infinity}", "Infinity"},
             {"{\"a\":01}", "a leading zero"}, {"  \r\n\t ", "whitespace only"},
             {"{\"$type\":\"com.atiproto.cart\"}", "only a $type"},
             {Nested(10000), "10,000 levels deep"}, {"{\"zz\":" + Nested(1000) + "}", "1,000 levels in an unknown field"},
             {std::string(10000, '[') + std::string(10000, ']'), "10,000 nested arrays"},
         }) {
      Add(cases, Body(m, "body: " + label, body));
    }
    // Unknown and odd top-level fields.
    if (full.is_object()) {
      for (const auto& [key, raw] : std::vector<std::pair<std::string, std::string>>{
               {"zzUnknown", "1"}, {"$type", "\"com.atiproto.bogus\""}, {"$type", "12"},
               {"$workflow", "{}"}, {"workflow", "null"}, {"workflow", "[]"}, {"workflow", "\"x\""},
               {"", "\"empty key\""}, {"zz", Nested(1000)}, {"zz", Nested(2000)},
               {"zz", "\"" + std::string(95 * 1024, 'z') + "\""}}) {
        if (auto text = WithRaw(full, {key}, raw); text && text->size() <= kMaxBody) {
          Add(cases, Body(m, "extra field " + key + "=" + Truncate(raw, 20), *text));
        }
      }
      // The same key twice: the last one wins in JSON.parse.
      std::string dup = base;
      if (dup.size() > 2) {
        auto first = full.as_object().begin();
        if (first != full.as_object().end()) {
          dup.insert(1, Quote(first->key()) + ":12,");
          Add(cases, Body(m, "duplicate key " + std::string(first->key()), dup));
          std::string dup2 = base;
          dup2.insert(dup2.size() - 1, "," + Quote(first->key()) + ":12");
          Add(cases, Body(m, "duplicate key, junk last", dup2));
        }
      }
    }
    // Encodings and HTTP.
    auto with_type = [&](std::optional<std::string> type, std::string label) {
      Case c = Body(m, "Content-Type " + label, base);
      c.headers = {{"Authorization", std::string("Bearer ") + kAlice}};
      if (type) c.headers.emplace_back("Content-Type", *type);
      Add(cases, std::move(c));
    };
    with_type(std::nullopt, "absent");
    for (const char* t : {"text/plain", "application/x-www-form-urlencoded", "APPLICATION/JSON",
                          "application/json; charset=latin1", "application/jsonx",
                          "multipart/form-data; boundary=x", "", "application/json, text/plain",
                          "*/*", "application/*"}) {
      with_type(std::string(t), std::string("'") + t + "'");
    }
    {
      Case c = Body(m, "1 MiB body", "{\"zz\":\"" + std::string(1 << 20, 'z') + "\"}");
      c.want_status = 413;
      c.want_error = "PayloadTooLargeError";
      Add(cases, std::move(c));
    }
    {
      Case c = Body(m, "chunked body", "");
      c.body.reset();
      std::ostringstream raw;
      raw << "POST " << c.target << " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
          << kAlice << "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
          << "Connection: close\r\n\r\n"
          << std::hex << base.size() << "\r\n" << base << "\r\n0\r\n\r\n";
      c.raw = raw.str();
      Add(cases, c);
      c.label = "chunked empty body";
      c.raw = "POST " + c.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
              kAlice + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
              "Connection: close\r\n\r\n0\r\n\r\n";
      Add(cases, std::move(c));
    }
    {
      Case c = Body(m, "params given to a procedure", base);
      c.target += "?uri=x&limit=abc&cursor=%FF&uri=y";
      Add(cases, std::move(c));
    }
    for (const char* verb : {"GET", "HEAD", "PUT", "DELETE", "PATCH"}) {
      Case c = Base(m, std::string(verb) + " on a procedure");
      c.http_method = verb;
      c.want_status = 400;
      c.want_error = "InvalidRequest";
      Add(cases, std::move(c));
    }
    {
      Case c = Body(m, "no token", base);
      c.headers = {{"Content-Type", "application/json"}};
      c.want_status = 401;
      c.want_error = "AuthenticationRequired";
      Add(cases, std::move(c));
    }
    {
      Case c = Body(m, "another caller (Bob)", base);
      c.headers = {{"Authorization", std::string("Bearer ") + kBob},
                   {"Content-Type", "application/json"}};
      Add(cases, std::move(c));
    }
    if (m.has_workflow && full.is_object()) {
      for (auto& c : WorkflowCases(m, full.as_object(), seeded)) Add(cases, std::move(c));
    }
  } else {
    const json::object full_params = full.is_object() ? full.as_object() : json::object{};
    const lex::ParamList base = ToParams(full_params);
    Add(cases, Query(m, "baseline", base));
    Add(cases, Query(m, "required params only", ToParams(minimal.is_object() ? minimal.as_object()
                                                                            : json::object{})));
    Add(cases, Query(m, "no params", {}));
    for (const auto& f : fields) {
      if (f.path.size() != 1) continue;
      const std::string& key = std::get<std::string>(f.path[0]);
      lex::ParamList without;
      for (const auto& p : base) {
        if (p.first != key) without.push_back(p);
      }
      Add(cases, Query(m, "without " + key, without, f.required));
      for (const Bad& bad : BadValues(f, seeded, rng)) {
        if (!bad.param_ok) continue;
        lex::ParamList params = without;
        params.emplace_back(key, bad.param);
        // An empty value is no value (xrpc-server's decodeQueryParam): not a violation.
        const bool invalid = bad.invalid && !bad.param.empty();
        Case c = Query(m, key + ": " + bad.what, params, invalid);
        if (c.target.size() > 14 * 1024) {  // past the header limit
          c.want_status = 431;
          c.want_error = "RequestHeaderFieldsTooLarge";
        }
        Add(cases, std::move(c));
        // Alone, without the other params that might decide the answer first.
        Add(cases, Query(m, key + " alone: " + bad.what, {{key, bad.param}}, invalid));
      }
      // Twice: the same value, then two values.
      lex::ParamList twice = base;
      for (const auto& p : base) {
        if (p.first == key) twice.push_back(p);
      }
      const std::string other = Str(f.schema, "type") == "integer" ? "2" : "x";
      Add(cases, Query(m, key + " twice, same value", twice, false));
      lex::ParamList two = without;
      two.emplace_back(key, Sampler(lex, seeded, m.nsid).String(f.schema, key));
      two.emplace_back(key, other);
      Add(cases, Query(m, key + " twice, two values", two, false));
    }
    // The query string itself.
    for (const auto& [query, label] : std::vector<std::pair<std::string, std::string>>{
             {"?", "empty query"}, {"?&&&", "only separators"}, {"?=x", "empty key"},
             {"?limit", "a key without value"}, {"?%", "a lone %"}, {"?%zz=1", "a bad escape"},
             {"?%FF%FE=1", "invalid UTF-8 key"}, {"?uri=%ED%A0%80", "encoded surrogate"},
             {"?cursor=%00", "encoded NUL"}, {"?zzUnknown=1", "unknown param"},
             {"?limit=1&limit=2&limit=3", "three limits"}, {"?a=1#frag", "a fragment"},
             {"?" + std::string(20 * 1024, 'x') + "=1", "20 KiB query"},
         }) {
      Case c = Base(m, "query string: " + label);
      c.target += query;
      if (query.size() > 16 * 1024) {
        c.want_status = 431;
        c.want_error = "RequestHeaderFieldsTooLarge";
      }
      Add(cases, std::move(c));
    }
    {
      Case c = Query(m, "a body on a query", base);
      c.body = "{}";
      c.headers.emplace_back("Content-Type", "application/json");
      c.want_status = 400;
      c.want_error = "InvalidRequest";
      Add(cases, c);
      c.label = "a non-JSON body on a query";
      c.body = "\xff\x00junk";
      c.headers.back().second = "text/plain";
      Add(cases, std::move(c));
    }
    for (const char* verb : {"POST", "PUT", "DELETE"}) {
      Case c = Query(m, std::string(verb) + " on a query", base);
      c.http_method = verb;
      c.want_status = 400;
      c.want_error = "InvalidRequest";
      Add(cases, std::move(c));
    }
    {
      Case c = Query(m, "HEAD", base);
      c.http_method = "HEAD";
      Add(cases, std::move(c));
    }
    {
      Case c = Query(m, "no token", base);
      c.headers.clear();
      Add(cases, c);
      c.label = "another caller (Bob)";
      c.headers = {{"Authorization", std::string("Bearer ") + kBob}};
      Add(cases, c);
      c.label = "a caller with nothing (Nobody)";
      c.headers = {{"Authorization", std::string("Bearer ") + kNobody}};
      Add(cases, std::move(c));
    }
  }

  // Within the budget: the baseline cases first, then a seeded sample of the rest (in order).
  if (cases.size() > kMaxCasesPerMethod) {
    std::vector<std::size_t> order(cases.size() - 2);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i + 2;
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(kMaxCasesPerMethod - 2);
    std::sort(order.begin(), order.end());
    std::vector<Case> kept{cases[0], cases[1]};
    for (std::size_t i : order) kept.push_back(std::move(cases[i]));
    cases = std::move(kept);
  }
  return cases;
}

// Inbound workflow envelopes that match nothing we issued.
std::vector<Case> MalformedInputTest::WorkflowCases(const Method& m, const json::object& input,
                                                    const Seeded& seeded) {
  std::vector<Case> cases;
  const std::string kind = [&] {
    auto last = m.nsid.rfind('.');
    auto before = m.nsid.rfind('.', last - 1);
    return m.nsid.substr(before + 1);
  }();
  auto response = [&](std::string name, std::string action, std::string uri,
                      std::optional<std::string> cid) {
    json::object result{{"uri", uri}};
    if (cid) result["cid"] = *cid;
    return json::object{{"action", action}, {"name", name}, {"result", result}};
  };
  const std::string some_uri = seeded.pending_item;
  auto with = [&](std::string label, json::value workflow, bool invalid = false) {
    json::object in = input;
    in["workflow"] = std::move(workflow);
    std::string body = json::serialize(in);
    if (body.size() > kMaxBody) return;
    cases.push_back(Body(m, "workflow: " + label, std::move(body), invalid));
  };
  json::array none;
  with("empty object", json::object{}, true);
  with("intent only", json::object{{"intent", kind + ":x:1"}}, true);
  with("responses only", json::object{{"responses", none}}, true);
  for (const std::string& intent :
       {std::string(""), std::string("x"), kind + ":nonexistent:1", kind + "::1", kind + ":id:0",
        kind + ":id:-1", kind + ":id:1000", kind + ":id:99999999999999999999", kind + ":id:1:2",
        std::string("cart.create:id:1"), std::string(":::"), std::string("error"),
        std::string("rollback"), std::string("syncCart"), std::string("\xc3\xa9:\xc3\xa9:1")}) {
    with("intent '" + Truncate(intent, 30) + "'", json::object{{"intent", intent}, {"responses", none}});
  }
  with("intent of 65 bytes", json::object{{"intent", std::string(65, 'i')}, {"responses", none}}, true);
  with("intent a number", json::object{{"intent", 1}, {"responses", none}}, true);
  with("responses an object", json::object{{"intent", kind + ":x:1"}, {"responses", json::object{}}},
       true);
  with("responses [null]", json::object{{"intent", kind + ":x:1"}, {"responses", json::array{nullptr}}},
       true);
  with("response without result",
       json::object{{"intent", kind + ":x:1"},
                    {"responses", json::array{json::object{{"action", "create"}, {"name", "x/y"}}}}},
       true);
  with("response with a bad uri",
       json::object{{"intent", kind + ":x:1"},
                    {"responses", json::array{response("x/y", "create", "nope", std::nullopt)}}},
       true);
  with("response with a bad cid",
       json::object{{"intent", kind + ":x:1"},
                    {"responses", json::array{response("x/y", "create", some_uri, "nope")}}},
       true);
  with("response action of 33 bytes",
       json::object{{"intent", kind + ":x:1"},
                    {"responses", json::array{response("x/y", std::string(33, 'a'), some_uri,
                                                       seeded.cid)}}},
       true);
  with("response name of 65 bytes",
       json::object{{"intent", kind + ":x:1"},
                    {"responses", json::array{response(std::string(65, 'n'), "create", some_uri,
                                                       seeded.cid)}}},
       true);
  with("bogus response names",
       json::object{{"intent", kind + ":x:1"},
                    {"responses", json::array{response("nobody/item", "frobnicate", some_uri,
                                                       seeded.cid)}}});
  with("error without error or responses", json::object{{"intent", "error"}, {"responses", none}});
  with("error naming nothing",
       json::object{{"intent", "error"},
                    {"responses", none},
                    {"error", json::object{{"action", "create"}, {"message", "boom"}}}});
  with("error naming an unknown workflow",
       json::object{{"intent", "error"},
                    {"responses", none},
                    {"error", json::object{{"action", "create"}, {"name", "3kzzz/cart"},
                                           {"message", "boom"}, {"code", "X"}}}});
  // Messages at the limit in 2-byte characters, odd and even: whatever the prefix we add, one
  // of them is cut in the middle of a character if the raise is cut by bytes.
  for (const std::string& message : {Repeat("\xc3\xa9", 512), "a" + Repeat("\xc3\xa9", 511)}) {
    with("error naming nothing, " + std::to_string(message.size()) + "-byte message in 2-byte characters",
         json::object{{"intent", "error"},
                      {"responses", none},
                      {"error", json::object{{"action", "create"}, {"message", message}}}});
  }
  with("error with a 1025-byte message",
       json::object{{"intent", "error"},
                    {"responses", none},
                    {"error", json::object{{"action", "create"}, {"message", std::string(1025, 'm')}}}},
       true);
  with("error without message",
       json::object{{"intent", "error"}, {"responses", none}, {"error", json::object{{"action", "x"}}}},
       true);
  with("error an array", json::object{{"intent", "error"}, {"responses", none}, {"error", json::array{}}},
       true);
  json::array huge;
  for (int i = 0; i < 500; ++i) huge.push_back(response("x/" + std::to_string(i), "create", some_uri, seeded.cid));
  with("500 responses", json::object{{"intent", kind + ":x:1"}, {"responses", huge}});
  with("500 responses, error", json::object{{"intent", "error"}, {"responses", huge}});
  json::array empties;
  for (int i = 0; i < 5000; ++i) empties.push_back(json::object{});
  with("5000 empty responses", json::object{{"intent", kind + ":x:1"}, {"responses", empties}}, true);
  return cases;
}

// A real workflow of this method, then callbacks that get it wrong in every way the engine
// checks; finally the right callback, its replay and late ones. Started as Alice with the first
// of these inputs that answers with a workflow: the baselines, then the baseline with each
// at-uri field pointing at each seeded record (a `record` next to a `uri` is the one we hold
// there, so that a put changes nothing and is accepted). Returned in order, never sampled.
std::vector<Case> MalformedInputTest::RealWorkflowCases(const Lexicons& lex, const Method& m,
                                                        const Seeded& seeded) {
  std::vector<Case> cases;
  Sampler sampler(lex, seeded, m.nsid);
  const json::value full = sampler.Value(m.schema, m.nsid, "", true);
  if (!full.is_object()) return cases;
  std::vector<Field> fields;
  CollectFields(lex, m.schema, m.nsid, full, {}, fields);
  std::vector<json::object> candidates{full.as_object(),
                                       sampler.Value(m.schema, m.nsid, "", false).as_object()};
  for (const auto& f : fields) {
    if (f.path.size() != 1 || Str(f.schema, "format") != "at-uri") continue;
    for (const auto& uri : seeded.Uris()) {
      json::object in = full.as_object();
      in[std::get<std::string>(f.path[0])] = uri;
      candidates.push_back(std::move(in));
    }
  }
  json::object input;
  json::value out;
  for (auto& in : candidates) {
    WithHeldRecord(in);
    Case start = Body(m, "start a workflow", json::serialize(in));
    std::optional<Reply> started = Try(start);
    if (!started || started->status != 200) continue;
    out = started->Json();
    if (out.is_object() && out.as_object().contains("workflow")) {
      input = std::move(in);
      break;
    }
  }
  if (input.empty()) {
    ADD_FAILURE() << m.nsid << ": no input started a workflow; the callbacks were not tried";
    return cases;
  }
  const json::object& wf = out.at("workflow").as_object();
  const std::string intent(wf.at("intent").as_string());
  json::array good;
  for (const auto& a : wf.at("actions").as_array()) {
    const auto& action = a.as_object();
    std::string type(action.at("$type").as_string());
    std::string verb = type.substr(type.find('#') + 1);
    if (verb == "raise") return cases;
    std::string uri = "at://" + std::string(action.at("repo").as_string()) + "/" +
                      std::string(action.at("collection").as_string()) + "/" +
                      std::string(action.at("rkey").as_string());
    json::object result{{"uri", uri}};
    if (verb != "delete") result["cid"] = lex::ComputeRecordCid(action.at("record"));
    good.push_back(json::object{{"action", verb}, {"name", action.at("name")}, {"result", result}});
  }
  if (good.empty()) return cases;
  auto callback = [&](std::string label, std::string intent_text, json::array responses,
                      std::optional<json::object> error = std::nullopt,
                      const json::object* in = nullptr, const char* caller = kAlice) {
    json::object body = in ? *in : input;
    json::object w{{"intent", intent_text}, {"responses", std::move(responses)}};
    if (error) w["error"] = *error;
    body["workflow"] = std::move(w);
    Case c = Body(m, "real workflow: " + label, json::serialize(body));
    c.headers[0].second = std::string("Bearer ") + caller;
    if (c.body->size() <= kMaxBody) cases.push_back(std::move(c));
  };
  auto mutate = [&](auto&& change) {
    json::array copy = good;
    change(copy[0].as_object());
    return copy;
  };
  callback("no responses", intent, {});
  callback("a response renamed", intent, mutate([](json::object& r) {
             r["name"] = std::string(r["name"].as_string()) + "x";
           }));
  callback("a response of another workflow", intent, mutate([](json::object& r) {
             r["name"] = "3kzzzzzzzzzz2zzzzzzzz/cart";
           }));
  callback("a response with the wrong verb", intent, mutate([](json::object& r) {
             r["action"] = r["action"] == "create" ? "update" : "create";
           }));
  callback("a response with an unknown verb", intent,
           mutate([](json::object& r) { r["action"] = "frobnicate"; }));
  callback("a response in Bob's repo", intent, mutate([](json::object& r) {
             std::string uri(r["result"].as_object()["uri"].as_string());
             r["result"].as_object()["uri"] =
                 "at://" + std::string(kBob) + uri.substr(uri.find('/', 5));
           }));
  callback("a response in another collection", intent, mutate([](json::object& r) {
             std::string uri(r["result"].as_object()["uri"].as_string());
             auto rkey = uri.substr(uri.rfind('/'));
             r["result"].as_object()["uri"] = "at://" + std::string(kAlice) + "/app.bsky.feed.post" + rkey;
           }));
  callback("a response at another key", intent, mutate([](json::object& r) {
             std::string uri(r["result"].as_object()["uri"].as_string());
             r["result"].as_object()["uri"] = uri.substr(0, uri.rfind('/')) + "/3kzzzzzzzzzz2";
           }));
  callback("a response with another CID", intent, mutate([&](json::object& r) {
             r["result"].as_object()["cid"] = seeded.cid;
           }));
  callback("a response without CID", intent,
           mutate([](json::object& r) { r["result"].as_object().erase("cid"); }));
  callback("a response with a bad CID", intent,
           mutate([](json::object& r) { r["result"].as_object()["cid"] = "bafyxyz"; }));
  {
    json::array twice = good;
    twice.push_back(good[0]);
    callback("a response twice", intent, twice);
  }
  {
    json::array many;
    while (json::serialize(many).size() < 80 * 1024) many.push_back(good[0]);
    callback("one response repeated to 80 KiB", intent, many);
  }
  const std::string stem = intent.substr(0, intent.rfind(':') + 1);
  for (const char* round : {"0", "2", "10", "999"}) {
    callback(std::string("round ") + round, stem + round, good);
  }
  callback("the intent of another method", "cart.create" + intent.substr(intent.find(':')), good);
  callback("by Bob", intent, good, std::nullopt, nullptr, kBob);
  callback("by Nobody", intent, good, std::nullopt, nullptr, kNobody);
  {
    json::object changed = input;
    changed["zzChanged"] = 1;
    callback("with another input", intent, good, std::nullopt, &changed);
  }
  const std::string first_name(good[0].at("name").as_string());
  callback("error with a bogus response", "error",
           mutate([](json::object& r) { r["name"] = std::string(r["name"].as_string()) + "x"; }),
           json::object{{"action", "create"}, {"name", first_name}, {"message", "boom"}});
  callback("error by Bob", "error", {},
           json::object{{"action", "create"}, {"name", first_name}, {"message", "boom"}},
           nullptr, kBob);
  // The right callback (which completes the workflow), its replay, then errors that come late.
  callback("the right callback", intent, good);
  callback("its replay", intent, good);
  callback("an error after completion", "error", good,
           json::object{{"action", "create"}, {"name", first_name}, {"message", "late"}});
  callback("a renamed response after completion", intent, mutate([](json::object& r) {
             r["name"] = std::string(r["name"].as_string()) + "x";
           }));
  // Two more workflows of the same input, failed by the agent with the longest messages, in
  // 2-byte characters (odd and even lengths), then replayed.
  for (const std::string& message : {Repeat("\xc3\xa9", 512), "a" + Repeat("\xc3\xa9", 511)}) {
    std::optional<Reply> again = Try(Body(m, "start another workflow", json::serialize(input)));
    if (!again || again->status != 200) continue;
    json::value w = again->Json();
    if (!w.is_object() || !w.as_object().contains("workflow")) continue;
    const json::array& actions = w.at("workflow").at("actions").as_array();
    if (actions.empty() || !actions[0].as_object().contains("name")) continue;
    const std::string name(actions[0].at("name").as_string());
    const json::object error{{"action", "create"}, {"name", name}, {"message", message}};
    callback("error with a " + std::to_string(message.size()) + "-byte message", "error", {}, error);
    callback("its replay", "error", {}, error);
  }
  return cases;
}

TEST_F(MalformedInputTest, EveryMethodAnswersBadInputWithAnXrpcError) {
  const auto started = std::chrono::steady_clock::now();
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(kSeed));
  std::mt19937_64 rng(kSeed);
  Lexicons lex(fs::path(ATIPAY_SOURCE_DIR) / "lexicons");

  // Every query and procedure of the lexicons is served, and nothing else.
  std::set<std::string> registered, described;
  router_->ForEach([&](const std::string& nsid, const xrpc::Router::Entry&) { registered.insert(nsid); });
  for (const auto& m : lex.methods()) described.insert(m.nsid);
  ASSERT_EQ(described, registered) << "the lexicons and the server disagree on the methods";
  ASSERT_EQ(lex.methods().size(), registered.size());

  const Seeded seeded = Seed();
  for (const auto& m : lex.methods()) {
    std::vector<Case> cases = CasesFor(lex, m, seeded, rng);
    for (const auto& c : cases) Try(c);
    if (m.has_workflow) {
      for (const auto& c : RealWorkflowCases(lex, m, seeded)) Try(c);
    }
    // Still standing, and the method is served (never 501).
    auto health = atipay::testing::Fetch(server_->port(), "GET", "/xrpc/_health");
    ASSERT_TRUE(health && health->status == 200) << "the server stopped answering after " << m.nsid;
  }

  // What was accepted left the carts consistent: no total wrapped around.
  for (const char* did : {kAlice, kBob}) {
    store::CartQuery q;
    q.did = did;
    q.limit = 100;
    for (const auto& cart : store_->ListCarts(q).rows) {
      EXPECT_GE(cart.amount, 0) << cart.uri << " has a negative total";
    }
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ coverage ] %zu methods, %d requests, %.1f s, %d failures\n", lex.methods().size(),
              requests_, seconds, failures_);
  for (const auto& [nsid, n] : per_method_) std::printf("[          ]   %-52s %4d\n", nsid.c_str(), n);
  EXPECT_EQ(failures_, 0) << "(the first " << kMaxFailuresShown << " are shown above)";
}

}  // namespace
}  // namespace atipay::payments
