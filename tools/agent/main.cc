// atipay-agent: runs an XRPC method the way @atiproto/agent does (workflow loop included),
// through a real PDS, or directly against an atipay server with self-signed service tokens and
// an in-memory repo.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "devid/devid.h"
#include "identity/http_client.h"
#include "lex/formats.h"
#include "lex/params.h"

namespace {

namespace json = boost::json;
namespace agent = atipay::agent;

constexpr char kUsage[] =
    R"USAGE(atipay-agent: call an atiproto XRPC method and run its workflow, as @atiproto/agent does.

Usage:
  atipay-agent --pds URL --identifier HANDLE_OR_DID (--password-file FILE | --password PW)
               --service DID#ID call NSID [call options]
      Logs in on the PDS (com.atproto.server.createSession), calls NSID through it with
      atproto-proxy: DID#ID (e.g. did:web:pay.example#payments), and performs the workflow's
      record writes in the account's repo on that PDS. --password-file reads the password
      from the first line of FILE; a --password on the command line can be read by every
      local user in the process list.

  atipay-agent direct --url URL --key-file FILE --aud DID call NSID [call options]
      Calls an atipay server directly (e.g. http://127.0.0.1:2585), signing a service token
      per call with the identity in FILE (atipay-mint-token init), aud DID (the server's
      --service-did); workflow writes go to an in-memory repo. For local demos without a PDS.

Call options:
  --input JSON           procedure input (an object); @FILE reads a file, - reads stdin
  --params K=V [K=V...]  query parameters (repeat a key for an array); also --param K=V
  --query | --procedure  the method kind; by default a query when --params is given or the
                         NSID ends in .get/.list/.validate/.count, else a procedure
  --max-rounds N         most workflow rounds (default 10, at most 1000)
  --verbose              log each round and each record write to stderr
  --timeout-ms N         per HTTP request (default 30000, at most a day)

Prints the final output (workflow removed) as JSON on stdout. Exit status:
  0 done; 1 usage error; 2 XRPC error ("<status> <Error>: <message>" on stderr, also a
  failed login); 3 the workflow raised ("raised: <code>: <message>" on stderr, without
  "<code>: " when it has none); 4 the workflow failed otherwise (a query's side-effect
  write failed, or too many rounds).
)USAGE";

int Usage(const std::string& message) {
  std::cerr << "atipay-agent: " << message << " (see --help)\n";
  return 1;
}

void Pretty(std::ostream& os, const json::value& v, int indent = 0) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  const std::string inner(static_cast<std::size_t>(indent + 2), ' ');
  switch (v.kind()) {
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (o.empty()) {
        os << "{}";
        return;
      }
      os << "{\n";
      std::size_t i = 0;
      for (const auto& [key, value] : o) {
        os << inner << json::serialize(json::value(key)) << ": ";
        Pretty(os, value, indent + 2);
        os << (++i < o.size() ? ",\n" : "\n");
      }
      os << pad << "}";
      return;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        os << "[]";
        return;
      }
      os << "[\n";
      for (std::size_t i = 0; i < a.size(); ++i) {
        os << inner;
        Pretty(os, a[i], indent + 2);
        os << (i + 1 < a.size() ? ",\n" : "\n");
      }
      os << pad << "]";
      return;
    }
    default:
      os << json::serialize(v);
  }
}

bool ReadAll(std::istream& in, std::string* out) {
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

struct Args {
  bool direct = false;
  std::map<std::string, std::string> flags;
  std::vector<std::pair<std::string, std::string>> params;
  bool verbose = false;
  std::optional<bool> procedure;
  std::string nsid;
};

std::optional<Args> Parse(int argc, char** argv, std::string* error) {
  Args args;
  bool saw_call = false;
  static const char* kValued[] = {"pds",     "identifier", "password",  "password-file",
                                  "service", "url",        "key-file",  "aud",
                                  "input",   "max-rounds", "timeout-ms"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--")) {
      if (arg == "direct" && !saw_call && i == 1) {
        args.direct = true;
      } else if (arg == "call" && !saw_call) {
        saw_call = true;
      } else if (saw_call && args.nsid.empty()) {
        args.nsid = arg;
      } else {
        *error = "unexpected argument " + arg;
        return std::nullopt;
      }
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (std::size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "verbose") {
      args.verbose = true;
    } else if (name == "query") {
      args.procedure = false;
    } else if (name == "procedure") {
      args.procedure = true;
    } else if (name == "params" || name == "param") {
      auto add = [&](const std::string& kv) -> bool {
        std::size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          *error = "--params wants K=V, not " + kv;
          return false;
        }
        args.params.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        return true;
      };
      if (inline_value) {
        if (!add(*inline_value)) return std::nullopt;
        continue;
      }
      int taken = 0;
      while (i + 1 < argc && !std::string(argv[i + 1]).starts_with("--") &&
             std::string(argv[i + 1]).find('=') != std::string::npos) {
        if (!add(argv[++i])) return std::nullopt;
        ++taken;
      }
      if (taken == 0) {
        *error = "--" + name + " needs K=V";
        return std::nullopt;
      }
    } else if (std::find(std::begin(kValued), std::end(kValued), name) != std::end(kValued)) {
      if (inline_value) {
        args.flags[name] = *inline_value;
      } else if (i + 1 < argc) {
        args.flags[name] = argv[++i];
      } else {
        *error = "--" + name + " needs a value";
        return std::nullopt;
      }
    } else {
      *error = "unknown option --" + name;
      return std::nullopt;
    }
  }
  if (!saw_call || args.nsid.empty()) {
    *error = "missing: call NSID";
    return std::nullopt;
  }
  if (!atipay::lex::IsValidNsid(args.nsid)) {
    *error = "not a valid NSID: " + args.nsid;
    return std::nullopt;
  }
  return args;
}

constexpr std::int64_t kMaxRounds = 1000;
constexpr std::int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;  // a day

// The whole of `text` as a decimal integer in [min, max]; nullopt otherwise ("3x", "1e3",
// " 5", overflow).
std::optional<std::int64_t> WholeNumber(const std::string& text, std::int64_t min,
                                        std::int64_t max) {
  std::optional<std::int64_t> value = atipay::lex::DecodeIntegerParam(text);
  if (!value || *value < min || *value > max) return std::nullopt;
  return value;
}

bool LooksLikeQuery(const std::string& nsid) {
  for (const char* suffix : {".get", ".list", ".validate", ".count"}) {
    if (nsid.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::cout << kUsage;
      return 0;
    }
  }
  std::string error;
  std::optional<Args> args = Parse(argc, argv, &error);
  if (!args) return Usage(error);
  auto& flags = args->flags;

  // The call itself.
  const bool procedure =
      args->procedure.value_or(args->params.empty() && !LooksLikeQuery(args->nsid));
  json::object input;
  if (flags.contains("input")) {
    if (!args->params.empty()) return Usage("--input and --params exclude each other");
    if (!procedure) return Usage("--input is for procedures; a query takes --params");
    std::string text = flags["input"];
    if (text == "-") {
      if (!ReadAll(std::cin, &text)) return Usage("cannot read stdin");
    } else if (text.starts_with("@")) {
      std::ifstream in(text.substr(1), std::ios::binary);
      if (!in || !ReadAll(in, &text)) return Usage("cannot read " + text.substr(1));
    }
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return Usage("--input is not a JSON object");
    input = std::move(v.get_object());
  }
  if (procedure && !args->params.empty()) return Usage("--params are for queries");
  for (auto& [key, value] : args->params) {
    json::value* existing = input.if_contains(key);
    if (existing == nullptr) {
      input[key] = value;
    } else if (existing->is_array()) {
      existing->get_array().push_back(json::value(value));
    } else {
      *existing = json::array{*existing, json::value(value)};
    }
  }
  agent::RunOptions options;
  if (flags.contains("max-rounds")) {
    auto n = WholeNumber(flags["max-rounds"], 1, kMaxRounds);
    if (!n) return Usage("--max-rounds is a whole number from 1 to " + std::to_string(kMaxRounds));
    options.max_rounds = static_cast<int>(*n);
  }
  if (args->verbose) {
    options.log = [](std::string_view line) { std::cerr << line << "\n"; };
  }
  agent::HttpCallerOptions http;
  if (flags.contains("timeout-ms")) {
    // Bounded: a deadline past the clock's range would wrap and time out at once.
    auto ms = WholeNumber(flags["timeout-ms"], 1, kMaxTimeoutMs);
    if (!ms) {
      return Usage("--timeout-ms is a whole number from 1 to " + std::to_string(kMaxTimeoutMs));
    }
    http.request_timeout = std::chrono::milliseconds(*ms);
  }

  std::unique_ptr<agent::PdsSession> session;
  std::unique_ptr<agent::HttpXrpcCaller> direct_caller;
  std::unique_ptr<agent::MemoryRepo> memory_repo;
  std::optional<atipay::devid::Identity> identity;
  agent::XrpcCaller* caller = nullptr;
  agent::RepoWriter* repo = nullptr;
  if (args->direct) {
    for (const char* needed : {"url", "key-file", "aud"}) {
      if (flags[needed].empty()) return Usage(std::string("direct needs --") + needed);
    }
    if (!atipay::identity::Url::Parse(flags["url"])) {
      return Usage("--url is not an http(s) URL: " + flags["url"]);
    }
    auto read = atipay::devid::ReadKeyFile(flags["key-file"]);
    if (!read) return Usage(read.error().message);
    if (read->did.empty()) return Usage("no did in " + flags["key-file"]);
    identity.emplace(std::move(*read));
    const std::string aud = flags["aud"];
    http.base_url = flags["url"];
    http.token_source = [&identity, aud](std::string_view nsid) {
      return atipay::devid::MintToken(*identity, aud, std::string(nsid));
    };
    direct_caller = std::make_unique<agent::HttpXrpcCaller>(http);
    memory_repo = std::make_unique<agent::MemoryRepo>();
    caller = direct_caller.get();
    repo = memory_repo.get();
    if (args->verbose)
      std::cerr << "direct: calling " << flags["url"] << " as " << identity->did << "\n";
  } else {
    if (flags.contains("password-file")) {
      if (flags.contains("password"))
        return Usage("--password and --password-file exclude each other");
      std::ifstream in(flags["password-file"], std::ios::binary);
      std::string password;
      if (!in || !std::getline(in, password)) return Usage("cannot read " + flags["password-file"]);
      if (password.ends_with('\r')) password.pop_back();
      flags["password"] = std::move(password);
    }
    for (const char* needed : {"pds", "identifier", "password", "service"}) {
      if (flags[needed].empty()) {
        return Usage(std::string("missing --") + needed +
                     (std::string_view(needed) == "password" ? " (or --password-file)" : ""));
      }
    }
    if (!atipay::identity::Url::Parse(flags["pds"])) {
      return Usage("--pds is not an http(s) URL: " + flags["pds"]);
    }
    if (flags["service"].find('#') == std::string::npos) {
      return Usage("--service is <service DID>#<service id>, e.g. did:web:pay.example#payments");
    }
    agent::XrpcResult login_error;
    session = agent::PdsSession::Login({.pds_url = flags["pds"],
                                        .identifier = flags["identifier"],
                                        .password = flags["password"],
                                        .service = flags["service"],
                                        .http = http},
                                       &login_error);
    if (!session) {
      std::cerr << login_error.status << " " << login_error.ErrorName() << ": "
                << login_error.ErrorMessage() << "\n";
      return 2;
    }
    if (args->verbose) std::cerr << "logged in as " << session->did() << "\n";
    caller = &session->service();
    repo = &session->repo();
  }

  agent::RunResult result = agent::RunMethod(*caller, *repo, args->nsid, procedure, input, options);
  switch (result.kind) {
    case agent::RunResult::Kind::kOk:
      Pretty(std::cout, result.output);
      std::cout << "\n";
      return 0;
    case agent::RunResult::Kind::kRaised:
      std::cerr << result.Describe() << "\n";  // "raised: [<code>: ]<message>"
      return 3;
    case agent::RunResult::Kind::kXrpcError:
      std::cerr << result.status << " " << result.error << ": " << result.message << "\n";
      return 2;
    case agent::RunResult::Kind::kActionFailed:
    case agent::RunResult::Kind::kMaxRounds:
      std::cerr << result.Describe() << "\n";
      return 4;
  }
  return 4;
}
