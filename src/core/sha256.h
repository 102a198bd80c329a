// SHA-256 checksums as lowercase hex strings (64 characters), through OpenSSL's EVP
// interface. Used to tie token datasets to their tokenizer and to verify checkpoint files.
//
//   std::string h = glm::sha256_hex(bytes);        // a byte span in memory
//   std::string f = glm::sha256_file_hex(path);    // a file, read in 1 MiB pieces
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace glm {

std::string sha256_hex(std::span<const std::byte> bytes);
std::string sha256_hex(std::string_view bytes);
// Streams the file; a missing or unreadable file is an InputError naming it.
std::string sha256_file_hex(const std::string& path);

}  // namespace glm
