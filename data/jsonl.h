// JSON Lines input for glm-preprocess (data/corpus.h): one JSON object per line, the
// document's text under a key (`--jsonl-key`, "text" by default), plain (*.jsonl, *.ndjson)
// or gzip-compressed (*.jsonl.gz, *.ndjson.gz, through zlib). Read line by line in blocks,
// so memory holds the documents and one block, never the whole file (the documents
// themselves are still gathered in memory by read_corpus). A line that is not a JSON
// object, lacks the key or holds a non-string there is an InputError naming the file, the
// line and the key; blank lines are skipped, and so are documents that are empty text.
#pragma once

#include <string>
#include <vector>

namespace glm::data {

bool is_jsonl(const std::string& path);  // by the file name
std::vector<std::string> read_jsonl_documents(const std::string& path, const std::string& key);

}  // namespace glm::data
