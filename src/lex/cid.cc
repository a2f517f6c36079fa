#include "lex/cid.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

#include "lex/encoding.h"

namespace atipay::lex {
namespace {

// Unsigned LEB128 as multiformats' varint: at most 9 bytes (63 bits), minimal form only.
std::optional<std::uint64_t> ReadVarint(std::string_view bytes, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int i = 0; i < 9; ++i) {
    if (pos >= bytes.size()) return std::nullopt;
    auto b = static_cast<unsigned char>(bytes[pos++]);
    value |= std::uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) return std::nullopt;  // padded, non-minimal encoding
      return value;
    }
  }
  return std::nullopt;
}

void AppendVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

const EVP_MD* Sha256Md() {
  // An explicit fetch, done once: the implicit fetch behind EVP_sha256() costs a lookup per hash.
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

}  // namespace

std::string Cid::ToString() const {
  if (version_ == 0) return EncodeBase58Btc(bytes_);
  std::string out = "b";
  out += EncodeBase32(bytes_);
  return out;
}

std::optional<Cid> ParseCidBytes(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxCidBytes) return std::nullopt;
  Cid cid;
  std::size_t pos = 0;
  if (static_cast<unsigned char>(bytes[0]) == kSha256Code) {
    // CIDv0 is a bare sha2-256 multihash and implies dag-pb.
    if (bytes.size() != 34 || bytes[1] != 0x20) return std::nullopt;
    cid.version_ = 0;
    cid.codec_ = kDagPbCodec;
    cid.hash_code_ = kSha256Code;
    cid.digest_offset_ = 2;
    cid.bytes_ = std::string(bytes);
    return cid;
  }
  auto version = ReadVarint(bytes, pos);
  if (!version || *version != 1) return std::nullopt;
  auto codec = ReadVarint(bytes, pos);
  if (!codec) return std::nullopt;
  auto hash_code = ReadVarint(bytes, pos);
  if (!hash_code) return std::nullopt;
  auto digest_size = ReadVarint(bytes, pos);
  if (!digest_size || *digest_size != bytes.size() - pos) return std::nullopt;
  cid.version_ = 1;
  cid.codec_ = *codec;
  cid.hash_code_ = *hash_code;
  cid.digest_offset_ = pos;
  cid.bytes_ = std::string(bytes);
  return cid;
}

std::optional<Cid> ParseCid(std::string_view text) {
  // kMaxCidBytes takes at most 161 characters in base32 (fewer in base58); checking first
  // keeps base58's quadratic decoding away from oversized input.
  if (text.empty() || text.size() > 2 * kMaxCidBytes) return std::nullopt;
  std::optional<std::string> bytes;
  switch (text[0]) {
    case 'Q': {
      bytes = DecodeBase58Btc(text);
      if (!bytes) return std::nullopt;
      auto cid = ParseCidBytes(*bytes);
      if (!cid || cid->version() != 0) return std::nullopt;
      return cid;
    }
    case 'z':
      bytes = DecodeBase58Btc(text.substr(1));
      break;
    case 'b':
      bytes = DecodeBase32(text.substr(1));
      break;
    default:
      return std::nullopt;
  }
  if (!bytes) return std::nullopt;
  auto cid = ParseCidBytes(*bytes);
  // multiformats: "Version 0 CID string must not include multibase prefix".
  if (!cid || cid->version() != 1) return std::nullopt;
  return cid;
}

Cid MakeCidV1(std::uint64_t codec, std::uint64_t hash_code, std::string_view digest) {
  Cid cid;
  cid.version_ = 1;
  cid.codec_ = codec;
  cid.hash_code_ = hash_code;
  cid.bytes_.reserve(4 + digest.size());
  cid.bytes_.push_back(1);
  AppendVarint(cid.bytes_, codec);
  AppendVarint(cid.bytes_, hash_code);
  AppendVarint(cid.bytes_, digest.size());
  cid.digest_offset_ = cid.bytes_.size();
  cid.bytes_.append(digest);
  return cid;
}

std::array<unsigned char, 32> Sha256(std::string_view data) {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &size) != 1 || size != out.size()) {
    // Only a broken OpenSSL gets here; a wrong hash would silently corrupt content addresses.
    std::abort();
  }
  return out;
}

Cid ComputeDagCborCid(std::string_view cbor_bytes) {
  auto digest = Sha256(cbor_bytes);
  return MakeCidV1(kDagCborCodec, kSha256Code,
                   std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

Cid ComputeRawCid(std::string_view bytes) {
  auto digest = Sha256(bytes);
  return MakeCidV1(kRawCodec, kSha256Code,
                   std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace atipay::lex
