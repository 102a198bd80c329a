// Strict UTF-8 validation (Unicode 15, section 3.9, table 3-7): rejects stray continuation
// bytes, truncated sequences, overlong forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16
// surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF).
//
//   std::size_t bad = glm::data::find_invalid_utf8(text);  // npos when text is valid
//   int line = glm::data::line_of(text, bad);               // 1-based, for the message
#pragma once

#include <cstddef>
#include <string_view>

namespace glm::data {

// Offset of the first byte of the first ill-formed sequence, or std::string_view::npos.
std::size_t find_invalid_utf8(std::string_view text);

// The 1-based line number of byte offset `pos` (lines end with '\n').
int line_of(std::string_view text, std::size_t pos);

}  // namespace glm::data
