// Test-only: compare JSON values with std::string (EXPECT_EQ(v.at("uri"), uri)).
#ifndef ATIPAY_TESTS_SUPPORT_JSON_EQ_H_
#define ATIPAY_TESTS_SUPPORT_JSON_EQ_H_

#include <boost/json/value.hpp>
#include <string>

namespace boost::json {
inline bool operator==(const value& v, const std::string& s) {
  return v.is_string() && v.get_string() == s;
}
inline bool operator==(const std::string& s, const value& v) { return v == s; }
inline bool operator==(const value& v, const char* s) { return v.is_string() && v.get_string() == s; }
}  // namespace boost::json

#endif  // ATIPAY_TESTS_SUPPORT_JSON_EQ_H_
