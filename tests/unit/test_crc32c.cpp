// CRC-32C: both implementations (SSE4.2 instruction and slicing-by-8 table) against the
// published check values, and against each other on every length and alignment that
// exercises their 8-byte bodies and byte tails.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/crc32c.h"

namespace glm {
namespace {

std::span<const std::byte> bytes_of(const std::vector<unsigned char>& v) {
  return std::as_bytes(std::span(v.data(), v.size()));
}

// Check values from RFC 3720 (iSCSI) appendix B.4 and the CRC catalogue ("123456789").
struct KnownAnswer {
  std::vector<unsigned char> data;
  std::uint32_t crc;
};
std::vector<KnownAnswer> known_answers() {
  std::vector<unsigned char> ascending(32), descending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<unsigned char>(i);
  for (int i = 0; i < 32; ++i) descending[i] = static_cast<unsigned char>(31 - i);
  const std::string check = "123456789";
  return {{std::vector<unsigned char>(32, 0x00), 0x8A9136AAu},
          {std::vector<unsigned char>(32, 0xFF), 0x62A8AB43u},
          {ascending, 0x46DD794Eu},
          {descending, 0x113FDB5Cu},
          {std::vector<unsigned char>(check.begin(), check.end()), 0xE3069283u},
          {{}, 0x00000000u}};
}

TEST(Crc32c, TableMatchesPublishedCheckValues) {
  for (const auto& k : known_answers()) EXPECT_EQ(crc32c_table(bytes_of(k.data)), k.crc);
}

TEST(Crc32c, Sse42MatchesPublishedCheckValues) {
  // Every x86-64 machine this project runs on (Zen 5, Sapphire Rapids, CI) has SSE4.2: a
  // detection that says otherwise is a bug, not a reason to skip.
  ASSERT_TRUE(crc32c_sse42_available()) << "SSE4.2 crc32 not detected on this x86-64 CPU";
  for (const auto& k : known_answers()) EXPECT_EQ(crc32c_sse42(bytes_of(k.data)), k.crc);
}

TEST(Crc32c, PathsAgreeOnEveryLengthAndAlignment) {
  std::vector<unsigned char> buf(1100);
  std::uint32_t x = 12345;
  for (auto& b : buf) b = static_cast<unsigned char>((x = x * 1103515245u + 12345u) >> 24);
  const bool sse = crc32c_sse42_available();
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t n = 0; n + offset <= 1030; n += (n < 70 ? 1 : 37)) {
      auto span = std::as_bytes(std::span(buf.data() + offset, n));
      const std::uint32_t table = crc32c_table(span);
      EXPECT_EQ(crc32c(span), table) << "offset " << offset << " length " << n;
      if (sse) EXPECT_EQ(crc32c_sse42(span), table) << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32c, MaskIsTfRecordRotationPlusOffset) {
  const std::string check = "123456789";
  const std::uint32_t c = 0xE3069283u;
  EXPECT_EQ(crc32c_masked(std::as_bytes(std::span(check.data(), check.size()))),
            ((c >> 15) | (c << 17)) + 0xa282ead8u);
  EXPECT_EQ(crc32c(std::string_view(check)), c);
}

}  // namespace
}  // namespace glm
