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

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::optional<auth::PublicKey> DidDocument::AtprotoKey() const {
  for (const VerificationMethod& vm : verification_methods) {
    if (!IdIs(vm.id, id, "atproto")) continue;
    // Only the first #atproto entry counts, usable or not.
    if (!vm.controller.empty() && vm.controller != id) return std::nullopt;
    return auth::ParseVerificationMethodKey(vm.type, vm.public_key_multibase);
  }
  return std::nullopt;
}

std::string DidDocument::PdsEndpoint() const {
  for (const Service& s : services) {
    if (!IdIs(s.id, id, "atproto_pds") || s.type != "AtprotoPersonalDataServer") continue;
    if (s.endpoint.starts_with("https://") || s.endpoint.starts_with("http://")) {
      return s.endpoint;
    }
    return {};
  }
  return {};
}

std::string DidDocument::Handle() const {
  for (const std::string& aka : also_known_as) {
    if (!aka.starts_with("at://")) continue;
    std::string handle = aka.substr(5);
    for (char& c : handle) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lex::IsValidHandle(handle) ? handle : std::string();
  }
  return {};
}

lex::Result<DidDocument> ParseDidDocument(std::string_view text, std::string_view expected_did) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return lex::Error{"DID document is not JSON: " + ec.message()};
  if (!root.is_object()) return lex::Error{"DID document is not a JSON object"};
  const json::object& o = root.get_object();
  DidDocument doc;
  doc.id = StringField(o, "id");
  if (doc.id != expected_did) {
    return lex::Error{"DID document id \"" + doc.id.substr(0, 128) + "\" is not " +
                      std::string(expected_did)};
  }
  if (const json::value* aka = o.if_contains("alsoKnownAs")) {
    if (!aka->is_array()) return lex::Error{"alsoKnownAs is not an array"};
    for (const json::value& v : aka->get_array()) {
      if (v.is_string()) doc.also_known_as.emplace_back(v.get_string());
    }
  }
  if (const json::value* vms = o.if_contains("verificationMethod")) {
    if (!vms->is_array()) return lex::Error{"verificationMethod is not an array"};
    for (const json::value& v : vms->get_array()) {
      if (!v.is_object()) continue;
      const json::object& vm = v.get_object();
      doc.verification_methods.push_back({StringField(vm, "id"), StringField(vm, "type"),
                                          StringField(vm, "controller"),
                                          StringField(vm, "publicKeyMultibase")});
    }
  }
  if (const json::value* services = o.if_contains("service")) {
    if (!services->is_array()) return lex::Error{"service is not an array"};
    for (const json::value& v : services->get_array()) {
      if (!v.is_object()) continue;
      const json::object& s = v.get_object();
      doc.services.push_back(
          {StringField(s, "id"), StringField(s, "type"), StringField(s, "serviceEndpoint")});
    }
  }
  return doc;
}

}  // namespace atipay::identity
