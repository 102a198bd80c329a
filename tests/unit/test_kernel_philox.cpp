// Philox4x32-10 known answers (the Random123 distribution's kat_vectors) and the helpers
// built on it (core/philox.h).
#include <gtest/gtest.h>

#include "core/philox.h"

namespace glm {
namespace {

void expect_block(philox::Counter c, philox::Key k, std::uint32_t e0, std::uint32_t e1,
                  std::uint32_t e2, std::uint32_t e3) {
  const philox::Block b = philox::philox4x32_10(c, k);
  EXPECT_EQ(b.v[0], e0);
  EXPECT_EQ(b.v[1], e1);
  EXPECT_EQ(b.v[2], e2);
  EXPECT_EQ(b.v[3], e3);
}

TEST(Philox, MatchesKnownAnswerForZeroCounterAndKey) {
  expect_block({0, 0, 0, 0}, {0, 0}, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u);
}

TEST(Philox, MatchesKnownAnswerForAllOnes) {
  expect_block({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
               0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu);
}

TEST(Philox, MatchesKnownAnswerForPiDigits) {
  expect_block({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
               0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u);
}

TEST(Philox, UniformCoversZeroToOneExclusive) {
  EXPECT_EQ(philox::to_uniform(0u), 0.f);
  EXPECT_LT(philox::to_uniform(0xffffffffu), 1.f);
  EXPECT_EQ(philox::to_uniform(0x80000000u), 0.5f);
}

TEST(Philox, KeysDifferByPurpose) {
  const philox::Key a = philox::make_key(42, philox::kDropout),
                    b = philox::make_key(42, philox::kInit);
  EXPECT_TRUE(a.k0 != b.k0 || a.k1 != b.k1);
}

}  // namespace
}  // namespace glm
