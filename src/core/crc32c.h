// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing
// (TensorBoard event files) and of many storage formats.
//
//   std::uint32_t c = glm::crc32c(bytes);          // fastest path this CPU has
//   std::uint32_t m = glm::crc32c_masked(bytes);   // TFRecord's rotated, offset form
//
// Two implementations compute the same function: the SSE4.2 `crc32` instruction (8 bytes
// per instruction) and a slicing-by-8 table walk for CPUs without it. The choice is made
// once at run time; GLM_CRC32C=table in the environment forces the table (to test it, or to
// rule the instruction out).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace glm {

std::uint32_t crc32c(std::span<const std::byte> bytes);
std::uint32_t crc32c(std::string_view bytes);
// TFRecord's mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8, so that a CRC stored next to
// the data it covers does not checksum to a fixed pattern.
std::uint32_t crc32c_masked(std::span<const std::byte> bytes);

// The two paths, for tests. crc32c_sse42 must only be called when crc32c_sse42_available().
std::uint32_t crc32c_table(std::span<const std::byte> bytes);
std::uint32_t crc32c_sse42(std::span<const std::byte> bytes);
bool crc32c_sse42_available();
// "sse4.2" or "table": the path crc32c() takes in this process.
const char* crc32c_path();

}  // namespace glm
