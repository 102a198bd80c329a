// Reading text files into documents, the unit that is tokenized, split into train/valid
// and separated by <eop> in a token dataset (docs/design.md section 6).
//
// A file in fortune format (Debian `fortunes`, `fortunes-zh`) holds documents separated by
// lines that are exactly "%"; a JSON Lines file (*.jsonl, *.ndjson, either gzipped;
// data/jsonl.h) one document per line, under a key; any other file holds paragraphs
// separated by blank lines.
// Every file must be strictly valid UTF-8 (an InputError names the file and line). By
// default terminal codes are removed first: the fortune files colour their Chinese poems
// with ANSI escapes and underline/embolden English text by overstriking (x BACKSPACE x),
// and neither is text a model should learn.
//
//   Corpus c = read_corpus(expand_inputs({"/usr/share/games/fortunes/tang300", "mydir/"}));
//   for (const Document& d : c.documents) use(d.text, c.sources[d.source]);
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace glm::data {

struct CorpusOptions {
  bool strip_terminal_codes = true;  // ANSI escape sequences, overstrikes, CR, other C0 controls
  std::string jsonl_key = "text";    // the text's key in JSON Lines files (data/jsonl.h)
};

struct Document {
  std::string text;
  int source = 0;  // index into Corpus::sources
};

struct Corpus {
  std::vector<std::string> sources;  // the files read, in order
  std::vector<Document> documents;   // in file order, then in order within each file
};

// Expands the --input list: a file stays as given; a directory becomes every regular file
// in it (not recursive, sorted by name), skipping symbolic links (Debian's X.u8 links
// duplicate X), hidden files and strfile indexes (X.dat next to X). A path that does not
// exist, or a directory without such files, is an InputError naming it.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);

// Reads every file (InputError naming the file: missing, unreadable, invalid UTF-8 with its
// line, or no document in it). No files at all is an InputError too.
Corpus read_corpus(const std::vector<std::string>& paths, const CorpusOptions& options = {});

// The same as a stream: fn(document) for every document of every file, in order, holding one
// JSON Lines document (or one plain or fortune file's documents) at a time, so memory does
// not grow with the corpus (glm-preprocess --shard-tokens). Errors as read_corpus.
void for_each_document(const std::vector<std::string>& paths, const CorpusOptions& options,
                       const std::function<void(Document&&)>& fn);

// The documents of one file's text (already validated), in order; `source` names the file
// in errors.
std::vector<std::string> read_documents(const std::string& path, const CorpusOptions& options = {});
void for_each_file_document(const std::string& path, const CorpusOptions& options,
                            const std::function<void(std::string&&)>& fn);

// Splitting rules on valid UTF-8 text, exposed for tests. Each document loses leading blank
// lines and trailing whitespace; empty documents are dropped.
std::vector<std::string> split_documents(std::string_view text);
std::string strip_terminal_codes(std::string_view text);

}  // namespace glm::data
