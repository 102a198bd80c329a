#include "core/json_fields.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace glm {

JsonFields::JsonFields(const nlohmann::json& obj, std::string section, std::string source)
    : obj_(obj), section_(std::move(section)), source_(std::move(source)) {
  if (!obj_.is_null() && !obj_.is_object())
    problems_.push_back(fmt::format("{}: '{}' must be a JSON object", source_, section_));
}

const nlohmann::json* JsonFields::find(const std::string& key) {
  seen_.insert(key);
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  return it == obj_.end() ? nullptr : &*it;
}

void JsonFields::error(const std::string& key, const std::string& msg) {
  problems_.push_back(fmt::format("{}: {}.{}: {}", source_, section_, key, msg));
}

void JsonFields::get(const std::string& key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
  const auto* v = find(key);
  if (!v) return;
  if (!v->is_number_integer()) return error(key, fmt::format("expected an integer, got {}", v->dump()));
  std::int64_t x = v->get<std::int64_t>();
  if (x < lo || x > hi) return error(key, fmt::format("{} is outside [{}, {}]", x, lo, hi));
  out = x;
}

void JsonFields::get(const std::string& key, int& out, std::int64_t lo, std::int64_t hi) {
  std::int64_t x = out;
  get(key, x, lo, hi);
  out = static_cast<int>(x);
}

void JsonFields::get(const std::string& key, double& out, double lo, double hi) {
  const auto* v = find(key);
  if (!v) return;
  if (!v->is_number()) return error(key, fmt::format("expected a number, got {}", v->dump()));
  double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    return error(key, fmt::format("{} is outside [{}, {}]", x, lo, hi));
  out = x;
}

void JsonFields::get(const std::string& key, bool& out) {
  const auto* v = find(key);
  if (!v) return;
  if (!v->is_boolean()) return error(key, fmt::format("expected true or false, got {}", v->dump()));
  out = v->get<bool>();
}

void JsonFields::get(const std::string& key, std::string& out,
                     const std::vector<std::string>& allowed) {
  const auto* v = find(key);
  if (!v) return;
  if (!v->is_string()) return error(key, fmt::format("expected a string, got {}", v->dump()));
  std::string s = v->get<std::string>();
  if (!allowed.empty()) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == s;
    if (!ok) return error(key, fmt::format("'{}' is not one of {}", s, fmt::join(allowed, ", ")));
  }
  out = s;
}

nlohmann::json JsonFields::object(const std::string& key) {
  const auto* v = find(key);
  return v ? *v : nlohmann::json();
}

std::vector<std::string> JsonFields::finish() {
  if (obj_.is_object())
    for (const auto& [k, v] : obj_.items())
      if (!seen_.count(k)) error(k, "unknown key");
  return problems_;
}

void throw_if_problems(const std::vector<std::string>& problems, const std::string& source) {
  if (problems.empty()) return;
  throw InputError(fmt::format("invalid config {}:\n  {}", source, fmt::join(problems, "\n  ")));
}

}  // namespace glm
