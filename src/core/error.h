// Errors that carry context.
//
// glm::Error is thrown for every failure; its message names what went wrong and where
// (file, field, rank, op). InputError marks bad input from the user (programs exit 2),
// any other Error is an internal failure (exit 1). GLM_CHECK guards internal invariants:
// it is not for validating user input, which gets an InputError with a precise message.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace glm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad user input: a config field, a command-line option, a data file.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what) {}
};

// The machine failed the program, not the input nor the code: a full disk, an I/O error, a
// lost file system. Programs print it as it is (no "internal error") and exit 1.
class SystemError : public Error {
 public:
  explicit SystemError(const std::string& what) : Error(what) {}
};

[[noreturn]] void check_failed(const char* cond, const char* file, int line, const std::string& msg);

}  // namespace glm

// GLM_CHECK(cond, "format {}", args...): internal invariant; throws glm::Error with location.
#define GLM_CHECK(cond, ...)                                                      \
  do {                                                                            \
    if (!(cond)) ::glm::check_failed(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)
