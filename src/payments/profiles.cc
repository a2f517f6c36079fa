// Recipients' settings: the com.atiproto.profile record (key `self`) in their repo, which says
// whether they take items and subscriptions at all. recipient.profile.get/put for the owner,
// repo.profile.get for anyone; item.create, subscription.create and clone check it.
#include <map>
#include <set>

#include "com/atiproto/recipient/profile/get.h"
#include "com/atiproto/recipient/profile/put.h"
#include "com/atiproto/repo/profile/get.h"
#include "lex/cbor.h"
#include "payments/method_support.h"
#include "payments/records.h"

namespace atipay::payments {

namespace json = boost::json;
namespace lx = lexicons::com::atiproto;
using workflow::Plan;
using workflow::Write;
using xrpc::JsonOutput;
using xrpc::XrpcError;

namespace {

constexpr char kSelf[] = "self";

std::string ProfileUri(std::string_view did) {
  return "at://" + std::string(did) + "/" + std::string(store::kProfileCollection) + "/" + kSelf;
}

// The settings absent fields stand for, as the lexicon describes them.
constexpr std::pair<std::string_view, bool> kDefaults[] = {
    {"acceptsItems", true},
    {"acceptsSubscriptions", true},
    {"disableReceiptNotifications", false},
};

bool Setting(const json::object& record, std::string_view key) {
  if (auto it = record.find(key); it != record.end() && it->value().is_bool()) {
    return it->value().get_bool();
  }
  for (const auto& [name, value] : kDefaults) {
    if (name == key) return value;
  }
  return false;
}

std::optional<json::object> ProfileRecord(const std::optional<store::RecordRow>& row) {
  if (!row) return std::nullopt;
  return ParseRecordJson(row->record_json);
}

// The view: every setting spelled out (defaults for absent ones). Without a profile, the
// defaults, dated now.
json::object ProfileView(std::string_view did, const std::optional<json::object>& record,
                         std::int64_t now) {
  json::object view = record.value_or(json::object{{"createdAt", FormatDatetime(now)}});
  view.erase("$type");
  for (const auto& [name, value] : kDefaults) view[name] = Setting(view, name);
  view["uri"] = ProfileUri(did);
  return view;
}

bool ReadyForPayment(State& s, std::string_view did, const json::object& view) {
  return s.provider.ReadyForPayment(did) &&
         (Setting(view, "acceptsItems") || Setting(view, "acceptsSubscriptions"));
}

// {uri?, cid?, profile, hasProfile, readyForPayment}, as recipient.profile.get/put answer.
json::object ProfileAnswer(State& s, std::string_view did, const std::optional<store::RecordRow>& row,
                           std::int64_t now) {
  json::object out;
  if (row) {
    out["uri"] = row->uri;
    out["cid"] = row->cid;
  }
  json::object view = ProfileView(did, ProfileRecord(row), now);
  out["readyForPayment"] = ReadyForPayment(s, did, view);
  out["hasProfile"] = row.has_value();
  out["profile"] = std::move(view);
  return out;
}

std::variant<Plan, XrpcError> PlanProfilePut(State& s,
                                             const lx::recipient::profile::put::Input& in,
                                             const std::string& did, std::int64_t now) {
  const std::string uri = ProfileUri(did);
  store::Status failure;
  std::optional<store::RecordRow> existing = s.store.GetRecord(uri, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  json::object record;
  if (existing) {
    auto parsed = ParseRecordJson(existing->record_json);
    if (!parsed) return XrpcError::Internal();
    record = std::move(*parsed);
    record["updatedAt"] = FormatDatetime(now);
  } else {
    record["$type"] = store::kProfileCollection;
    record["createdAt"] = FormatDatetime(now);
  }
  // Only the settings given change; the others keep their value (or stay absent: default).
  if (in.accepts_items) record["acceptsItems"] = *in.accepts_items;
  if (in.accepts_subscriptions) record["acceptsSubscriptions"] = *in.accepts_subscriptions;
  if (in.disable_receipt_notifications) {
    record["disableReceiptNotifications"] = *in.disable_receipt_notifications;
  }

  Plan plan;
  store::RecordRow row;
  Write write;
  if (existing) {
    row = *existing;
    write = UpdateOf(row, "profile", record);
    plan.preconditions.push_back({row.uri, row.cid, row.status});
  } else {
    // Two first puts at once: the second to call back rolls back rather than fail to insert.
    plan.preconditions.push_back(workflow::Absent(uri));
    row.uri = uri;
    row.did = did;
    row.collection = std::string(store::kProfileCollection);
    row.rkey = kSelf;
    row.created_at_us = now;
    write.name = "profile";
    write.verb = workflow::Verb::kCreate;
    write.repo = did;
    write.collection = row.collection;
    write.rkey = kSelf;
    write.record = record;
  }
  write.cid = lex::ComputeRecordCid(record);
  row.record_json = json::serialize(record);
  row.cid = write.cid;
  row.updated_at_us = now;
  plan.output = ProfileAnswer(s, did, row, now);
  plan.writes.push_back(std::move(write));
  (existing ? plan.updates : plan.inserts).push_back(std::move(row));
  return plan;
}

}  // namespace

std::optional<XrpcError> CheckRecipientsAccept(State& s,
                                               const std::vector<store::RecordRow>& lines,
                                               workflow::Plan& plan) {
  std::map<std::string, std::vector<const store::RecordRow*>> by_profile;
  for (const auto& line : lines) by_profile[ProfileUri(line.subject)].push_back(&line);
  if (by_profile.empty()) return std::nullopt;
  std::vector<std::string> uris;
  for (const auto& [uri, _] : by_profile) uris.push_back(uri);
  store::Status failure;
  const std::vector<store::RecordRow> profiles = s.store.GetRecords(uris, &failure);
  if (!failure.ok()) return ReadFailed(failure);
  std::set<std::string> found;
  for (const store::RecordRow& profile : profiles) {
    found.insert(profile.uri);
    plan.preconditions.push_back({profile.uri, profile.cid, profile.status});
  }
  for (const std::string& uri : uris) {
    // No profile: its defaults take every kind of line, as long as none is made meanwhile.
    if (!found.count(uri)) plan.preconditions.push_back(workflow::Absent(uri));
  }
  for (const store::RecordRow& profile : profiles) {
    const json::object record = ParseRecordJson(profile.record_json).value_or(json::object{});
    for (const store::RecordRow* line : by_profile[profile.uri]) {
      const bool item = line->collection == store::kItemCollection;
      if (!Setting(record, item ? "acceptsItems" : "acceptsSubscriptions")) {
        return XrpcError::Named("RecipientNotAccepting",
                                line->subject + " does not accept " +
                                    (item ? "items" : "subscriptions"));
      }
    }
  }
  return std::nullopt;
}

void RegisterProfiles(xrpc::Router& router, const StatePtr& s, const xrpc::MethodOptions& options) {
  namespace profile = lx::recipient::profile;
  router.Add<profile::get::Method>(
      [s](auto& req) -> xrpc::HandlerResult<profile::get::Output> {
        const std::string& did = req.auth.did;
        store::Status failure;
        auto row = s->store.GetRecord(ProfileUri(did), &failure);
        if (!failure.ok()) return ReadFailed(failure);
        return JsonOutput{ProfileAnswer(*s, did, std::move(row), s->now())};
      },
      options);
  router.Add<profile::put::Method>(
      [s](auto& req, auto reply) {
        RunProcedure(s, req, std::move(reply), [&](const std::string& did, std::int64_t now) {
          return PlanProfilePut(*s, req.input, did, now);
        });
      },
      options);
  // Anyone's settings are public (they are in a public repo); a token is not needed.
  xrpc::MethodOptions open = options;
  open.auth = xrpc::AuthPolicy::kOptional;
  router.Add<lx::repo::profile::get::Method>(
      [s](auto& req) -> xrpc::HandlerResult<lx::repo::profile::get::Output> {
        const std::string& did = req.params.did;
        store::Status failure;
        auto row = s->store.GetRecord(ProfileUri(did), &failure);
        if (!failure.ok()) return ReadFailed(failure);
        return JsonOutput{json::object{{"did", did},
                                       {"profile", ProfileView(did, ProfileRecord(row), s->now())}}};
      },
      open);
}

}  // namespace atipay::payments
