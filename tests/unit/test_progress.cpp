// Progress to a non-terminal (ctest captures stderr into a pipe): nothing while running,
// one summary line at the end, and nothing at all for work shorter than the quiet time.
#include <gtest/gtest.h>

#include <string>

#include "core/progress.h"

namespace glm {
namespace {

TEST(Progress, NonTerminalGetsOneSummaryLineAtTheEnd) {
  ::testing::internal::CaptureStderr();
  {
    Progress p("verify: bytes", 300, /*quiet_s=*/0.0);
    p.advance(100);
    p.advance(200);
  }  // the destructor finishes
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "verify: bytes 300/300 in 0s\n");
}

TEST(Progress, ShortWorkPrintsNothing) {
  ::testing::internal::CaptureStderr();
  Progress p("eval: samples", 10, /*quiet_s=*/60.0);
  for (int i = 0; i < 10; ++i) p.advance();
  p.finish();
  p.finish();  // a second finish is a no-op
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace glm
