// Strict reading of one JSON object into a typed config struct.
//
// Each field is read by name with its type and range checked; anything wrong is reported
// together, naming the key as "section.key". finish() rejects keys nobody read, so a typo
// in a config is an error instead of a silently ignored setting.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace glm {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& obj, std::string section, std::string source);

  // Each reads obj[key] into out when present (out keeps its default otherwise).
  void get(const std::string& key, int& out, std::int64_t lo, std::int64_t hi);
  void get(const std::string& key, std::int64_t& out, std::int64_t lo, std::int64_t hi);
  void get(const std::string& key, double& out, double lo, double hi);
  void get(const std::string& key, bool& out);
  void get(const std::string& key, std::string& out, const std::vector<std::string>& allowed);
  // A nested object, returned as is for its own JsonFields (null json when absent).
  nlohmann::json object(const std::string& key);

  void error(const std::string& key, const std::string& msg);
  // Adds an "unknown key" problem for each key not read; returns all problems found.
  std::vector<std::string> finish();

 private:
  const nlohmann::json* find(const std::string& key);
  nlohmann::json obj_;
  std::string section_, source_;
  std::set<std::string> seen_;
  std::vector<std::string> problems_;
};

// Throws InputError listing every problem (one per line) if the list is not empty.
void throw_if_problems(const std::vector<std::string>& problems, const std::string& source);

}  // namespace glm
