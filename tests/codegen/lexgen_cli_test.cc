// lexgen as people run it: generate, check and validate, exit codes and messages.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/wait.h>

#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;

struct LexgenRun {
  int status;
  std::string output;  // stdout and stderr together
};

LexgenRun Lexgen(const std::string& args, const std::string& stdin_text = "") {
  std::string command = std::string(LEXGEN_PATH) + " " + args + " 2>&1";
  std::optional<atipay::test_support::TempDir> input_dir;
  if (!stdin_text.empty()) {
    input_dir.emplace("lexgen-stdin");
    command += " < " + input_dir->Write("stdin", stdin_text);
  }
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// "lexgen-test-<pid>-..." directories, removed afterwards.
struct TempDir : atipay::test_support::TempDir {
  TempDir() : atipay::test_support::TempDir("lexgen-test") {}
};

const std::string kLexicons = ATIPAY_SOURCE_DIR "/lexicons";

TEST(LexgenCli, GeneratesOneHeaderAndSourcePerDocumentDeterministically) {
  TempDir out;
  LexgenRun run = Lexgen("generate --out " + out.path().string() + " " + kLexicons);
  ASSERT_EQ(run.status, 0) << run.output;
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(out.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 2u * 37u);
  ASSERT_TRUE(fs::exists(out.path() / "com/atiproto/payment/cart/clone.h"));
  const auto before = fs::last_write_time(out.path() / "com/atiproto/cart.cc");
  std::ifstream first(out.path() / "com/atiproto/cart.cc");
  std::stringstream first_text;
  first_text << first.rdbuf();

  ASSERT_EQ(Lexgen("generate --out " + out.path().string() + " " + kLexicons).status, 0);
  // Unchanged output is not rewritten, so builds do not recompile it.
  EXPECT_EQ(fs::last_write_time(out.path() / "com/atiproto/cart.cc"), before);
  std::ifstream second(out.path() / "com/atiproto/cart.cc");
  std::stringstream second_text;
  second_text << second.rdbuf();
  EXPECT_EQ(first_text.str(), second_text.str());
}

TEST(LexgenCli, CheckReportsDriftOfVendoredOutputAndWritesNothing) {
  TempDir out;
  const std::string dir = out.path().string();
  ASSERT_EQ(Lexgen("generate --out " + dir + " " + kLexicons).status, 0);
  LexgenRun clean = Lexgen("generate --check --out " + dir + " " + kLexicons);
  EXPECT_EQ(clean.status, 0) << clean.output;
  EXPECT_EQ(clean.output, "74 generated files up to date\n");

  // Edited, deleted, and a generated file no document makes any more; a file of one's own
  // (without lexgen's banner) is none of lexgen's business.
  { std::ofstream(out.path() / "com/atiproto/cart.cc", std::ios::app) << "// edited\n"; }
  fs::remove(out.path() / "com/atiproto/item.h");
  fs::copy_file(out.path() / "com/atiproto/cart.h", out.path() / "com/atiproto/gone.h");
  { std::ofstream(out.path() / "com/atiproto/notes.h") << "// mine\n"; }
  LexgenRun drift = Lexgen("generate --check --out " + dir + " " + kLexicons);
  EXPECT_EQ(drift.status, 1);
  EXPECT_EQ(drift.output, dir + "/com/atiproto/cart.cc: differs\n" + dir +
                              "/com/atiproto/gone.h: stale (no document generates it)\n" + dir +
                              "/com/atiproto/item.h: missing\n");
  EXPECT_FALSE(fs::exists(out.path() / "com/atiproto/item.h"));  // nothing written

  EXPECT_EQ(Lexgen("generate --check --out " + dir + "/nowhere " + kLexicons).status, 1);
}

TEST(LexgenCli, AnInvalidLexiconNamesFilePathAndReasonAndWritesNothing) {
  TempDir in;
  in.Write("good/a.b.good.json", R"({"lexicon":1,"id":"a.b.good","defs":{"main":{"type":"token"}}})");
  const std::string bad = in.Write(
      "bad/a.b.bad.json",
      R"({"lexicon":1,"id":"a.b.bad","defs":{"main":{"type":"object","properties":{"n":{"type":"integer","minimum":5,"maximum":1}}}}})");
  TempDir out;
  fs::remove_all(out.path());
  LexgenRun run = Lexgen("generate --out " + out.path().string() + " " + in.path().string());
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.output, bad + ": $.defs.main.properties.n: range: minimum is greater than maximum\n");
  EXPECT_FALSE(fs::exists(out.path()));  // not even the good document was written
}

TEST(LexgenCli, UnresolvableRefsAreReported) {
  TempDir in;
  const std::string file = in.Write(
      "a.json", R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","properties":{"r":{"type":"ref","ref":"x.y.z#nope"}}}}})");
  LexgenRun run = Lexgen("generate --out " + in.path().string() + "/out " + file);
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.output, file + ": $.defs.main.properties.r: ref \"x.y.z#nope\" does not resolve\n");
}

TEST(LexgenCli, NotJsonIsALexiconProblem) {
  TempDir in;
  const std::string file = in.Write("a.json", "{\"lexicon\": 1,");
  LexgenRun run = Lexgen("check " + file);
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.output.rfind(file + ": $: not valid JSON", 0), 0u) << run.output;
}

TEST(LexgenCli, ValidateReportsEachFileAndExitsByVerdict) {
  TempDir in;
  const std::string good = in.Write("good.json", R"({"$type":"com.atiproto.cart","items":[],"currency":"USD",
    "total":0,"status":"open","createdAt":"2026-11-21T10:00:00Z","expiresAt":"2026-11-28T10:00:00Z"})");
  const std::string bad = in.Write("bad.json", R"({"$type":"com.atiproto.cart","items":[{"type":"com.atiproto.item",
    "recordUri":"https://x"}],"currency":"USD","total":0,"status":"open","createdAt":"2026-11-21T10:00:00Z",
    "expiresAt":"2026-11-28T10:00:00Z"})");
  const std::string base = "validate --lexicons " + kLexicons + " --schema com.atiproto.cart ";

  LexgenRun ok = Lexgen(base + good);
  EXPECT_EQ(ok.status, 0);
  EXPECT_EQ(ok.output, good + ": valid\n");

  LexgenRun mixed = Lexgen(base + good + " " + bad);
  EXPECT_EQ(mixed.status, 1);
  EXPECT_EQ(mixed.output, good + ": valid\n" + bad + ": Record/items/0/recordUri must be a valid at-uri\n");

  LexgenRun from_stdin = Lexgen(base + "-", R"({"$type":"com.atiproto.cart"})");
  EXPECT_EQ(from_stdin.status, 1);
  EXPECT_EQ(from_stdin.output, "-: Record must have the property \"items\"\n");
}

TEST(LexgenCli, ValidatesMethodPartsAndNamedDefs) {
  TempDir in;
  const std::string input = in.Write("in.json", R"({"uri":"at://did:plc:abc/com.atiproto.cart/3k","redirectUrl":"nope"})");
  LexgenRun run = Lexgen("validate --lexicons " + kLexicons +
                   " --schema com.atiproto.payment.cart.clone --part input " + input);
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output, input + ": Input/redirectUrl must be a uri\n");

  const std::string item = in.Write("item.json", R"({"type":"com.atiproto.item","recordUri":"at://did:plc:abc"})");
  run = Lexgen("validate --lexicons " + kLexicons + " --schema com.atiproto.cart#cartItem " + item);
  EXPECT_EQ(run.status, 0) << run.output;
}

TEST(LexgenCli, UsageAndLexiconProblemsExitTwo) {
  EXPECT_EQ(Lexgen("").status, 2);
  EXPECT_EQ(Lexgen("frobnicate").status, 2);
  EXPECT_EQ(Lexgen("generate " + kLexicons).status, 2);  // no --out
  EXPECT_EQ(Lexgen("validate --schema com.atiproto.cart x.json").status, 2);
  LexgenRun unknown = Lexgen("validate --lexicons " + kLexicons + " --schema com.example.nothing x.json");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.output.find("com.example.nothing"), std::string::npos);
  LexgenRun help = Lexgen("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("lexgen generate --out DIR"), std::string::npos);
}

// --namespace becomes the outermost namespace of every file: one that is not a C++ namespace
// name ("foo bar", a keyword, empty) produced code that cannot compile, with exit 0.
TEST(LexgenCli, NamespaceMustBeACppNamespaceName) {
  TempDir out;
  for (const char* bad : {"'foo bar'", "class", "''", "a::", "::a", "a:::b", "1st", "std", "a-b"}) {
    SCOPED_TRACE(bad);
    LexgenRun run =
        Lexgen("generate --out " + out.path().string() + " --namespace " + bad + " " + kLexicons);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find("--namespace"), std::string::npos) << run.output;
  }
  EXPECT_TRUE(fs::is_empty(out.path()));
  LexgenRun nested =
      Lexgen("generate --out " + out.path().string() + " --namespace my_app::lex2 " + kLexicons);
  ASSERT_EQ(nested.status, 0) << nested.output;
  std::ifstream header(out.path() / "com/atiproto/cart.h");
  std::stringstream text;
  text << header.rdbuf();
  EXPECT_NE(text.str().find("namespace my_app::lex2::com::atiproto::cart {"), std::string::npos);
}

TEST(LexgenCli, SubcommandHelpAndMissingValues) {
  for (const char* command : {"generate --help", "check --help", "validate --help"}) {
    LexgenRun help = Lexgen(command);
    EXPECT_EQ(help.status, 0) << command;
    EXPECT_NE(help.output.find("lexgen generate --out DIR"), std::string::npos) << command;
  }
  LexgenRun no_value = Lexgen("generate " + kLexicons + " --out");
  EXPECT_EQ(no_value.status, 2);
  EXPECT_NE(no_value.output.find("--out needs a value"), std::string::npos) << no_value.output;
  // A directory given as a FILE to validate cannot be read (2), rather than "not valid JSON" (1).
  TempDir in;
  LexgenRun dir = Lexgen("validate --lexicons " + kLexicons + " --schema com.atiproto.cart " +
                         in.path().string());
  EXPECT_EQ(dir.status, 2) << dir.output;
  EXPECT_NE(dir.output.find("cannot be read"), std::string::npos) << dir.output;
}

TEST(LexgenCli, HostileJsonNeverCrashesOrHangs) {
  TempDir in;
  const std::string base = "validate --lexicons " + kLexicons + " --schema com.atiproto.cart ";
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, std::string>> cases = {
      {"deep.json", std::string(100000, '[') + std::string(100000, ']')},
      {"deep-unknown.json", R"({"$type":"com.atiproto.cart","x":)" + std::string(200, '[') + std::string(200, ']') + "}"},
      {"huge-string.json", R"({"$type":"com.atiproto.cart","items":[],"currency":")" + std::string(8 << 20, 'U') +
                               R"(","total":0,"status":"open","createdAt":"2026-11-21T10:00:00Z","expiresAt":"2026-11-28T10:00:00Z"})"},
      {"bad-utf8.json", "{\"$type\":\"com.atiproto.cart\",\"currency\":\"\xff\xfe\"}"},
      {"huge-number.json", R"({"$type":"com.atiproto.cart","items":[],"currency":"USD","total":1e400,"status":"open","createdAt":"2026-11-21T10:00:00Z","expiresAt":"2026-11-28T10:00:00Z"})"},
      {"big-integer.json", R"({"$type":"com.atiproto.cart","items":[],"currency":"USD","total":123456789012345678901234567890,"status":"open","createdAt":"2026-11-21T10:00:00Z","expiresAt":"2026-11-28T10:00:00Z"})"},
      {"float.json", R"({"$type":"com.atiproto.cart","items":[],"currency":"USD","total":1.5,"status":"open","createdAt":"2026-11-21T10:00:00Z","expiresAt":"2026-11-28T10:00:00Z"})"},
      {"empty.json", ""},
  };
  for (const auto& [name, content] : cases) {
    LexgenRun run = Lexgen(base + in.Write(name, content));
    EXPECT_EQ(run.status, 1) << name << ": " << run.output.substr(0, 200);
  }
  LexgenRun huge = Lexgen(base + (in.path() / "huge-string.json").string());
  EXPECT_NE(huge.output.find("Record/currency must not be longer than 3 characters"), std::string::npos);
  LexgenRun big = Lexgen(base + (in.path() / "big-integer.json").string());
  EXPECT_NE(big.output.find("Record/total must be an integer"), std::string::npos) << big.output;
  LexgenRun flt = Lexgen(base + (in.path() / "float.json").string());
  EXPECT_NE(flt.output.find("Record/total must be an integer"), std::string::npos) << flt.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
}

}  // namespace
