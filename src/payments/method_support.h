// What every payment method shares: the service's state and the helpers that turn plans and
// engine outcomes into XRPC answers. Private to src/payments.
#ifndef ATIPAY_PAYMENTS_METHOD_SUPPORT_H_
#define ATIPAY_PAYMENTS_METHOD_SUPPORT_H_

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "lex/tid.h"
#include "payments/payments.h"
#include "store/store.h"
#include "workflow/workflow.h"
#include "xrpc/error.h"
#include "xrpc/router.h"

namespace atipay::payments {

struct Service::State {
  State(store::Store& s, const PaymentProvider& p, Options o, Clock c)
      : store(s),
        provider(p),
        options(std::move(o)),
        now(std::move(c)),
        engine(s, options.workflow, now) {}

  store::Store& store;
  const PaymentProvider& provider;
  Options options;
  Clock now;
  lex::TidClock tids;
  workflow::Engine engine;

  std::mutex sweeper_mu;
  std::condition_variable sweeper_cv;
  bool stopping = false;
  std::thread sweeper;
};

using State = Service::State;
using StatePtr = std::shared_ptr<State>;

// Engine errors as XRPC errors: a store that cannot commit is a 503, the rest 400 by name.
xrpc::XrpcError ToXrpc(const workflow::Error& e);
// A read the database failed (store::Store's `failure`): a 503 StoreUnavailable the caller may
// retry, never an answer built on rows that were not read.
xrpc::XrpcError ReadFailed(const store::Status& failure);

template <class Out>
void Deliver(const xrpc::Reply<Out>& reply, workflow::Outcome outcome) {
  if (auto* e = std::get_if<workflow::Error>(&outcome)) {
    reply(ToXrpc(*e));
    return;
  }
  // Answers are built (and replayed) as JSON; the router validates them against the output
  // schema unless --no-validate-output.
  reply(xrpc::JsonOutput{boost::json::value(std::move(std::get<boost::json::object>(outcome)))});
}

template <class Out>
workflow::Done DeliverTo(xrpc::Reply<Out> reply) {
  return [reply = std::move(reply)](workflow::Outcome o) { Deliver(reply, std::move(o)); };
}

// Shared by every workflow procedure: callbacks go to the engine; first calls are planned by
// `planner(did, now)`, which returns a Plan or the error that refuses the call.
template <class M, class Planner>
void RunProcedure(const StatePtr& s, xrpc::Request<M>& req, xrpc::Reply<typename M::Output> reply,
                  Planner&& planner) {
  const std::string& did = req.auth.did;
  const std::string nsid(M::kDescriptor.nsid);
  std::string fingerprint = workflow::Fingerprint(ToJson(req.input).as_object());
  if (req.input.workflow) {
    s->engine.Continue(did, nsid, std::move(fingerprint), *req.input.workflow,
                       DeliverTo(std::move(reply)));
    return;
  }
  std::variant<workflow::Plan, xrpc::XrpcError> plan = planner(did, s->now());
  if (auto* e = std::get_if<xrpc::XrpcError>(&plan)) {
    reply(std::move(*e));
    return;
  }
  s->engine.Start(did, nsid, std::move(fingerprint), std::move(std::get<workflow::Plan>(plan)),
                  DeliverTo(std::move(reply)));
}

// "Cart", "Item", "Subscription", "Profile": the kind a collection holds, as error names say it.
std::string KindOf(std::string_view collection);

// A record we hold in `collection` (a k*Collection), by URI: Invalid<Kind>Uri if the URI is not
// one of that collection, <Kind>NotFound if we hold none.
std::variant<store::RecordRow, xrpc::XrpcError> RecordAt(State& s, std::string_view uri,
                                                         std::string_view collection);
// ... and in the caller's repo: Not<Kind>Owner otherwise.
std::variant<store::RecordRow, xrpc::XrpcError> OwnRecord(State& s, std::string_view uri,
                                                          std::string_view did,
                                                          std::string_view collection);

// A query's answer: JSON (checked against the output schema by the router) or an error.
using QueryAnswer = std::variant<xrpc::JsonOutput, xrpc::XrpcError>;

template <class Out>
xrpc::HandlerResult<Out> Reply(QueryAnswer answer) {
  if (auto* e = std::get_if<xrpc::XrpcError>(&answer)) return std::move(*e);
  return std::move(std::get<xrpc::JsonOutput>(answer));
}

// InvalidAmount unless 0 <= amount <= 2^53-1 (lex::kMaxSafeInteger): a record holding more
// could not be stored by a PDS.
std::optional<xrpc::XrpcError> CheckAmount(std::int64_t amount);
// `total` + `amount` (cents, both 0 or more) into `total`; InvalidAmount, and `total` unchanged,
// when the sum passes 2^53-1, the largest integer a record holds: a cart's total is always what
// its lines add up to.
std::optional<xrpc::XrpcError> AddToTotal(std::int64_t& total, std::int64_t amount);
std::optional<xrpc::XrpcError> CheckCurrency(std::string_view currency);

// A list cursor (the seq to continue below); nullopt when absent; InvalidRequest if malformed.
std::variant<std::optional<std::int64_t>, xrpc::XrpcError> ParseCursor(
    const std::optional<std::string>& cursor);

// An #update of `row`'s record to `record` (with its $type), remembering the record it replaces
// so that a rollback can put it back.
workflow::Write UpdateOf(const store::RecordRow& row, std::string name, boost::json::object record);

// RecipientNotAccepting if a line's subject has a profile that turns its kind away
// (acceptsItems / acceptsSubscriptions false). Reads every subject's profile at once, and adds
// to `plan` a precondition on each (or on its absence): a recipient who changes their profile
// before the commit is not signed up to a line on what it said before.
std::optional<xrpc::XrpcError> CheckRecipientsAccept(State& s,
                                                     const std::vector<store::RecordRow>& lines,
                                                     workflow::Plan& plan);

// Registers recipient.profile.get/put and repo.profile.get (profiles.cc).
void RegisterProfiles(xrpc::Router& router, const StatePtr& s, const xrpc::MethodOptions& options);

// Registers the queries on items and subscriptions, the payer's and the recipient's, and
// payment.list (line_queries.cc).
void RegisterLineQueries(xrpc::Router& router, const StatePtr& s,
                         const xrpc::MethodOptions& options);
// Registers item.put, subscription.put and subscription.cancel (line_edits.cc).
void RegisterLineEdits(xrpc::Router& router, const StatePtr& s,
                       const xrpc::MethodOptions& options);

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_METHOD_SUPPORT_H_
