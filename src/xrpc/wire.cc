#include "xrpc/wire.h"

#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include "lex/text.h"

namespace atipay::xrpc {
namespace {

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `bytes` decoded as UTF-8 by the WHATWG Encoding Standard's decoder, as URLSearchParams
// does: well-formed sequences kept, one U+FFFD for each maximal subpart of an ill-formed one
// ("\xE2\x82" is one U+FFFD, "\xED\xA0\x80" three).
std::string WhatwgUtf8(std::string_view bytes) {
  if (lex::IsValidUtf8(bytes)) return std::string(bytes);
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    bool valid = false;
    const std::size_t n = lex::Utf8DecodeStep(bytes, i, &valid);
    if (valid) {
      out.append(bytes.substr(i, n));
    } else {
      out += kReplacement;
    }
    i += n;
  }
  return out;
}

std::string DecodeComponent(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return WhatwgUtf8(out);
}

// V8's JSON.parse wording for an unexpected character at `pos` (json-parser.cc: context of 10
// characters either side once the source is 21 characters or longer). V8 reads the body
// decoded, each byte that starts no UTF-8 character being U+FFFD, so the message quotes whole
// characters and stays UTF-8 (JSON) whatever the body holds.
std::string V8UnexpectedToken(std::string_view source, std::size_t pos) {
  constexpr std::size_t kMaxContext = 10;
  constexpr std::size_t kMinLengthForContext = kMaxContext * 2 + 1;
  char c = source[pos];
  if (c == '"') return "Unexpected string in JSON at position " + std::to_string(pos);
  if ((c >= '0' && c <= '9') || c == '-') {
    return "Unexpected number in JSON at position " + std::to_string(pos);
  }
  // The characters: where each starts in `source` and its length (0: a byte shown as U+FFFD).
  std::vector<std::pair<std::size_t, std::size_t>> chars;
  std::size_t at = 0;  // the character holding `pos`
  for (std::size_t i = 0; i < source.size();) {
    std::size_t n = lex::Utf8SequenceAt(source, i);
    if (i <= pos) at = chars.size();
    chars.emplace_back(i, n);
    i += n == 0 ? 1 : n;
  }
  auto text = [&](std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t i = from; i < to && i < chars.size(); ++i) {
      const auto& [begin, n] = chars[i];
      out += n == 0 ? std::string_view("\xEF\xBF\xBD") : source.substr(begin, n);
    }
    return out;
  };
  const std::size_t length = chars.size();
  std::string message = "Unexpected token '" + text(at, at + 1) + "', ";
  if (length < kMinLengthForContext) {
    message += "\"" + text(0, length) + "\"";
  } else if (at < kMaxContext) {
    message += "\"" + text(0, at + kMaxContext) + "\"...";
  } else if (at < length - kMaxContext) {
    message += "...\"" + text(at - kMaxContext, at + kMaxContext) + "\"...";
  } else {
    message += "...\"" + text(at - kMaxContext, length) + "\"";
  }
  return message + " is not valid JSON";
}

XrpcError SyntaxError(std::string message) { return {400, "SyntaxError", std::move(message)}; }

}  // namespace

void SplitTarget(std::string_view target, std::string_view& path, std::string_view& query) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) {
    path = target;
    query = {};
  } else {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
}

XrpcPath ExtractXrpcNsid(std::string_view path, std::string_view& nsid) {
  constexpr std::string_view kPrefix = "/xrpc/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return XrpcPath::kNotXrpc;
  std::string_view rest = path.substr(kPrefix.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // one trailing '/'
  bool alnum_required = true;
  for (char c : rest) {
    if (IsAlnum(c)) {
      alnum_required = false;
    } else if ((c == '.' || c == '-') && !alnum_required) {
      alnum_required = true;
    } else {
      return XrpcPath::kInvalid;
    }
  }
  if (alnum_required || rest.size() < 2) return XrpcPath::kInvalid;
  nsid = rest;
  return XrpcPath::kValid;
}

lex::ParamList ParseQueryString(std::string_view query) {
  lex::ParamList params;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (value.empty()) continue;
    params.emplace_back(DecodeComponent(key), DecodeComponent(value));
  }
  return params;
}

std::string_view MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return type;
}

bool EncodingMatches(std::string_view declared, std::string_view media_type) {
  // Old-style lexicons may list several encodings separated by commas.
  while (!declared.empty()) {
    std::size_t comma = declared.find(',');
    std::string_view one = MediaType(declared.substr(0, comma));
    declared = comma == std::string_view::npos ? std::string_view() : declared.substr(comma + 1);
    if (one == "*/*" || one == media_type) return true;
    if (one.size() >= 2 && one.substr(one.size() - 2) == "/*" &&
        media_type.substr(0, one.size() - 1) == one.substr(0, one.size() - 1)) {
      return true;
    }
  }
  return false;
}

std::optional<XrpcError> ParseJsonBody(std::string_view body, std::size_t max_depth,
                                       boost::json::value& out) {
  std::size_t first = 0;
  while (first < body.size() && IsJsonSpace(body[first])) ++first;
  if (first == body.size()) return SyntaxError("Unexpected end of JSON input");
  if (body[first] != '{' && body[first] != '[') {
    // express.json strict mode: only objects and arrays at the top level.
    return SyntaxError(V8UnexpectedToken(body, first));
  }
  boost::json::parse_options options;
  options.max_depth = max_depth;
  boost::json::stream_parser parser(boost::json::storage_ptr(), options);
  boost::system::error_code ec;
  std::size_t used = parser.write_some(body.data(), body.size(), ec);
  if (ec == boost::json::error::too_deep) {
    // The reference overflows V8's stack around ~2000 levels; we stop at a fixed depth.
    return XrpcError::InvalidRequest("Maximum call stack size exceeded");
  }
  if (ec) {
    if (used >= body.size()) return SyntaxError("Unexpected end of JSON input");
    return SyntaxError(V8UnexpectedToken(body, used));
  }
  if (!parser.done()) return SyntaxError("Unexpected end of JSON input");
  for (std::size_t i = used; i < body.size(); ++i) {
    if (!IsJsonSpace(body[i])) {
      return SyntaxError("Unexpected non-whitespace character after JSON at position " +
                         std::to_string(i));
    }
  }
  parser.finish(ec);
  if (ec) return SyntaxError("Unexpected end of JSON input");
  out = parser.release();
  return std::nullopt;
}

std::string ErrorBody(const XrpcError& error) {
  boost::json::object body;
  body.emplace("error", error.name);
  // Messages may quote what a caller sent, cut to a length: whatever went wrong in building
  // one, the body stays JSON.
  body.emplace("message", lex::ToValidUtf8(error.message));
  return boost::json::serialize(body);
}

std::string DidWebFromHostPort(std::string_view host_port) {
  std::string did = "did:web:";
  for (char c : host_port) {
    if (c == ':') {
      did += "%3A";
    } else {
      did.push_back(c);
    }
  }
  return did;
}

}  // namespace atipay::xrpc
