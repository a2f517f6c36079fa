#include "cpp/names.h"

#include <cctype>
#include <cstdio>

namespace atipay::codegen {

namespace {

// C++ keywords, plus identifiers that common platforms define as macros.
const std::set<std::string, std::less<>>& ReservedWords() {
  static const std::set<std::string, std::less<>> kWords = {
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
      "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
      "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
      "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
      "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto",
      "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register",
      "reinterpret_cast", "requires", "return", "short", "signed", "sizeof", "static",
      "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local",
      "throw", "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using",
      "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq", "final", "override",
      "import", "module",
      // macros seen in the wild
      "linux", "unix", "i386", "major", "minor", "errno", "assert", "NULL", "EOF", "stdin",
      "stdout", "stderr", "TRUE", "FALSE", "DEBUG", "NDEBUG", "BUFSIZ", "EXIT_SUCCESS",
      "EXIT_FAILURE", "INFINITY", "NAN"};
  return kWords;
}

std::string Guard(std::string id) {
  if (id.empty()) id = "_";
  if (std::isdigit(static_cast<unsigned char>(id[0]))) id = "n" + id;
  if (ReservedWords().contains(id)) id.push_back('_');
  return id;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string PascalCase(std::string_view name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (!IsWordChar(c)) {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return Guard(out);
}

std::string SnakeCase(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!IsWordChar(c)) {
      if (!out.empty() && out.back() != '_') out.push_back('_');
      continue;
    }
    if (std::isupper(static_cast<unsigned char>(c))) {
      bool prev_lower = i > 0 && (std::islower(static_cast<unsigned char>(name[i - 1])) ||
                                  std::isdigit(static_cast<unsigned char>(name[i - 1])));
      bool next_lower = i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]));
      bool prev_upper = i > 0 && std::isupper(static_cast<unsigned char>(name[i - 1]));
      if (!out.empty() && out.back() != '_' && (prev_lower || (prev_upper && next_lower))) {
        out.push_back('_');
      }
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return Guard(out);
}

std::string NamespaceSegment(std::string_view segment) {
  std::string out;
  for (char c : segment) out.push_back(IsWordChar(c) ? c : '_');
  // Generated code names std:: and boost:: unqualified; a namespace of either name around it
  // would be found first.
  if (out == "std" || out == "boost") out.push_back('_');
  return Guard(out);
}

std::string StringLiteral(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '?': out += "\\?"; break;  // no trigraphs
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string CommentText(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  while (!out.empty() && (out.back() == '\\' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string NameSet::Unique(const std::string& base) {
  std::string name = base;
  for (int n = 2; used_.contains(name); ++n) name = base + "_" + std::to_string(n);
  used_.insert(name);
  return name;
}

}  // namespace atipay::codegen
