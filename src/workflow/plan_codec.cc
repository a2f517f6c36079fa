#include "workflow/plan_codec.h"

#include <boost/json.hpp>

namespace atipay::workflow {
namespace {

namespace json = boost::json;

const json::string* Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? &it->value().get_string() : nullptr;
}

bool GetString(const json::object& o, std::string_view key, std::string& out) {
  if (const auto* s = Str(o, key)) {
    out.assign(s->data(), s->size());
    return true;
  }
  return false;
}

std::int64_t GetInt(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_int64() ? it->value().get_int64() : 0;
}

json::object WriteToJson(const Write& w) {
  json::object o;
  o["name"] = w.name;
  o["verb"] = VerbName(w.verb);
  o["repo"] = w.repo;
  o["collection"] = w.collection;
  o["rkey"] = w.rkey;
  if (w.verb != Verb::kDelete) o["record"] = w.record;
  if (w.previous) o["previous"] = *w.previous;
  if (!w.cid.empty()) o["cid"] = w.cid;
  return o;
}

bool WriteFromJson(const json::object& o, Write& w) {
  std::string verb;
  if (!GetString(o, "name", w.name) || !GetString(o, "verb", verb) ||
      !GetString(o, "repo", w.repo) || !GetString(o, "collection", w.collection) ||
      !GetString(o, "rkey", w.rkey)) {
    return false;
  }
  if (verb == "create") {
    w.verb = Verb::kCreate;
  } else if (verb == "update") {
    w.verb = Verb::kUpdate;
  } else if (verb == "delete") {
    w.verb = Verb::kDelete;
  } else {
    return false;
  }
  if (auto it = o.find("record"); it != o.end() && it->value().is_object()) {
    w.record = it->value().get_object();
  }
  if (auto it = o.find("previous"); it != o.end() && it->value().is_object()) {
    w.previous = it->value().get_object();
  }
  GetString(o, "cid", w.cid);
  return true;
}

template <class T, class F>
bool DecodeArray(const json::object& o, std::string_view key, std::vector<T>& out, F decode) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->value().is_array()) return false;
  for (const auto& v : it->value().get_array()) {
    if (!v.is_object()) return false;
    T item;
    if (!decode(v.get_object(), item)) return false;
    out.push_back(std::move(item));
  }
  return true;
}

}  // namespace

json::object RowToJson(const store::RecordRow& r) {
  json::object o;
  o["uri"] = r.uri;
  o["did"] = r.did;
  o["collection"] = r.collection;
  o["rkey"] = r.rkey;
  o["record"] = r.record_json;
  o["cid"] = r.cid;
  o["status"] = r.status;
  if (!r.cart_uri.empty()) o["cartUri"] = r.cart_uri;
  if (!r.subject.empty()) o["subject"] = r.subject;
  if (!r.private_json.empty()) o["private"] = r.private_json;
  o["amount"] = r.amount;
  o["currency"] = r.currency;
  o["createdAt"] = r.created_at_us;
  o["updatedAt"] = r.updated_at_us;
  if (r.expires_at_us) o["expiresAt"] = r.expires_at_us;
  if (r.completed_at_us) o["completedAt"] = r.completed_at_us;
  if (!r.redirect_url.empty()) o["redirectUrl"] = r.redirect_url;
  if (!r.cloned_from.empty()) o["clonedFrom"] = r.cloned_from;
  return o;
}

bool RowFromJson(const json::object& o, store::RecordRow& r) {
  if (!GetString(o, "uri", r.uri) || !GetString(o, "did", r.did) ||
      !GetString(o, "collection", r.collection) || !GetString(o, "rkey", r.rkey) ||
      !GetString(o, "record", r.record_json) || !GetString(o, "status", r.status)) {
    return false;
  }
  GetString(o, "cid", r.cid);
  GetString(o, "cartUri", r.cart_uri);
  GetString(o, "subject", r.subject);
  GetString(o, "private", r.private_json);
  GetString(o, "currency", r.currency);
  GetString(o, "redirectUrl", r.redirect_url);
  GetString(o, "clonedFrom", r.cloned_from);
  r.amount = GetInt(o, "amount");
  r.created_at_us = GetInt(o, "createdAt");
  r.updated_at_us = GetInt(o, "updatedAt");
  r.expires_at_us = GetInt(o, "expiresAt");
  r.completed_at_us = GetInt(o, "completedAt");
  return true;
}

// A row whose record is the record of one of the writes keeps only a reference to it: the
// plan is written to the database twice per workflow, so its size is write bandwidth.
json::object RowToPlanJson(const store::RecordRow& r, const std::vector<Write>& writes) {
  json::object o = RowToJson(r);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    if (w.verb != Verb::kDelete && w.cid == r.cid && w.Uri() == r.uri) {
      o.erase("record");
      o.erase("cid");
      o["fromWrite"] = static_cast<std::int64_t>(i);
      break;
    }
  }
  return o;
}

bool RowFromPlanJson(const json::object& o, const std::vector<Write>& writes,
                     store::RecordRow& r) {
  auto it = o.find("fromWrite");
  if (it == o.end()) return RowFromJson(o, r);
  if (!it->value().is_int64() || it->value().get_int64() < 0 ||
      static_cast<std::size_t>(it->value().get_int64()) >= writes.size()) {
    return false;
  }
  const Write& w = writes[static_cast<std::size_t>(it->value().get_int64())];
  json::object full = o;
  full["record"] = json::serialize(w.record);
  full["cid"] = w.cid;
  return RowFromJson(full, r);
}

std::string EncodePlan(const StoredPlan& plan, bool finished) {
  json::object o;
  json::array writes;
  for (const auto& w : plan.writes) writes.push_back(WriteToJson(w));
  o["writes"] = std::move(writes);
  o["perRound"] = static_cast<std::int64_t>(plan.per_round);
  if (finished) return json::serialize(o);
  json::array inserts;
  for (const auto& r : plan.inserts) inserts.push_back(RowToPlanJson(r, plan.writes));
  o["inserts"] = std::move(inserts);
  json::array updates;
  for (const auto& r : plan.updates) updates.push_back(RowToPlanJson(r, plan.writes));
  o["updates"] = std::move(updates);
  json::array pre;
  for (const auto& p : plan.preconditions) {
    pre.push_back(json::object{{"uri", p.uri}, {"cid", p.cid}, {"status", p.status}});
  }
  o["preconditions"] = std::move(pre);
  o["output"] = plan.output;
  return json::serialize(o);
}

bool DecodePlan(const json::object& o, StoredPlan& plan) {
  auto row = [&plan](const json::object& j, store::RecordRow& r) {
    return RowFromPlanJson(j, plan.writes, r);
  };
  if (!DecodeArray(o, "writes", plan.writes, WriteFromJson) ||
      !DecodeArray(o, "inserts", plan.inserts, row) ||
      !DecodeArray(o, "updates", plan.updates, row) ||
      !DecodeArray(o, "preconditions", plan.preconditions,
                   [](const json::object& p, Precondition& out) {
                     return GetString(p, "uri", out.uri) && GetString(p, "cid", out.cid) &&
                            GetString(p, "status", out.status);
                   })) {
    return false;
  }
  if (auto it = o.find("output"); it != o.end() && it->value().is_object()) {
    plan.output = it->value().get_object();
  }
  std::int64_t per_round = GetInt(o, "perRound");
  if (per_round <= 0) return false;
  plan.per_round = static_cast<std::size_t>(per_round);
  return true;
}

store::Status ApplyRows(store::WriteTxn& txn, const StoredPlan& plan) {
  for (auto row : plan.inserts) {
    if (auto s = txn.InsertRecord(row); !s.ok()) return s;
  }
  for (const auto& row : plan.updates) {
    if (auto s = txn.UpdateRecord(row); !s.ok()) return s;
  }
  return store::Status::Ok();
}

}  // namespace atipay::workflow
