#include "core/error.h"

namespace glm {

void check_failed(const char* cond, const char* file, int line, const std::string& msg) {
  throw Error(fmt::format("internal check failed: {} ({}:{}): {}", cond, file, line, msg));
}

}  // namespace glm
