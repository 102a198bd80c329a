// SHA-256 against the FIPS 180-2 known answers, in memory and streamed from files.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/sha256.h"
#include "data_test_util.h"

namespace glm {
namespace {

TEST(Sha256, MatchesFipsKnownAnswers) {
  // FIPS 180-2, appendix B.1 and B.2, and the empty message.
  EXPECT_EQ(sha256_hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::string_view(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),  // 448 bits
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex(std::as_bytes(std::span(abc))), sha256_hex(std::string_view(abc)));
}

TEST(Sha256, FileIsStreamedAcrossReadBuffers) {
  testing::ScratchDir dir;
  // FIPS 180-2 appendix B.3: one million 'a'.
  testing::write_text(dir / "a.txt", std::string(1'000'000, 'a'));
  EXPECT_EQ(sha256_file_hex(dir / "a.txt"),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // 2.5 MiB: spans several 1 MiB reads; must equal the one-shot digest.
  std::string big(5 << 19, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + (i >> 9));
  testing::write_text(dir / "big.bin", big);
  EXPECT_EQ(sha256_file_hex(dir / "big.bin"), sha256_hex(std::string_view(big)));
  testing::write_text(dir / "empty", "");
  EXPECT_EQ(sha256_file_hex(dir / "empty"), sha256_hex(std::string_view("")));
}

TEST(Sha256, MissingFileIsInputErrorNamingIt) {
  try {
    sha256_file_hex("/nonexistent/glm/file.bin");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/glm/file.bin"), std::string::npos);
  }
}

}  // namespace
}  // namespace glm
