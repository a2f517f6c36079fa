#include "workflow/plan_codec.h"

#include <boost/json.hpp>
#include <optional>

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

bool RowFromJson(const json::object& o, store::RecordRow& r, bool record_required) {
  if (!GetString(o, "uri", r.uri) || !GetString(o, "did", r.did) ||
      !GetString(o, "collection", r.collection) || !GetString(o, "rkey", r.rkey) ||
      !GetString(o, "status", r.status)) {
    return false;
  }
  if (!GetString(o, "record", r.record_json) && record_required) return false;
  GetString(o, "cid", r.cid);
  GetString(o, "cartUri", r.cart_uri);
  GetString(o, "subject", r.subject);
  GetString(o, "recordUri", r.record_uri);
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

namespace {

// Plans are written straight to text: this runs for every workflow, and building a DOM first
// deep-copied every record once more.
class PlanWriter {
 public:
  std::string text;

  void Key(std::string_view key) {  // our own keys: plain ASCII, nothing to escape
    Separate();
    text += '"';
    text += key;
    text += "\":";
    after_value_ = false;
  }
  void String(std::string_view key, std::string_view value) {
    Key(key);
    text += json::serialize(value);
    after_value_ = true;
  }
  void Int(std::string_view key, std::int64_t value) {
    Key(key);
    text += std::to_string(value);
    after_value_ = true;
  }
  void Object(std::string_view key, const json::object& value) {
    Key(key);
    text += json::serialize(value);
    after_value_ = true;
  }
  void Open(char bracket) {
    Separate();
    text += bracket;
    after_value_ = false;
  }
  void Close(char bracket) {
    text += bracket;
    after_value_ = true;
  }

 private:
  void Separate() {
    if (after_value_) text += ',';
  }
  bool after_value_ = false;
};

void WriteWrite(PlanWriter& out, const Write& w, bool with_records) {
  out.Open('{');
  out.String("name", w.name);
  out.String("verb", VerbName(w.verb));
  out.String("repo", w.repo);
  out.String("collection", w.collection);
  out.String("rkey", w.rkey);
  if (with_records && w.verb != Verb::kDelete) out.Object("record", w.record);
  if (with_records && w.previous) out.Object("previous", *w.previous);
  if (!w.cid.empty()) out.String("cid", w.cid);
  out.Close('}');
}

// A row whose record is the record of one of the writes keeps only a reference to it: the
// plan is written to the database twice per workflow, so its size is write bandwidth.
void WritePlanRow(PlanWriter& out, const store::RecordRow& r, const std::vector<Write>& writes) {
  std::optional<std::int64_t> from_write;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    if (w.verb != Verb::kDelete && w.cid == r.cid && w.Uri() == r.uri) {
      from_write = static_cast<std::int64_t>(i);
      break;
    }
  }
  out.Open('{');
  out.String("uri", r.uri);
  out.String("did", r.did);
  out.String("collection", r.collection);
  out.String("rkey", r.rkey);
  if (!from_write) {
    out.String("record", r.record_json);
    out.String("cid", r.cid);
  }
  out.String("status", r.status);
  if (!r.cart_uri.empty()) out.String("cartUri", r.cart_uri);
  if (!r.subject.empty()) out.String("subject", r.subject);
  if (!r.record_uri.empty()) out.String("recordUri", r.record_uri);
  if (!r.private_json.empty()) out.String("private", r.private_json);
  out.Int("amount", r.amount);
  out.String("currency", r.currency);
  out.Int("createdAt", r.created_at_us);
  out.Int("updatedAt", r.updated_at_us);
  if (r.expires_at_us) out.Int("expiresAt", r.expires_at_us);
  if (r.completed_at_us) out.Int("completedAt", r.completed_at_us);
  if (!r.redirect_url.empty()) out.String("redirectUrl", r.redirect_url);
  if (!r.cloned_from.empty()) out.String("clonedFrom", r.cloned_from);
  if (from_write) out.Int("fromWrite", *from_write);
  out.Close('}');
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
  if (!RowFromJson(o, r, /*record_required=*/false)) return false;
  r.record_json = json::serialize(w.record);
  r.cid = w.cid;
  return true;
}

}  // namespace

std::string EncodePlan(const StoredPlan& plan, PlanPart part) {
  PlanWriter out;
  out.Open('{');
  out.Key("writes");
  out.Open('[');
  for (const auto& w : plan.writes) WriteWrite(out, w, part != PlanPart::kChecks);
  out.Close(']');
  out.Int("perRound", static_cast<std::int64_t>(plan.per_round));
  if (part == PlanPart::kAll) {
    out.Key("inserts");
    out.Open('[');
    for (const auto& r : plan.inserts) WritePlanRow(out, r, plan.writes);
    out.Close(']');
    out.Key("updates");
    out.Open('[');
    for (const auto& r : plan.updates) WritePlanRow(out, r, plan.writes);
    out.Close(']');
    out.Key("preconditions");
    out.Open('[');
    for (const auto& p : plan.preconditions) {
      out.Open('{');
      out.String("uri", p.uri);
      out.String("cid", p.cid);
      out.String("status", p.status);
      if (p.cart_uri) out.String("cartUri", *p.cart_uri);
      if (p.before_us) out.Int("before", p.before_us);
      if (p.absent) out.Int("absent", 1);
      out.Close('}');
    }
    out.Close(']');
    out.Object("output", plan.output);
  }
  out.Close('}');
  return std::move(out.text);
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
                     if (std::string cart; GetString(p, "cartUri", cart)) out.cart_uri = cart;
                     out.before_us = GetInt(p, "before");
                     out.absent = GetInt(p, "absent") != 0;
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
