// DID resolution against in-test HTTP(S) servers on 127.0.0.1: PLC and did:web documents,
// slow, failing and malformed answers, the cache, key rotation and TLS verification.
#include "identity/identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "auth/auth.h"
#include "test_http_server.h"

namespace atipay::identity {
namespace {

namespace json = boost::json;
using test::Reply;
using test::TestHttpServer;
using namespace std::chrono_literals;

constexpr char kAlice[] = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
constexpr char kService[] = "did:web:pay.example.com";
constexpr char kNsid[] = "com.atiproto.cart.get";

std::string DidDoc(const std::string& did, const auth::PublicKey& key,
                   const std::string& pds = "https://pds.example.com",
                   const std::string& handle = "alice.test") {
  json::object doc{
      {"@context",
       json::array{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"}},
      {"id", did},
      {"alsoKnownAs", json::array{"at://" + handle}},
      {"verificationMethod", json::array{json::object{{"id", did + "#atproto"},
                                                      {"type", "Multikey"},
                                                      {"controller", did},
                                                      {"publicKeyMultibase", key.Multikey()}}}},
      {"service", json::array{json::object{{"id", "#atproto_pds"},
                                           {"type", "AtprotoPersonalDataServer"},
                                           {"serviceEndpoint", pds}}}}};
  return json::serialize(doc);
}

// A PLC directory serving whatever documents the test puts in it.
class FakePlc {
 public:
  FakePlc()
      : server_([this](const std::string& target) {
          std::lock_guard<std::mutex> lock(mu_);
          if (override_) return *override_;
          auto it = docs_.find(target.substr(1));
          if (it == docs_.end()) return Reply{404, R"({"message":"DID not registered"})"};
          return Reply{200, it->second};
        }) {}
  void Put(const std::string& did, std::string doc) {
    std::lock_guard<std::mutex> lock(mu_);
    docs_[did] = std::move(doc);
  }
  void Remove(const std::string& did) {
    std::lock_guard<std::mutex> lock(mu_);
    docs_.erase(did);
  }
  void Override(std::optional<Reply> reply) {
    std::lock_guard<std::mutex> lock(mu_);
    override_ = std::move(reply);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  int requests() const { return server_.requests(); }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> docs_;
  std::optional<Reply> override_;
  TestHttpServer server_;
};

std::string Mint(const auth::PrivateKey& key, const std::string& iss, const auth::Clock& clock) {
  auth::ServiceJwtParams params(iss, kService, kNsid);
  params.iat = clock.NowSeconds();
  return auth::CreateServiceJwt(key, params);
}

HttpClientOptions FastHttp() {
  HttpClientOptions http;
  http.connect_timeout = 500ms;
  http.request_timeout = 500ms;
  return http;
}

std::unique_ptr<IdentityResolver> PlcOnly(const std::string& url, const auth::Clock& clock,
                                          CacheOptions cache = {},
                                          HttpClientOptions http = FastHttp()) {
  IdentityOptions options;
  options.plc_url = url;
  options.http = http;
  options.cache = cache;
  auto r = MakeIdentityResolver(options, clock);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(r).value();
}

MATCHER_P2(IsXrpcError, status, name, "") {
  const auto* error = std::get_if<xrpc::XrpcError>(&arg);
  if (error == nullptr) return false;
  *result_listener << error->status << " " << error->name << ": " << error->message;
  return error->status == status && error->name == name;
}

template <class T>
const xrpc::XrpcError* ErrorOf(const T& r) {
  return std::get_if<xrpc::XrpcError>(&r);
}

TEST(Url, Parse) {
  auto u = Url::Parse("https://plc.directory");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "plc.directory");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/");
  u = Url::Parse("http://LOCALHOST:2582/x?y=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, "2582");
  EXPECT_EQ(u->target, "/x?y=1");
  u = Url::Parse("http://[::1]:80/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->ToString(), "http://[::1]/");
  for (const char* bad : {"ftp://x", "https://", "https://user@host/", "https://h:0/",
                          "https://h:99999/", "https://h/#frag", "https://h_x/", "plc.directory"}) {
    EXPECT_FALSE(Url::Parse(bad)) << bad;
  }
}

TEST(Url, Loopback) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("pds.localhost"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("plc.directory"));
}

TEST(WebResolver, DocumentUrls) {
  auto http = std::make_shared<const HttpClient>();
  WebResolver prod(http, false), dev(http, true);
  EXPECT_EQ(prod.DocumentUrl("did:web:example.com")->ToString(),
            "https://example.com/.well-known/did.json");
  EXPECT_EQ(prod.DocumentUrl("did:web:example.com%3A8443")->ToString(),
            "https://example.com:8443/.well-known/did.json");
  EXPECT_FALSE(prod.DocumentUrl("did:web:localhost%3A2583"));
  EXPECT_FALSE(prod.DocumentUrl("did:web:127.0.0.1"));
  EXPECT_EQ(dev.DocumentUrl("did:web:localhost%3A2583")->ToString(),
            "http://localhost:2583/.well-known/did.json");
  // Dev mode does not downgrade other hosts.
  EXPECT_EQ(dev.DocumentUrl("did:web:example.com")->ToString(),
            "https://example.com/.well-known/did.json");
  EXPECT_FALSE(prod.DocumentUrl("did:web:example.com:user:alice"));
  EXPECT_FALSE(prod.DocumentUrl("did:web:example.com%2Fpath"));
  EXPECT_FALSE(prod.DocumentUrl("did:web:"));
  EXPECT_FALSE(prod.DocumentUrl("did:plc:aliceaaaaaaaaaaaaaaaaaaa"));
}

TEST(PlcResolver, UrlPolicy) {
  auto http = std::make_shared<const HttpClient>();
  std::string error;
  EXPECT_TRUE(PlcResolver::Create("https://plc.directory", http, &error));
  EXPECT_TRUE(PlcResolver::Create("https://plc.directory/", http, &error));
  EXPECT_TRUE(PlcResolver::Create("http://127.0.0.1:2582", http, &error));
  EXPECT_TRUE(PlcResolver::Create("http://localhost:2582", http, &error));
  EXPECT_FALSE(PlcResolver::Create("http://plc.directory", http, &error));
  EXPECT_THAT(error, ::testing::HasSubstr("https"));
  EXPECT_FALSE(PlcResolver::Create("plc.directory", http, &error));
  IdentityOptions insecure;
  insecure.plc_url = "http://plc.example.com";
  EXPECT_FALSE(MakeIdentityResolver(insecure).ok());
  IdentityOptions missing_dir;
  missing_dir.dev_did_dir = "/nonexistent/atipay";
  EXPECT_FALSE(MakeIdentityResolver(missing_dir).ok());
  EXPECT_TRUE(IsValidPlcDid(kAlice));
  EXPECT_FALSE(IsValidPlcDid("did:plc:ALICEAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(IsValidPlcDid("did:plc:alice"));
  EXPECT_FALSE(IsValidPlcDid("did:plc:aliceaaaaaaaaaaaaaaaaaa01"));
}

TEST(DidDocument, ParsesTheAtprotoParts) {
  auth::PrivateKey key = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  auto doc = ParseDidDocument(DidDoc(kAlice, key.public_key()), kAlice);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->AtprotoKey(), key.public_key());
  EXPECT_EQ(doc->PdsEndpoint(), "https://pds.example.com");
  EXPECT_EQ(doc->Handle(), "alice.test");
  EXPECT_FALSE(
      ParseDidDocument(DidDoc(kAlice, key.public_key()), "did:plc:otheraaaaaaaaaaaaaaaaaaa").ok());
  EXPECT_FALSE(ParseDidDocument("{", kAlice).ok());
  EXPECT_FALSE(ParseDidDocument("[]", kAlice).ok());
  EXPECT_FALSE(
      ParseDidDocument(R"({"id":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","service":{}})", kAlice).ok());
}

TEST(DidDocument, KeySelectionRules) {
  auth::PrivateKey k1 = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  auth::PrivateKey k2 = *auth::PrivateKey::Generate(auth::Curve::kP256);
  auto make = [&](json::array vms) {
    json::object doc{{"id", kAlice}, {"verificationMethod", std::move(vms)}};
    auto r = ParseDidDocument(json::serialize(doc), kAlice);
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  };
  auto vm = [&](std::string id, const auth::PublicKey& key, std::string controller = kAlice,
                std::string type = "Multikey") {
    return json::object{{"id", id},
                        {"type", type},
                        {"controller", controller},
                        {"publicKeyMultibase", key.Multikey()}};
  };
  // Relative id; other fragments skipped; first #atproto wins.
  EXPECT_EQ(make({vm("#atproto_label", k2.public_key()), vm("#atproto", k1.public_key()),
                  vm("#atproto", k2.public_key())})
                .AtprotoKey(),
            k1.public_key());
  // Another DID's key, or a controller that is not the subject.
  EXPECT_FALSE(
      make({vm("did:plc:otheraaaaaaaaaaaaaaaaaaa#atproto", k1.public_key())}).AtprotoKey());
  EXPECT_FALSE(
      make({vm("#atproto", k1.public_key(), "did:plc:otheraaaaaaaaaaaaaaaaaaa")}).AtprotoKey());
  // An unusable first #atproto entry is not skipped in favour of a later one.
  EXPECT_FALSE(make({vm("#atproto", k1.public_key(), kAlice, "JsonWebKey2020"),
                     vm("#atproto", k2.public_key())})
                   .AtprotoKey());
  EXPECT_FALSE(make({}).AtprotoKey());
}

// A document is cached for each DID a token names, and a did:web host may serve 256 KiB of
// entries: only what atproto reads is kept (DidDocument holds no entry lists), found however
// deep in the bulk it sits.
TEST(DidDocument, BulkIsReadThroughButNotKept) {
  auth::PrivateKey key = *auth::PrivateKey::Generate(auth::Curve::kP256);
  json::array methods(60000, json::object{{"id", ""}, {"type", ""}, {"controller", ""}});
  methods.push_back(json::object{{"id", "#atproto"},
                                 {"type", "Multikey"},
                                 {"controller", kAlice},
                                 {"publicKeyMultibase", key.public_key().Multikey()}});
  json::array services(
      2000, json::object{{"id", "#atproto_pds"}, {"type", "Other"}, {"serviceEndpoint", ""}});
  services.push_back(json::object{{"id", "#atproto_pds"},
                                  {"type", "AtprotoPersonalDataServer"},
                                  {"serviceEndpoint", "https://pds.example.com"}});
  json::array aliases(10000, json::string("https://not.a.handle"));
  aliases.push_back("at://Alice.Test");
  json::object doc{{"id", kAlice},
                   {"alsoKnownAs", aliases},
                   {"verificationMethod", methods},
                   {"service", services}};
  auto parsed = ParseDidDocument(json::serialize(doc), kAlice);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->AtprotoKey(), key.public_key());
  EXPECT_EQ(parsed->PdsEndpoint(), "https://pds.example.com");
  EXPECT_EQ(parsed->Handle(), "alice.test");
  // An endpoint no PDS has is not kept either.
  doc["service"] = json::array{json::object{
      {"id", "#atproto_pds"},
      {"type", "AtprotoPersonalDataServer"},
      {"serviceEndpoint",
       "https://pds.example.com/" + std::string(DidDocument::kMaxEndpointBytes, 'x')}}};
  parsed = ParseDidDocument(json::serialize(doc), kAlice);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->PdsEndpoint(), "");
}

// The reference (@atproto/common-web's didDocument schema) refuses a document whole when any
// entry is malformed, whichever entry it is; so do we. The #atproto key's controller must be
// the DID itself (atproto's DID rules), not merely present.
TEST(DidDocument, MalformedEntriesRefuseTheDocument) {
  auth::PrivateKey key = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  const json::object atproto{{"id", "#atproto"},
                             {"type", "Multikey"},
                             {"controller", kAlice},
                             {"publicKeyMultibase", key.public_key().Multikey()}};
  auto parse = [&](json::object extra) {
    json::object doc{{"id", kAlice}};
    for (auto& [name, value] : extra) doc[name] = value;
    if (!doc.contains("verificationMethod")) doc["verificationMethod"] = json::array{atproto};
    return ParseDidDocument(json::serialize(doc), kAlice);
  };
  ASSERT_TRUE(parse({}).ok());
  EXPECT_EQ(parse({})->AtprotoKey(), key.public_key());
  json::object no_controller = atproto;
  no_controller.erase("controller");
  json::object null_key = atproto;
  null_key["publicKeyMultibase"] = nullptr;
  const std::vector<json::object> refused = {
      {{"alsoKnownAs", json::array{"at://alice.test", 7}}},
      {{"alsoKnownAs", nullptr}},
      {{"verificationMethod", json::array{atproto, "#atproto"}}},
      {{"verificationMethod", json::array{json::object{}, atproto}}},
      {{"verificationMethod", json::array{no_controller}}},
      {{"verificationMethod", json::array{null_key}}},
      {{"service", json::array{json::object{{"id", "#atproto_pds"}, {"type", "X"}}}}},
      {{"service", json::array{json::object{
                       {"id", "#x"}, {"type", "X"}, {"serviceEndpoint", json::array{}}}}}},
  };
  for (const json::object& extra : refused) {
    SCOPED_TRACE(json::serialize(extra));
    EXPECT_FALSE(parse(extra).ok());
  }
  // Well-formed, but the key's controller is another DID, or empty.
  for (const char* controller : {"did:plc:otheraaaaaaaaaaaaaaaaaaa", ""}) {
    json::object other = atproto;
    other["controller"] = controller;
    auto doc = parse({{"verificationMethod", json::array{other}}});
    ASSERT_TRUE(doc.ok()) << doc.error().message;
    EXPECT_FALSE(doc->AtprotoKey());
  }
  // Object endpoints and absent keys are well-formed (a method without a key is unusable).
  json::object keyless = atproto;
  keyless.erase("publicKeyMultibase");
  auto doc =
      parse({{"verificationMethod", json::array{keyless}},
             {"service", json::array{json::object{
                             {"id", "#x"}, {"type", "X"}, {"serviceEndpoint", json::object{}}}}}});
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_FALSE(doc->AtprotoKey());
}

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest() : alice_(*auth::PrivateKey::Generate(auth::Curve::kSecp256k1)) {
    plc_.Put(kAlice, DidDoc(kAlice, alice_.public_key()));
  }
  auth::ManualClock clock_;
  FakePlc plc_;
  auth::PrivateKey alice_;
};

TEST_F(ResolverTest, PlcDocumentEndToEnd) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  auth::ServiceAuthVerifier verifier(auth::ServiceAuthOptions(kService), *resolver, clock_);
  std::string token = Mint(alice_, kAlice, clock_);
  auto r = verifier.Verify("Bearer " + token, kNsid);
  ASSERT_TRUE(std::holds_alternative<auth::VerifiedCaller>(r)) << ErrorOf(r)->message;
  const auto& caller = std::get<auth::VerifiedCaller>(r);
  EXPECT_EQ(caller.did, kAlice);
  EXPECT_EQ(caller.pds_endpoint, "https://pds.example.com");
  EXPECT_EQ(caller.handle, "alice.test");
  // Cached: more tokens, no more requests.
  for (int i = 0; i < 5; ++i) {
    std::string again = Mint(alice_, kAlice, clock_);
    EXPECT_TRUE(
        std::holds_alternative<auth::VerifiedCaller>(verifier.Verify("Bearer " + again, kNsid)));
  }
  EXPECT_EQ(plc_.requests(), 1);
  EXPECT_EQ(resolver->fetch_count(), 1u);
}

TEST_F(ResolverTest, UnknownAndDeactivatedDidsAre401) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  EXPECT_THAT(resolver->ResolveKey("did:plc:unknownaaaaaaaaaaaaaaaaa", false),
              IsXrpcError(401, "AuthenticationRequired"));
  plc_.Override(Reply{410, "{}"});
  EXPECT_THAT(resolver->ResolveKey("did:plc:tombstoneaaaaaaaaaaaaaaa", false),
              IsXrpcError(401, "AuthenticationRequired"));
  // Methods we do not resolve.
  EXPECT_THAT(
      resolver->ResolveKey("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", false),
      IsXrpcError(401, "AuthenticationRequired"));
  EXPECT_THAT(resolver->ResolveKey("did:plc:short", false),
              IsXrpcError(401, "AuthenticationRequired"));
}

TEST_F(ResolverTest, UpstreamFailuresAre502) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  plc_.Override(Reply{500, "oops"});
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
  plc_.Override(Reply{503, ""});
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
  plc_.Override(Reply{200, "HTTP/1.1 garbage\r\n\r\n", 0ms, /*raw=*/true});
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
  plc_.Override(Reply{200, "\x01\x02\x03 not http at all", 0ms, /*raw=*/true});
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
  plc_.Override(Reply{200, "{\"id\":\"" + std::string(kAlice) + "\",\"x\":\"" +
                               std::string(300 * 1024, 'x') + "\"}"});
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
  // A refused connection.
  auto refused = PlcOnly("http://127.0.0.1:" + std::to_string(test::UnusedPort()), clock_);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(refused->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(ResolverTest, SlowDirectoryTimesOut) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  plc_.Override(Reply{200, DidDoc(kAlice, alice_.public_key()), 3000ms});
  auto start = std::chrono::steady_clock::now();
  auto r = resolver->ResolveKey(kAlice, false);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(r, IsXrpcError(502, "UpstreamFailure"));
  EXPECT_THAT(ErrorOf(r)->message, ::testing::HasSubstr("timed out"));
  EXPECT_GE(elapsed, 400ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(ResolverTest, MalformedDocumentsAre401) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  const std::vector<std::string> bodies = {
      "not json",
      "[1,2,3]",
      R"({"id":"did:plc:otheraaaaaaaaaaaaaaaaaaa"})",
      R"({"id":"did:plc:aliceaaaaaaaaaaaaaaaaaaa"})",  // no key at all
      R"({"id":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","verificationMethod":[{"id":"#atproto","type":"Multikey","controller":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","publicKeyMultibase":"zNotAKey"}]})",
      R"({"id":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","verificationMethod":"nope"})",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    plc_.Override(Reply{200, body});
    resolver->Invalidate(kAlice);
    EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(401, "AuthenticationRequired"));
  }
}

TEST_F(ResolverTest, StaleWhileRevalidate) {
  CacheOptions cache;
  cache.fresh_ttl = 60s;
  cache.max_ttl = 600s;
  cache.min_refresh_interval = 0ms;
  HttpClientOptions patient;
  patient.request_timeout = 5s;
  auto resolver = PlcOnly(plc_.url(), clock_, cache, patient);
  auto first = resolver->Resolve(kAlice);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Identity>>(first));
  EXPECT_EQ(plc_.requests(), 1);
  // Stale: answered at once from the cache while the refresher fetches again.
  clock_.Advance(120s);
  plc_.Override(Reply{200, DidDoc(kAlice, alice_.public_key()), 1000ms});
  auto start = std::chrono::steady_clock::now();
  auto stale = resolver->Resolve(kAlice);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);  // not waiting for the fetch
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Identity>>(stale));
  EXPECT_EQ(std::get<0>(stale), std::get<0>(first));
  // The refreshed entry replaces the old one once the fetch is done.
  bool replaced = false;
  for (int i = 0; i < 150 && !replaced; ++i) {
    std::this_thread::sleep_for(20ms);
    auto now = resolver->Resolve(kAlice);
    replaced = std::holds_alternative<std::shared_ptr<const Identity>>(now) &&
               std::get<0>(now) != std::get<0>(first);
  }
  EXPECT_TRUE(replaced);
  EXPECT_EQ(resolver->fetch_count(), 2u);
  EXPECT_EQ(plc_.requests(), 2);
  // Past max_ttl the answer waits for a fetch; if that fails, it is an error.
  clock_.Advance(1000s);
  plc_.Override(Reply{500, ""});
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(502, "UpstreamFailure"));
}

TEST_F(ResolverTest, StaleEntrySurvivesFailedRefreshButNotDeletion) {
  CacheOptions cache;
  cache.fresh_ttl = 60s;
  cache.min_refresh_interval = 0ms;
  auto resolver = PlcOnly(plc_.url(), clock_, cache);
  ASSERT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, false)));
  clock_.Advance(120s);
  plc_.Override(Reply{500, ""});
  ASSERT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, false)));  // stale, refresh fails
  for (int i = 0; i < 100 && resolver->fetch_count() < 2; ++i) std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(resolver->size(), 1u);
  ASSERT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, false)));
  // The DID disappears: the next refresh drops it.
  plc_.Override(std::nullopt);
  plc_.Remove(kAlice);
  for (int i = 0; i < 100 && resolver->size() > 0; ++i) {
    (void)resolver->ResolveKey(kAlice, false);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_THAT(resolver->ResolveKey(kAlice, false), IsXrpcError(401, "AuthenticationRequired"));
}

TEST_F(ResolverTest, ConcurrentMissesShareOneFetch) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  plc_.Override(Reply{200, DidDoc(kAlice, alice_.public_key()), 200ms});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (!ErrorOf(resolver->ResolveKey(kAlice, false))) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(plc_.requests(), 1);
}

TEST_F(ResolverTest, KeyRotationReResolvesOnce) {
  CacheOptions cache;
  cache.min_refresh_interval = 5s;
  auto resolver = PlcOnly(plc_.url(), clock_, cache);
  auth::ServiceAuthVerifier verifier(auth::ServiceAuthOptions(kService), *resolver, clock_);
  auto mint = [&](const auth::PrivateKey& key) { return "Bearer " + Mint(key, kAlice, clock_); };
  ASSERT_TRUE(std::holds_alternative<auth::VerifiedCaller>(verifier.Verify(mint(alice_), kNsid)));
  EXPECT_EQ(plc_.requests(), 1);

  // Alice rotates to a new key; the cache still holds the old one.
  auth::PrivateKey rotated = *auth::PrivateKey::Generate(auth::Curve::kP256);
  plc_.Put(kAlice, DidDoc(kAlice, rotated.public_key()));
  clock_.Advance(10s);
  auto r = verifier.Verify(mint(rotated), kNsid);
  ASSERT_TRUE(std::holds_alternative<auth::VerifiedCaller>(r)) << ErrorOf(r)->message;
  EXPECT_EQ(std::get<auth::VerifiedCaller>(r).alg, auth::Curve::kP256);
  EXPECT_EQ(plc_.requests(), 2);
  // The old key no longer works (one more look, then BadJwtSignature).
  clock_.Advance(10s);
  EXPECT_THAT(verifier.Verify(mint(alice_), kNsid), IsXrpcError(401, "BadJwtSignature"));
  EXPECT_EQ(plc_.requests(), 3);
  // Forged tokens cannot make us hammer the directory: within min_refresh_interval no fetch.
  auth::PrivateKey mallory = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(verifier.Verify(mint(mallory), kNsid), IsXrpcError(401, "BadJwtSignature"));
  }
  EXPECT_EQ(plc_.requests(), 3);
  // And the good key keeps working from the cache.
  EXPECT_TRUE(std::holds_alternative<auth::VerifiedCaller>(verifier.Verify(mint(rotated), kNsid)));
  EXPECT_EQ(plc_.requests(), 3);
}

// Forged tokens naming many cached DIDs each pass the per-DID interval: the budget for all of
// them together keeps the directory from seeing more than a few fetches a second.
TEST_F(ResolverTest, ForcedReResolutionsShareABudgetPerSecond) {
  CacheOptions cache;
  cache.min_refresh_interval = 0ms;
  cache.max_forced_refreshes_per_second = 3;
  auto resolver = PlcOnly(plc_.url(), clock_, cache);
  ASSERT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, false)));
  EXPECT_EQ(plc_.requests(), 1);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, true)));
  EXPECT_EQ(plc_.requests(), 4) << "three forced fetches, then the cached key";
  EXPECT_EQ(resolver->refreshes_refused(), 7u);
  clock_.Advance(1s);
  EXPECT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, true)));
  EXPECT_EQ(plc_.requests(), 5) << "a new second, a new budget";
}

TEST_F(ResolverTest, TryVerifyNeverBlocks) {
  auto resolver = PlcOnly(plc_.url(), clock_);
  auth::ServiceAuthVerifier verifier(auth::ServiceAuthOptions(kService), *resolver, clock_);
  const std::string token = "Bearer " + Mint(alice_, kAlice, clock_);
  // Unknown caller: no answer without I/O, and nothing consumed; it names the DID to resolve.
  std::string unresolved;
  EXPECT_FALSE(verifier.TryVerify(token, kNsid, &unresolved).has_value());
  EXPECT_EQ(unresolved, kAlice);
  EXPECT_EQ(plc_.requests(), 0);
  // Broken tokens are decided at once.
  auto broken = verifier.TryVerify("Bearer x.y.z", kNsid);
  ASSERT_TRUE(broken.has_value());
  EXPECT_THAT(*broken, IsXrpcError(401, "BadJwt"));
  // The blocking path resolves; the same token is still unused.
  ASSERT_TRUE(std::holds_alternative<auth::VerifiedCaller>(verifier.Verify(token, kNsid)));
  EXPECT_EQ(plc_.requests(), 1);
  // Now the key is cached: decided without I/O.
  auto cached = verifier.TryVerify("Bearer " + Mint(alice_, kAlice, clock_), kNsid);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(std::holds_alternative<auth::VerifiedCaller>(*cached));
  auto replay = verifier.TryVerify(token, kNsid);
  ASSERT_TRUE(replay.has_value());
  EXPECT_THAT(*replay, IsXrpcError(401, "NonceNotUnique"));
  // A signature that fails with the cached key needs a re-resolution: no answer inline.
  auth::PrivateKey other = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  unresolved.clear();
  EXPECT_FALSE(
      verifier.TryVerify("Bearer " + Mint(other, kAlice, clock_), kNsid, &unresolved).has_value());
  EXPECT_EQ(unresolved, kAlice);
  EXPECT_EQ(plc_.requests(), 1);
}

TEST_F(ResolverTest, DidWebOverHttpOnLoopbackInDevMode) {
  auth::PrivateKey bob = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  std::string did;
  std::atomic<int> well_known{0};
  TestHttpServer web([&](const std::string& target) {
    if (target != "/.well-known/did.json") return Reply{404, "{}"};
    ++well_known;
    return Reply{200, DidDoc(did, bob.public_key())};
  });
  did = "did:web:localhost%3A" + std::to_string(web.port());
  IdentityOptions options;
  options.http = FastHttp();
  options.dev_allow_http_loopback = true;
  auto resolver = std::move(MakeIdentityResolver(options, clock_)).value();
  auth::ServiceAuthVerifier verifier(auth::ServiceAuthOptions(kService), *resolver, clock_);
  std::string token = Mint(bob, did, clock_);
  auto r = verifier.Verify("Bearer " + token, kNsid);
  ASSERT_TRUE(std::holds_alternative<auth::VerifiedCaller>(r)) << ErrorOf(r)->message;
  EXPECT_EQ(std::get<auth::VerifiedCaller>(r).did, did);
  EXPECT_EQ(well_known.load(), 1);

  // Without the dev flag a loopback did:web is refused outright, before any connection.
  options.dev_allow_http_loopback = false;
  auto strict = std::move(MakeIdentityResolver(options, clock_)).value();
  EXPECT_THAT(strict->ResolveKey(did, false), IsXrpcError(401, "AuthenticationRequired"));
  EXPECT_EQ(well_known.load(), 1);
}

TEST_F(ResolverTest, DevDirectoryIsTrustedFirst) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("atipay-did-dir-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auth::PrivateKey carol = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  const std::string carol_did = "did:plc:carolaaaaaaaaaaaaaaaaaaa";
  std::ofstream(dir / (carol_did + ".json")) << DidDoc(carol_did, carol.public_key());
  IdentityOptions options;
  options.plc_url = plc_.url();
  options.http = FastHttp();
  options.dev_did_dir = dir.string();
  auto resolver = std::move(MakeIdentityResolver(options, clock_)).value();
  auto key = resolver->ResolveKey(carol_did, false);
  ASSERT_FALSE(ErrorOf(key));
  EXPECT_EQ(std::get<0>(key)->key, carol.public_key());
  EXPECT_EQ(plc_.requests(), 0);
  // Not in the directory: the PLC is asked.
  ASSERT_FALSE(ErrorOf(resolver->ResolveKey(kAlice, false)));
  EXPECT_EQ(plc_.requests(), 1);
  // A broken file is an error, not a fall-through.
  std::ofstream(dir / "did:plc:brokenaaaaaaaaaaaaaaaaaa.json") << "{";
  EXPECT_THAT(resolver->ResolveKey("did:plc:brokenaaaaaaaaaaaaaaaaaa", false),
              IsXrpcError(401, "AuthenticationRequired"));
  std::filesystem::remove_all(dir);
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest() : pki_(test::MakeTestPki("127.0.0.1")) {
    ca_file_ = std::filesystem::temp_directory_path() /
               ("atipay-test-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(ca_file_) << pki_.ca_cert_pem;
  }
  ~TlsTest() override { std::filesystem::remove(ca_file_); }
  test::TestPki pki_;
  std::filesystem::path ca_file_;
};

TEST_F(TlsTest, VerifiesTheCertificateChainAndName) {
  TestHttpServer server([](const std::string&) { return Reply{200, "{\"ok\":true}"}; }, &pki_.leaf);
  const std::string port = std::to_string(server.port());
  HttpClientOptions trusting = FastHttp();
  trusting.extra_ca_file = ca_file_.string();
  HttpClient client(trusting);
  auto r = client.Get(*Url::Parse("https://127.0.0.1:" + port + "/x"));
  ASSERT_TRUE(std::holds_alternative<HttpResponse>(r)) << std::get<HttpError>(r).message;
  EXPECT_EQ(std::get<HttpResponse>(r).body, "{\"ok\":true}");
  // The system store alone does not know our CA.
  HttpClient system_only(FastHttp());
  auto untrusted = system_only.Get(*Url::Parse("https://127.0.0.1:" + port + "/x"));
  ASSERT_TRUE(std::holds_alternative<HttpError>(untrusted));
  EXPECT_EQ(std::get<HttpError>(untrusted).kind, HttpError::Kind::kTls);
  // Right CA, wrong name: the certificate is for 127.0.0.1, not localhost.
  auto wrong_name = client.Get(*Url::Parse("https://localhost:" + port + "/x"));
  ASSERT_TRUE(std::holds_alternative<HttpError>(wrong_name));
  EXPECT_EQ(std::get<HttpError>(wrong_name).kind, HttpError::Kind::kTls);
  // A plain HTTP server behind an https URL fails cleanly too.
  TestHttpServer plain([](const std::string&) { return Reply{200, "{}"}; });
  auto not_tls = client.Get(*Url::Parse("https://127.0.0.1:" + std::to_string(plain.port()) + "/"));
  ASSERT_TRUE(std::holds_alternative<HttpError>(not_tls));
}

TEST_F(TlsTest, PlcOverHttps) {
  auth::PrivateKey key = *auth::PrivateKey::Generate(auth::Curve::kSecp256k1);
  TestHttpServer server(
      [&](const std::string& target) {
        if (target != std::string("/") + kAlice) return Reply{404, "{}"};
        return Reply{200, DidDoc(kAlice, key.public_key())};
      },
      &pki_.leaf);
  IdentityOptions options;
  options.plc_url = "https://127.0.0.1:" + std::to_string(server.port());
  options.http = FastHttp();
  options.http.extra_ca_file = ca_file_.string();
  auth::ManualClock clock;
  auto resolver = std::move(MakeIdentityResolver(options, clock)).value();
  auto r = resolver->ResolveKey(kAlice, false);
  ASSERT_FALSE(ErrorOf(r)) << ErrorOf(r)->message;
  EXPECT_EQ(std::get<0>(r)->key, key.public_key());
}

}  // namespace
}  // namespace atipay::identity
