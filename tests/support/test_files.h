// Reading test data files: the vendored vectors, golden outputs.
#ifndef ATIPAY_TESTS_SUPPORT_TEST_FILES_H_
#define ATIPAY_TESTS_SUPPORT_TEST_FILES_H_

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace atipay::test_files {

// The whole file, bytes as they are; empty when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The file parsed as JSON; throws (failing the test) when it is not JSON.
inline boost::json::value ReadJson(const std::string& path) {
  return boost::json::parse(ReadFile(path));
}

}  // namespace atipay::test_files

#endif  // ATIPAY_TESTS_SUPPORT_TEST_FILES_H_
