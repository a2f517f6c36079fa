#include "identity/did_document.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "lex/formats.h"

namespace atipay::identity {
namespace {

namespace json = boost::json;

// "#frag" or "<did>#frag" names the same entry.
bool IdIs(std::string_view id, std::string_view did, std::string_view fragment) {
  if (id.starts_with(did) && id.size() > did.size() && id[did.size()] == '#') {
    id.remove_prefix(did.size());
  }
  return id.size() == fragment.size() + 1 && id[0] == '#' && id.substr(1) == fragment;
}

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

bool HasString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string();
}

// The shapes @atproto/common-web's didDocument schema gives the entries (the reference refuses
// a document with any other, whatever entry it is): strings in alsoKnownAs; verification
// methods with string id, type and controller, and publicKeyMultibase a string if present;
// services with string id and type, and a string or object serviceEndpoint.
bool IsAlias(const json::value& v) { return v.is_string(); }

bool IsVerificationMethod(const json::value& v) {
  if (!v.is_object()) return false;
  const json::object& vm = v.get_object();
  const json::value* key = vm.if_contains("publicKeyMultibase");
  return HasString(vm, "id") && HasString(vm, "type") && HasString(vm, "controller") &&
         (key == nullptr || key->is_string());
}

bool IsService(const json::value& v) {
  if (!v.is_object()) return false;
  const json::object& s = v.get_object();
  const json::value* endpoint = s.if_contains("serviceEndpoint");
  return HasString(s, "id") && HasString(s, "type") && endpoint != nullptr &&
         (endpoint->is_string() || endpoint->is_object());
}

// The entries of an optional array member, or an error when it is there but not an array of
// entries of the right shape.
lex::Result<const json::array*> OptionalArray(const json::object& o, std::string_view key,
                                              bool (*is_entry)(const json::value&),
                                              std::string_view entry) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return static_cast<const json::array*>(nullptr);
  if (!v->is_array()) return lex::Error{std::string(key) + " is not an array"};
  const json::array& entries = v->get_array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!is_entry(entries[i])) {
      return lex::Error{std::string(key) + "[" + std::to_string(i) + "] is not " +
                        std::string(entry)};
    }
  }
  return &entries;
}

std::optional<auth::PublicKey> AtprotoKeyOf(const json::array& methods, std::string_view did) {
  for (const json::value& v : methods) {
    const json::object& vm = v.get_object();
    if (!IdIs(StringField(vm, "id"), did, "atproto")) continue;
    if (StringField(vm, "controller") != did) return std::nullopt;
    return auth::ParseVerificationMethodKey(StringField(vm, "type"),
                                            StringField(vm, "publicKeyMultibase"));
  }
  return std::nullopt;
}

std::string PdsEndpointOf(const json::array& services, std::string_view did) {
  for (const json::value& v : services) {
    const json::object& s = v.get_object();
    if (!IdIs(StringField(s, "id"), did, "atproto_pds") ||
        StringField(s, "type") != "AtprotoPersonalDataServer") {
      continue;
    }
    const std::string_view endpoint = StringField(s, "serviceEndpoint");
    if ((endpoint.starts_with("https://") || endpoint.starts_with("http://")) &&
        endpoint.size() <= DidDocument::kMaxEndpointBytes) {
      return std::string(endpoint);
    }
    return {};
  }
  return {};
}

std::string HandleOf(const json::array& also_known_as) {
  for (const json::value& v : also_known_as) {
    if (!v.get_string().starts_with("at://")) continue;
    std::string handle(v.get_string().subview(5));
    for (char& c : handle) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lex::IsValidHandle(handle) ? handle : std::string();
  }
  return {};
}

}  // namespace

lex::Result<DidDocument> ParseDidDocument(std::string_view text, std::string_view expected_did) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return lex::Error{"DID document is not JSON: " + ec.message()};
  if (!root.is_object()) return lex::Error{"DID document is not a JSON object"};
  const json::object& o = root.get_object();
  const std::string_view id = StringField(o, "id");
  if (id != expected_did) {
    return lex::Error{"DID document id \"" + std::string(id.substr(0, 128)) + "\" is not " +
                      std::string(expected_did)};
  }
  auto also_known_as = OptionalArray(o, "alsoKnownAs", IsAlias, "a string");
  auto methods = OptionalArray(o, "verificationMethod", IsVerificationMethod,
                               "a verification method (string id, type and controller)");
  auto services = OptionalArray(o, "service", IsService,
                                "a service (string id and type, string or object endpoint)");
  for (const auto* member : {&also_known_as, &methods, &services}) {
    if (!*member) return member->error();
  }
  DidDocument doc;
  doc.id = std::string(id);
  if (*methods) doc.atproto_key_ = AtprotoKeyOf(**methods, id);
  if (*services) doc.pds_endpoint_ = PdsEndpointOf(**services, id);
  if (*also_known_as) doc.handle_ = HandleOf(**also_known_as);
  return doc;
}

}  // namespace atipay::identity
