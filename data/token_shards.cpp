#include "data/token_shards.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/atomic_file.h"

namespace glm::data {

std::string shard_file_name(const std::string& split, int index) {
  return fmt::format("{}-{:05d}.h5", split, index);
}

std::string shard_index_name(const std::string& split) { return split + ".index.json"; }

void write_shard_index(const std::string& dir, const std::string& split,
                       const std::string& tokenizer_sha256, const std::vector<ShardInfo>& shards) {
  nlohmann::json list = nlohmann::json::array();
  std::int64_t tokens = 0, documents = 0;
  for (const ShardInfo& s : shards) {
    list.push_back({{"file", s.file}, {"tokens", s.tokens}, {"documents", s.documents}});
    tokens += s.tokens;
    documents += s.documents;
  }
  const nlohmann::json j = {{"format", kShardIndexFormat}, {"version", 1},
                            {"split", split},              {"tokenizer_sha256", tokenizer_sha256},
                            {"tokens", tokens},            {"documents", documents},
                            {"shards", list}};
  write_file_atomically(dir + "/" + shard_index_name(split), j.dump(1) + "\n");
}

std::vector<ShardInfo> read_shard_index(const std::string& index_path) {
  std::ifstream in(index_path);
  if (!in) throw InputError(fmt::format("{}: cannot open the shard index", index_path));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    const nlohmann::json j = nlohmann::json::parse(ss.str());
    if (j.at("format").get<std::string>() != kShardIndexFormat)
      throw InputError(fmt::format("{}: format '{}', expected '{}'", index_path,
                                   j.at("format").get<std::string>(), kShardIndexFormat));
    std::vector<ShardInfo> shards;
    for (const auto& s : j.at("shards")) {
      ShardInfo info{s.at("file").get<std::string>(), s.at("tokens").get<std::int64_t>(),
                     s.at("documents").get<std::int64_t>()};
      if (info.file.empty() || info.file.find('/') != std::string::npos || info.tokens < 0 ||
          info.documents < 0)
        throw InputError(fmt::format("{}: shard entry {} is not a file name with counts",
                                     index_path, s.dump()));
      shards.push_back(std::move(info));
    }
    if (shards.empty()) throw InputError(fmt::format("{}: lists no shard", index_path));
    return shards;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not a shard index: {}", index_path, e.what()));
  }
}

}  // namespace glm::data
