// PdsSession: an account logged in on a PDS; repo writes and proxied service calls (agent.h).
#include <utility>

#include "agent/agent.h"

namespace atipay::agent {

namespace json = boost::json;

namespace {

std::string StringField(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const json::value* f = v.get_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

}  // namespace

class PdsSession::Writer : public RepoWriter {
 public:
  explicit Writer(XrpcCaller& pds) : pds_(pds) {}

  WriteResult Write(const RepoWrite& write) override {
    json::object input{{"repo", write.repo}, {"collection", write.collection}};
    std::string_view nsid;
    switch (write.op) {
      case WriteOp::kCreate:
        nsid = "com.atproto.repo.createRecord";
        break;
      case WriteOp::kPut:
        nsid = "com.atproto.repo.putRecord";
        break;
      case WriteOp::kDelete:
        nsid = "com.atproto.repo.deleteRecord";
        break;
    }
    if (write.rkey) input["rkey"] = *write.rkey;
    if (write.op != WriteOp::kDelete) input["record"] = write.record;
    if (write.swap_commit) input["swapCommit"] = *write.swap_commit;
    XrpcResult r = pds_.Call(nsid, true, input);
    if (!r.ok()) return WriteResult::Failure(r.status, r.ErrorName(), r.ErrorMessage());
    WriteResult out;
    out.status = r.status;
    out.uri = StringField(r.body, "uri");
    out.cid = StringField(r.body, "cid");
    return out;
  }

 private:
  XrpcCaller& pds_;
};

std::unique_ptr<PdsSession> PdsSession::Login(const PdsSessionOptions& options, XrpcResult* error) {
  std::unique_ptr<PdsSession> session(new PdsSession());
  PdsSession* self = session.get();
  HttpCallerOptions http = options.http;
  http.base_url = options.pds_url;
  http.proxy.clear();
  http.token_source = [self](std::string_view) { return self->access_jwt_; };
  session->pds_ = std::make_unique<HttpXrpcCaller>(http);
  http.proxy = options.service;
  session->service_ = std::make_unique<HttpXrpcCaller>(http);
  session->writer_ = std::make_unique<Writer>(*session->pds_);

  XrpcResult r = session->pds_->Call(
      "com.atproto.server.createSession", true,
      json::object{{"identifier", options.identifier}, {"password", options.password}});
  if (r.ok()) {
    session->access_jwt_ = StringField(r.body, "accessJwt");
    session->did_ = StringField(r.body, "did");
    session->handle_ = StringField(r.body, "handle");
    if (!session->access_jwt_.empty() && !session->did_.empty()) return session;
    r = XrpcResult::Failure(0, "InvalidResponse", "createSession answered without accessJwt/did");
  }
  if (error != nullptr) *error = std::move(r);
  return nullptr;
}

PdsSession::~PdsSession() = default;

RepoWriter& PdsSession::repo() { return *writer_; }
XrpcCaller& PdsSession::service() { return *service_; }
XrpcCaller& PdsSession::pds() { return *pds_; }

}  // namespace atipay::agent
