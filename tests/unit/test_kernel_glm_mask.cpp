// The GLM mask's limit form (what every attention kernel loops to) against its definition,
// over every query, key, prefix and valid length of a small sequence.
#include <gtest/gtest.h>

#include "kernels/glm_mask.h"

namespace glm::kernels {
namespace {

TEST(GlmMask, LimitAllowsExactlyTheKeysOfTheDefinition) {
  constexpr std::int64_t T = 9;
  for (std::int64_t L = 0; L <= T; ++L)
    for (std::int64_t P = 0; P <= L; ++P)
      for (std::int64_t i = 0; i < T; ++i) {
        const std::int64_t lim = glm_mask_limit(i, P, L);
        for (std::int64_t j = 0; j < T; ++j)
          ASSERT_EQ(j < lim, glm_mask_allows(i, j, P, L))
              << "query " << i << " key " << j << " P " << P << " L " << L;
      }
}

TEST(GlmMask, PrefixIsBidirectionalAndTheRestCausal) {
  // P = 3, L = 6: queries 0..2 see keys 0..2; query 4 sees 0..4; padding is never seen
  EXPECT_TRUE(glm_mask_allows(0, 2, 3, 6));
  EXPECT_FALSE(glm_mask_allows(0, 3, 3, 6));
  EXPECT_TRUE(glm_mask_allows(4, 4, 3, 6));
  EXPECT_FALSE(glm_mask_allows(4, 5, 3, 6));
  EXPECT_FALSE(glm_mask_allows(7, 6, 3, 6));
  EXPECT_EQ(glm_mask_limit(0, 3, 6), 3);
  EXPECT_EQ(glm_mask_limit(4, 3, 6), 5);
  EXPECT_EQ(glm_mask_limit(8, 3, 6), 6);
  EXPECT_EQ(glm_mask_limit(0, 0, 0), 0);
}

}  // namespace
}  // namespace glm::kernels
