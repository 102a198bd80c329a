// The GLM collator over thousands of samples: the [MASK]/[gMASK] ratio, span coverage,
// Poisson span lengths, the part A/B layout, positions, attention-mask boundaries and
// targets (docs/design.md section 2), and its determinism; plus the sampler's permutations.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "data/glm_collator.h"
#include "data/sampler.h"

namespace glm::data {
namespace {

constexpr int kT = 64;
constexpr int kSamples = 4000;
const ObjectiveTokens kTok{1000, 1001, 1002, 1003, 1004};

// Raw text: distinct ids < 1000 so a token's origin is unambiguous.
std::vector<std::int32_t> raw_window(std::int64_t g) {
  std::vector<std::int32_t> r(kT);
  for (int i = 0; i < kT; ++i) r[i] = static_cast<std::int32_t>((g * 7 + i) % 997);
  return r;
}

struct Sample {
  std::vector<std::int32_t> tok, pos, tgt;
  int P, L;
};

Sample make(const GLMCollator& c, std::int64_t g) {
  modeldef::Batch b = c.make_batch(1);
  auto raw = raw_window(g);
  c.fill(b, 0, raw, g);
  Sample s;
  s.tok.assign(b.tokens.data<std::int32_t>(), b.tokens.data<std::int32_t>() + kT);
  s.pos.assign(b.positions.data<std::int32_t>(), b.positions.data<std::int32_t>() + kT);
  s.tgt.assign(b.targets.data<std::int32_t>(), b.targets.data<std::int32_t>() + kT);
  s.P = b.prefix_len.data<std::int32_t>()[0];
  s.L = b.valid_len.data<std::int32_t>()[0];
  return s;
}

TEST(GLMCollator, GMaskShareMatchesConfig) {
  GLMCollator c({}, kTok, kT, 5);
  int gm = 0;
  for (int g = 0; g < kSamples; ++g) gm += c.kind_of(g) == SampleKind::gmask;
  // binomial std at p=0.7, n=4000 is 0.007: 0.03 is over 4 sigma
  EXPECT_NEAR(gm / double(kSamples), 0.7, 0.03);
}

TEST(GLMCollator, GMaskSampleLayoutPositionsAndTargets) {
  GLMCollator c({}, kTok, kT, 6);
  int checked = 0;
  for (int g = 0; g < kSamples && checked < 500; ++g) {
    if (c.kind_of(g) != SampleKind::gmask) continue;
    ++checked;
    Sample s = make(c, g);
    auto raw = raw_window(g);
    const int k = s.P - 1, m = kT - 2 - k;
    ASSERT_EQ(s.L, kT);
    ASSERT_EQ(s.tok[k], kTok.gmask);
    ASSERT_EQ(s.tok[k + 1], kTok.sop);
    ASSERT_GE(m, static_cast<int>(std::ceil(0.2 * (kT - 2))));  // min_gmask_ratio
    for (int i = 0; i < k; ++i) ASSERT_EQ(s.tok[i], raw[i]);
    for (int i = 0; i < m; ++i) ASSERT_EQ(s.tok[k + 2 + i], raw[k + i]);
    for (int i = 0; i < kT; ++i) ASSERT_EQ(s.pos[i], i);
    for (int i = 0; i <= k; ++i) ASSERT_EQ(s.tgt[i], -1) << "no loss on the context";
    for (int i = k + 1; i < kT - 1; ++i) ASSERT_EQ(s.tgt[i], s.tok[i + 1]);
    ASSERT_EQ(s.tgt[kT - 1], kTok.eop);
  }
  EXPECT_GE(checked, 500);
}

TEST(GLMCollator, MaskSamplesCoverFifteenPercentWithPoissonSpans) {
  GLMCollator c({}, kTok, 512, 7);
  const int T = 512;
  double covered = 0, raw_total = 0;
  std::vector<int> lengths;
  int samples = 0;
  for (int g = 0; g < kSamples && samples < 600; ++g) {
    if (c.kind_of(g) != SampleKind::mask) continue;
    ++samples;
    modeldef::Batch b = c.make_batch(1);
    std::vector<std::int32_t> raw(T);
    for (int i = 0; i < T; ++i) raw[i] = (g + i) % 997;
    c.fill(b, 0, raw, g);
    const std::int32_t* tok = b.tokens.data<std::int32_t>();
    const int P = b.prefix_len.data<std::int32_t>()[0], L = b.valid_len.data<std::int32_t>()[0];
    int masks = static_cast<int>(std::count(tok, tok + P, kTok.mask));
    int span_tokens = L - P - masks;  // part B minus one <sop> per span
    covered += span_tokens;
    raw_total += P - masks + span_tokens;
    for (int t = P; t < L;) {  // walk part B span by span
      ASSERT_EQ(tok[t], kTok.sop);
      int len = 0;
      for (++t; t < L && tok[t] != kTok.sop; ++t) ++len;
      lengths.push_back(len);
    }
  }
  EXPECT_NEAR(covered / raw_total, 0.15, 0.01);
  double mean = std::accumulate(lengths.begin(), lengths.end(), 0.0) / lengths.size();
  // Poisson(3) floored at 1 and trimmed to the 15% budget: the mean sits just above 3
  EXPECT_NEAR(mean, 3.0, 0.35);
  std::map<int, int> hist;
  for (int l : lengths) ++hist[l];
  EXPECT_GT(hist[2], hist[6]);  // a Poisson shape, not uniform
  EXPECT_GT(hist[3], hist[1] / 2);
}

TEST(GLMCollator, MaskSampleReassemblesToTheRawTextAndUsesMaskPositions) {
  GLMCollator c({}, kTok, kT, 8);
  int checked = 0;
  for (int g = 0; g < kSamples && checked < 300; ++g) {
    if (c.kind_of(g) != SampleKind::mask) continue;
    ++checked;
    Sample s = make(c, g);
    auto raw = raw_window(g);
    ASSERT_LE(s.L, kT);
    // part A: positions 0..P-1, no targets; no special token except [MASK]
    std::map<int, std::vector<std::int32_t>> span_at;  // [MASK] position -> span
    for (int i = 0; i < s.P; ++i) {
      ASSERT_EQ(s.pos[i], i);
      ASSERT_EQ(s.tgt[i], -1);
    }
    // part B: <sop> s_1..s_m at the position of a [MASK]; targets shift by one, then <eop>
    for (int t = s.P; t < s.L;) {
      ASSERT_EQ(s.tok[t], kTok.sop);
      int p = s.pos[t];
      ASSERT_LT(p, s.P);
      ASSERT_EQ(s.tok[p], kTok.mask) << "a part-B token takes the position of its [MASK]";
      std::vector<std::int32_t> span;
      int start = t;
      for (++t; t < s.L && s.tok[t] != kTok.sop; ++t) {
        ASSERT_EQ(s.pos[t], p);
        span.push_back(s.tok[t]);
      }
      for (int i = start; i < t; ++i)
        ASSERT_EQ(s.tgt[i], i + 1 < t ? s.tok[i + 1] : kTok.eop);
      ASSERT_FALSE(span.empty());
      ASSERT_TRUE(span_at.emplace(p, span).second) << "one span per [MASK]";
    }
    ASSERT_EQ(span_at.size(), static_cast<std::size_t>(std::count(s.tok.begin(), s.tok.begin() + s.P, kTok.mask)));
    std::vector<std::int32_t> text;
    for (int i = 0; i < s.P; ++i) {
      if (s.tok[i] == kTok.mask) {
        text.insert(text.end(), span_at[i].begin(), span_at[i].end());
      } else {
        text.push_back(s.tok[i]);
      }
    }
    ASSERT_LE(text.size(), raw.size());
    ASSERT_TRUE(std::equal(text.begin(), text.end(), raw.begin())) << "sample " << g;
    for (int i = s.L; i < kT; ++i) ASSERT_EQ(s.tgt[i], -1) << "padding carries no loss";
  }
}

TEST(GLMCollator, SamplesDependOnlyOnSeedAndGlobalIndex) {
  GLMCollator a({}, kTok, kT, 9), b({}, kTok, kT, 9), other({}, kTok, kT, 10);
  for (int g : {0, 17, 4001}) {
    Sample x = make(a, g), y = make(b, g);
    EXPECT_EQ(x.tok, y.tok);
    EXPECT_EQ(x.pos, y.pos);
    EXPECT_EQ(x.tgt, y.tgt);
  }
  int differ = 0;
  for (int g = 0; g < 50; ++g) differ += make(a, g).tok != make(other, g).tok;
  EXPECT_GT(differ, 25);
}

TEST(Sampler, EachEpochIsAPermutationThatChangesWithTheEpoch) {
  Sampler s(1000, 3);
  std::vector<std::int64_t> e0, e1;
  for (int g = 0; g < 1000; ++g) e0.push_back(s.window_of(g));
  for (int g = 1000; g < 2000; ++g) e1.push_back(s.window_of(g));
  EXPECT_EQ(std::set<std::int64_t>(e0.begin(), e0.end()).size(), 1000u);
  EXPECT_EQ(std::set<std::int64_t>(e1.begin(), e1.end()).size(), 1000u);
  EXPECT_NE(e0, e1);
  Sampler fresh(1000, 3);  // another process, asking out of order
  EXPECT_EQ(fresh.window_of(1500), e1[500]);
  EXPECT_EQ(fresh.window_of(3), e0[3]);
}

}  // namespace
}  // namespace glm::data
