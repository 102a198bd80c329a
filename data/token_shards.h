// A split written as shards by glm-preprocess --shard-tokens (docs/design.md section 6):
//
//   <split>-00000.h5, <split>-00001.h5, ...   token datasets (data/token_dataset.h) of whole
//                                              documents, each closed once it holds at least
//                                              shard_tokens tokens; written atomically
//   <split>.index.json                         written last (atomically): {"format":
//       "glm-train-token-shards", "version": 1, "split", "tokenizer_sha256", "tokens",
//       "documents", "shards": [{"file", "tokens", "documents"}, ...]}
//
// The shard count is known only at the end, so names carry the index and the index file the
// count. TokenDataset::open_split reads either layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace glm::data {

inline constexpr const char* kShardIndexFormat = "glm-train-token-shards";

struct ShardInfo {
  std::string file;  // relative to the directory
  std::int64_t tokens = 0, documents = 0;
};

std::string shard_file_name(const std::string& split, int index);  // "train-00003.h5"
std::string shard_index_name(const std::string& split);            // "train.index.json"

void write_shard_index(const std::string& dir, const std::string& split,
                       const std::string& tokenizer_sha256, const std::vector<ShardInfo>& shards);
// The shards an index lists; InputError naming the file and the field when it is not one.
std::vector<ShardInfo> read_shard_index(const std::string& index_path);

}  // namespace glm::data
