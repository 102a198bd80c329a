#include "core/crc32c.h"

#include <nmmintrin.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <string>

namespace glm {
namespace {

constexpr std::uint32_t kPolyReflected = 0x82F63B78u;

// table[k][b]: the CRC of byte b followed by k zero bytes, so eight bytes are folded with
// eight look-ups and no bit loop (slicing-by-8).
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;
constexpr Tables make_tables() {
  Tables t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
    t[0][b] = c;
  }
  for (int k = 1; k < 8; ++k)
    for (int b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  return t;
}
constexpr Tables kTables = make_tables();

std::uint32_t load_le32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);  // x86 is little-endian, which the slicing order assumes
  return v;
}

__attribute__((target("sse4.2"))) std::uint32_t sse42_impl(const unsigned char* p, std::size_t n) {
  std::uint64_t c = 0xFFFFFFFFu;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}

bool use_sse42() {
  static const bool use = [] {
    const char* env = std::getenv("GLM_CRC32C");
    if (env != nullptr && std::string(env) == "table") return false;
    return crc32c_sse42_available();
  }();
  return use;
}

}  // namespace

bool crc32c_sse42_available() { return __builtin_cpu_supports("sse4.2"); }

std::uint32_t crc32c_table(std::span<const std::byte> bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  std::uint32_t c = 0xFFFFFFFFu;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint32_t lo = load_le32(p) ^ c;
    std::uint32_t hi = load_le32(p + 4);
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
  }
  for (; n > 0; --n, ++p) c = (c >> 8) ^ kTables[0][(c ^ *p) & 0xFF];
  return ~c;
}

std::uint32_t crc32c_sse42(std::span<const std::byte> bytes) {
  return sse42_impl(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::uint32_t crc32c(std::span<const std::byte> bytes) {
  return use_sse42() ? crc32c_sse42(bytes) : crc32c_table(bytes);
}

std::uint32_t crc32c(std::string_view bytes) {
  return crc32c(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

std::uint32_t crc32c_masked(std::span<const std::byte> bytes) {
  std::uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

const char* crc32c_path() { return use_sse42() ? "sse4.2" : "table"; }

}  // namespace glm
