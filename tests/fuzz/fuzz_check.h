// What a fuzz target does when an oracle fails: print what differs and abort, which libFuzzer
// records as a crash (with the input) and the corpus replay test reports as a failure.
#ifndef ATIPAY_TESTS_FUZZ_FUZZ_CHECK_H_
#define ATIPAY_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition, ...)                                              \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                   #condition);                                                  \
      std::fprintf(stderr, __VA_ARGS__);                                         \
      std::fprintf(stderr, "\n");                                                \
      std::abort();                                                              \
    }                                                                            \
  } while (false)

#endif  // ATIPAY_TESTS_FUZZ_FUZZ_CHECK_H_
