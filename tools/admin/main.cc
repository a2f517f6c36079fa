// atipay-admin: operator commands on the database of a running (or stopped) atipay-server.
//
//   atipay-admin --db PATH payment CART_AT_URI completed|failed
//   atipay-admin --db PATH subscription SUBSCRIPTION_AT_URI renewed|past_due|expired
//   atipay-admin --db PATH show AT_URI
//   atipay-admin --db PATH sweep
//   atipay-admin --db PATH backup FILE
//   atipay-admin --db PATH check
//   atipay-admin --db PATH reconcile DID [--plc-url URL] [--dev-did-dir DIR]
//
// SQLite in WAL mode lets this process write while the server runs; the server reads our
// truth from the same file on its next request.
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "identity/identity.h"
#include "lex/params.h"
#include "lex/tid.h"
#include "payments/audit.h"
#include "payments/provider.h"
#include "payments/reconcile.h"
#include "payments/records.h"
#include "store/store.h"

namespace {

constexpr char kUsage[] = R"(atipay-admin: operator commands on an atipay database.

Usage:
  atipay-admin --db PATH payment CART_AT_URI completed|failed
      Records a payment outcome (the built-in manual payment provider):
        completed: the cart becomes completed, its items completed, its subscriptions active;
        failed:    its pending items become failed; the cart stays as it is.
      The user's repo catches up on their next com.atiproto.payment.cart.get.
  atipay-admin --db PATH subscription SUBSCRIPTION_AT_URI renewed|past_due|expired
      Records what happened to a paid subscription since:
        renewed:  a period was paid: active (also from past_due);
        past_due: a period's payment failed: past_due, no access until renewed;
        expired:  it ended (also a cancelled one, before its paid period is over).
  atipay-admin --db PATH show AT_URI
      Prints the row we keep for a cart, item or subscription (JSON).
  atipay-admin --db PATH sweep
      Expires open carts past their expiry and removes expired workflows, now (the server
      also does this periodically).
  atipay-admin --db PATH check
      Runs SQLite's integrity_check on the file, then audits every cart and line: CIDs
      match the records kept, a cart's lines exist, say they are in it, share its currency
      and add up to its total, statuses agree with payments, and a line that names a cart
      is listed by it. Prints each problem found.
  atipay-admin --db PATH reconcile DID [--plc-url URL] [--dev-did-dir DIR]
      Compares the user's repo (com.atproto.repo.listRecords on their PDS, found through
      their DID document) with what we keep for them, and prints each difference:
        orphan:  a record of ours in the repo that we do not have (an agent wrote it and
                 never called back);
        missing: one we have that the repo does not (the user deleted it);
        changed: one the repo holds with another CID (someone rewrote it).
      --plc-url and --dev-did-dir as for atipay-server (default https://plc.directory).
  atipay-admin --db PATH backup FILE
      Copies the database to FILE (which must not exist) while the server runs: one
      consistent snapshot, checked with integrity_check and synced before it takes FILE's
      name. Restore: stop the server, put FILE at the database path (removing the old
      -wal and -shm files), start it.

  --db PATH defaults to $ATIPAY_DB, then atipay.db (as atipay-server). It must exist, at
  this build's schema version: atipay-server creates and upgrades it, atipay-admin never
  does (an older server may still be using it).
Exit status: 0 done, 1 refused, not found or (check) problems found, 2 usage or database error.
)";

// An outcome's exit: 0 recorded, 1 refused or not found, 2 the database failed (busy, but also
// a write it refused, e.g. a read-only file: kInternal).
int Report(const atipay::store::Status& status, const std::string& uri, const std::string& note) {
  using Code = atipay::store::Status::Code;
  if (!status.ok()) {
    std::fprintf(stderr, "atipay-admin: %s\n", status.message.c_str());
    return status.code == Code::kNotFound || status.code == Code::kAborted ? 1 : 2;
  }
  std::printf("%s: %s\n", uri.c_str(), note.c_str());
  return 0;
}

int Usage(const char* message) {
  if (message) std::fprintf(stderr, "atipay-admin: %s\n\n", message);
  std::fputs(kUsage, stderr);
  return 2;
}

// Stored JSON as a value; text that does not parse (a damaged row, which `check` reports) is
// shown as the string it is, rather than ending the command.
boost::json::value StoredJson(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return boost::json::string(text);
  return v;
}

boost::json::object RowJson(const atipay::store::RecordRow& r, std::int64_t now) {
  using atipay::payments::FormatDatetime;
  boost::json::object o;
  o["uri"] = r.uri;
  o["cid"] = r.cid;
  o["status"] = atipay::payments::EffectiveStatus(r, now);
  o["storedStatus"] = r.status;
  o["record"] = StoredJson(r.record_json);
  if (!r.private_json.empty()) o["private"] = StoredJson(r.private_json);
  if (!r.cart_uri.empty()) o["cartUri"] = r.cart_uri;
  if (!r.subject.empty()) o["subject"] = r.subject;
  o["amount"] = r.amount;
  o["currency"] = r.currency;
  o["createdAt"] = FormatDatetime(r.created_at_us);
  o["updatedAt"] = FormatDatetime(r.updated_at_us);
  if (r.expires_at_us) o["expiresAt"] = FormatDatetime(r.expires_at_us);
  if (r.completed_at_us) o["completedAt"] = FormatDatetime(r.completed_at_us);
  if (!r.redirect_url.empty()) o["redirectUrl"] = r.redirect_url;
  if (!r.cloned_from.empty()) o["clonedFrom"] = r.cloned_from;
  return o;
}

// Lists a collection of `did`'s repo on its PDS, every page, through listRecords (public).
atipay::payments::RepoLister PdsLister(const atipay::identity::HttpClient& http,
                                       const std::string& pds, const std::string& did) {
  using Listed = std::variant<std::vector<atipay::payments::RepoRecord>, std::string>;
  return [&http, pds, did](std::string_view collection) -> Listed {
    constexpr int kMaxPages = 100000;
    std::vector<atipay::payments::RepoRecord> records;
    std::string cursor;
    // A cursor seen before would list the same pages again, forever: the comparison would
    // then be made on a list that is not the repo's.
    std::set<std::string> cursors;
    for (int pages = 0;; ++pages) {
      if (pages == kMaxPages) {
        return "more than " + std::to_string(kMaxPages) + " pages of " + std::string(collection);
      }
      std::string url = pds;
      while (!url.empty() && url.back() == '/') url.pop_back();
      url += "/xrpc/com.atproto.repo.listRecords?limit=100&repo=";
      atipay::lex::AppendPercentEncoded(url, did);
      url += "&collection=";
      atipay::lex::AppendPercentEncoded(url, collection);
      if (!cursor.empty()) {
        url += "&cursor=";
        atipay::lex::AppendPercentEncoded(url, cursor);
      }
      auto parsed = atipay::identity::Url::Parse(url);
      if (!parsed) return "bad PDS URL " + url;
      auto got = http.Get(*parsed);
      if (auto* e = std::get_if<atipay::identity::HttpError>(&got)) return url + ": " + e->message;
      const auto& response = std::get<atipay::identity::HttpResponse>(got);
      if (response.status != 200) {
        return url + ": HTTP " + std::to_string(response.status) + " " + response.body;
      }
      boost::system::error_code ec;
      boost::json::value body = boost::json::parse(response.body, ec);
      const auto* page = body.if_object();
      const auto* list = page && page->if_contains("records") ? page->at("records").if_array()
                                                              : nullptr;
      if (ec || !list) return url + ": not a listRecords answer";
      for (const auto& r : *list) {
        const auto* o = r.if_object();
        if (!o || !o->if_contains("uri") || !o->at("uri").is_string() || !o->if_contains("cid") ||
            !o->at("cid").is_string()) {
          return url + ": a record without uri or cid";
        }
        records.push_back({std::string(o->at("uri").get_string()),
                           std::string(o->at("cid").get_string())});
      }
      const auto* next = page->if_contains("cursor");
      if (list->empty() || !next || !next->is_string() || next->get_string().empty()) break;
      cursor = std::string(next->get_string());
      if (!cursors.insert(cursor).second) return url + ": the PDS answered a cursor it gave before";
    }
    return records;
  };
}

// atipay-admin reconcile: exit 0 when the repo and we agree, 1 when they differ, 2 when the
// comparison could not be made.
int ReconcileCommand(atipay::store::Store& store, const std::string& did,
                     const atipay::identity::IdentityOptions& identity) {
  auto resolver = atipay::identity::MakeIdentityResolver(identity);
  if (!resolver) {
    std::fprintf(stderr, "atipay-admin: %s\n", resolver.error().message.c_str());
    return 2;
  }
  auto resolved = (*resolver)->Resolve(did);
  if (auto* e = std::get_if<atipay::identity::ResolveError>(&resolved)) {
    std::fprintf(stderr, "atipay-admin: %s: %s\n", did.c_str(), e->message.c_str());
    return 2;
  }
  const auto& id = std::get<std::shared_ptr<const atipay::identity::Identity>>(resolved);
  const std::string pds = id->document.PdsEndpoint();
  if (pds.empty()) {
    std::fprintf(stderr, "atipay-admin: %s names no PDS\n", did.c_str());
    return 2;
  }
  atipay::identity::HttpClientOptions http_options = identity.http;
  http_options.max_body_bytes = 8 << 20;  // a page of 100 records
  atipay::identity::HttpClient http(http_options);
  const atipay::payments::ReconcileReport report =
      atipay::payments::Reconcile(store, did, PdsLister(http, pds, did));
  for (const auto& d : report.drift) {
    std::printf("%s %s: %s\n", std::string(atipay::payments::DriftName(d.kind)).c_str(),
                d.uri.c_str(), d.detail.c_str());
  }
  if (!report.error.empty()) {
    std::fprintf(stderr, "atipay-admin: %s\n", report.error.c_str());
    return 2;
  }
  std::printf("%s on %s: %lld record(s) compared, %zu difference(s)\n", did.c_str(), pds.c_str(),
              static_cast<long long>(report.records), report.drift.size());
  return report.drift.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string db = std::getenv("ATIPAY_DB") ? std::getenv("ATIPAY_DB") : "atipay.db";
  std::vector<std::string> rest;
  atipay::identity::IdentityOptions identity;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (args[i] == "--db") {
      if (i + 1 >= args.size()) return Usage("--db needs a path");
      db = args[++i];
    } else if (args[i].rfind("--db=", 0) == 0) {
      db = args[i].substr(5);
    } else if (args[i] == "--plc-url" || args[i] == "--dev-did-dir") {
      if (i + 1 >= args.size()) return Usage((args[i] + " needs a value").c_str());
      (args[i] == "--plc-url" ? identity.plc_url : identity.dev_did_dir) = args[i + 1];
      ++i;
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.empty()) return Usage("no command");
  // A mistyped path must not become a new, empty database that every command finds clean. Nor
  // must an empty file (a copy that failed): SQLite takes it for a new database, and ours never
  // is one (its first page is written when it is created).
  if (std::error_code ec;
      !std::filesystem::exists(db, ec) ||
      (std::filesystem::is_regular_file(db, ec) && std::filesystem::file_size(db, ec) == 0)) {
    std::fprintf(stderr, "atipay-admin: no database at %s\n", db.c_str());
    return 2;
  }
  if (rest[0] == "backup") {
    // Before opening the store: a backup reads the file as it is and never creates it.
    if (rest.size() != 2) return Usage("backup needs the FILE to write");
    atipay::store::BackupResult backup = atipay::store::BackupSqliteDatabase(db, rest[1]);
    if (!backup.status.ok()) {
      std::fprintf(stderr, "atipay-admin: backup: %s\n", backup.status.message.c_str());
      return backup.status.code == atipay::store::Status::Code::kConflict ? 1 : 2;
    }
    std::printf("%s: %lld bytes, integrity ok\n", rest[1].c_str(),
                static_cast<long long>(backup.bytes));
    return 0;
  }

  atipay::store::StoreOptions options;
  options.path = db;
  options.read_connections = 1;
  // The server that runs on it upgrades it; an upgrade under an older server would break it.
  options.migrate = false;
  // check, show and reconcile only read, and may be pointed at a read-only copy; a write that
  // fails is reported by the command that writes (exit 2).
  options.require_writable = false;
  std::string error;
  auto store = atipay::store::OpenSqliteStore(options, &error);
  if (!store) {
    std::fprintf(stderr, "atipay-admin: %s: %s\n", db.c_str(), error.c_str());
    return 2;
  }
  const std::int64_t now = atipay::lex::TidClock::SystemNowMicros();

  if (rest[0] == "payment") {
    if (rest.size() != 3) return Usage("payment needs CART_AT_URI and completed|failed");
    atipay::payments::PaymentOutcome outcome;
    if (rest[2] == "completed") {
      outcome = atipay::payments::PaymentOutcome::kCompleted;
    } else if (rest[2] == "failed") {
      outcome = atipay::payments::PaymentOutcome::kFailed;
    } else {
      return Usage("the outcome is completed or failed");
    }
    std::string note;
    auto status = store->WriteSync([&](atipay::store::WriteTxn& txn) {
      return atipay::payments::RecordPayment(txn, rest[1], outcome, "atipay-admin", now, &note);
    });
    return Report(status, rest[1], note);
  }
  if (rest[0] == "subscription") {
    using atipay::payments::SubscriptionOutcome;
    if (rest.size() != 3) return Usage("subscription needs an AT-URI and renewed|past_due|expired");
    SubscriptionOutcome outcome;
    if (rest[2] == "renewed") {
      outcome = SubscriptionOutcome::kRenewed;
    } else if (rest[2] == "past_due") {
      outcome = SubscriptionOutcome::kPastDue;
    } else if (rest[2] == "expired") {
      outcome = SubscriptionOutcome::kExpired;
    } else {
      return Usage("the outcome is renewed, past_due or expired");
    }
    std::string note;
    auto status = store->WriteSync([&](atipay::store::WriteTxn& txn) {
      return atipay::payments::RecordSubscriptionOutcome(txn, rest[1], outcome, "atipay-admin",
                                                         now, &note);
    });
    return Report(status, rest[1], note);
  }
  if (rest[0] == "show") {
    if (rest.size() != 2) return Usage("show needs an AT-URI");
    atipay::store::Status failure;
    auto row = store->GetRecord(rest[1], &failure);
    if (!failure.ok()) {
      std::fprintf(stderr, "atipay-admin: %s\n", failure.message.c_str());
      return 2;
    }
    if (!row) {
      std::fprintf(stderr, "atipay-admin: no record %s\n", rest[1].c_str());
      return 1;
    }
    std::cout << boost::json::serialize(RowJson(*row, now)) << "\n";
    return 0;
  }
  if (rest[0] == "sweep") {
    if (rest.size() != 1) return Usage("sweep takes no arguments");
    // What the server's sweeper does, in the same bounded transactions.
    atipay::store::SweepResult swept = atipay::store::Sweep(*store, now);
    if (!swept.status.ok()) {
      std::fprintf(stderr, "atipay-admin: %s\n", swept.status.message.c_str());
      return 2;
    }
    std::printf("%lld cart(s) expired, %lld expired workflow(s) removed\n",
                static_cast<long long>(swept.carts_expired),
                static_cast<long long>(swept.workflows_deleted));
    return 0;
  }
  if (rest[0] == "reconcile") {
    if (rest.size() != 2) return Usage("reconcile needs a DID");
    return ReconcileCommand(*store, rest[1], identity);
  }
  if (rest[0] == "check") {
    if (rest.size() != 1) return Usage("check takes no arguments");
    // The file first (SQLite's integrity_check), then what must hold between the rows.
    const atipay::store::Status integrity = atipay::store::CheckSqliteIntegrity(db);
    if (!integrity.ok()) {
      std::printf("%s\n", integrity.message.c_str());
    } else {
      std::printf("integrity ok\n");
    }
    const atipay::payments::AuditReport report = atipay::payments::Audit(*store);
    for (const auto& p : report.problems) std::printf("%s: %s\n", p.uri.c_str(), p.problem.c_str());
    if (report.more_problems) {
      std::printf("... and %lld more\n", static_cast<long long>(report.more_problems));
    }
    const auto problems = static_cast<long long>(report.problems.size()) + report.more_problems +
                          (integrity.ok() ? 0 : 1);
    std::printf("%lld cart(s), %lld line(s) checked: %lld problem(s)\n",
                static_cast<long long>(report.carts), static_cast<long long>(report.lines),
                problems);
    if (report.read_failed) {
      std::fprintf(stderr, "atipay-admin: a read failed; the check is incomplete\n");
      return 2;
    }
    return problems ? 1 : 0;
  }
  return Usage(("unknown command " + rest[0]).c_str());
}
