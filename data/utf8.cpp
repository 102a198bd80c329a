#include "data/utf8.h"

#include <algorithm>
#include <cstdint>

namespace glm::data {

std::size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t b = s[i];
    if (b < 0x80) {  // ASCII: the common case
      ++i;
      continue;
    }
    // Sequence length and the allowed range of the second byte (table 3-7); the third and
    // fourth bytes are always 80..BF.
    int len = 0;
    std::uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b == 0xE0) {
      len = 3, lo = 0xA0;  // E0 80..9F would be overlong
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      len = 3;
    } else if (b == 0xED) {
      len = 3, hi = 0x9F;  // ED A0..BF would be a surrogate U+D800..DFFF
    } else if (b == 0xF0) {
      len = 4, lo = 0x90;  // F0 80..8F would be overlong
    } else if (b >= 0xF1 && b <= 0xF3) {
      len = 4;
    } else if (b == 0xF4) {
      len = 4, hi = 0x8F;  // F4 90.. would be above U+10FFFF
    } else {
      return i;  // 80..C1 (stray continuation or overlong lead) or F5..FF
    }
    if (i + len > n) return i;  // truncated at the end of the text
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (int k = 2; k < len; ++k)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

int line_of(std::string_view text, std::size_t pos) {
  pos = std::min(pos, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

}  // namespace glm::data
