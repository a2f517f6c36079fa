// Runs one of our command-line tools as a user would, through the shell, for its exit status
// and standard output (standard error is dropped).
#ifndef ATIPAY_TESTS_SUPPORT_RUN_TOOL_H_
#define ATIPAY_TESTS_SUPPORT_RUN_TOOL_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace atipay::test_support {

struct ToolRun {
  int status = -1;  // the exit status; -1 when it did not exit normally
  std::string out;
};

// `args` are already shell-quoted. Trailing newlines of the output are kept.
inline ToolRun RunTool(const std::string& binary, const std::string& args) {
  ToolRun run;
  std::string command = binary + " " + args + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
  int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace atipay::test_support

#endif  // ATIPAY_TESTS_SUPPORT_RUN_TOOL_H_
