// JSON Lines input for glm-preprocess (data/corpus.h): one JSON object per line, the
// document's text under a key (`--jsonl-key`, "text" by default), plain (*.jsonl, *.ndjson)
// or compressed: gzip (*.jsonl.gz, *.ndjson.gz, through zlib) or zstd (*.jsonl.zst,
// *.ndjson.zst, through libzstd's streaming decoder). Read line by line in blocks,
// so memory holds one block and one document at a time (for_each_jsonl_document), or the
// file's documents (read_jsonl_documents), never the whole file. A line that is not a JSON
// object, lacks the key or holds a non-string there is an InputError naming the file, the
// line and the key; blank lines are skipped, and so are documents that are empty text.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace glm::data {

bool is_jsonl(const std::string& path);  // by the file name
std::vector<std::string> read_jsonl_documents(const std::string& path, const std::string& key);
// Each document's text in file order, as it is read.
void for_each_jsonl_document(const std::string& path, const std::string& key,
                             const std::function<void(std::string&&)>& fn);

}  // namespace glm::data
