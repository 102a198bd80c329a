// The SentencePiece tokenizer of a run (docs/design.md section 6), with GLM's special tokens.
//
// A model is loaded from a file (DIR/tokenizer.model written by glm-preprocess) or from its
// serialized bytes (the export format embeds them). Loading checks that every special token
// exists as its own piece; the model's SHA-256 ties datasets and checkpoints to it.
//
//   Tokenizer tok = Tokenizer::from_file("data_out/corpus/tokenizer.model");
//   std::vector<std::int32_t> ids = tok.encode("Hello 世界");
//   std::string text = tok.decode(ids);           // == "Hello 世界" (exact round trip)
//   int eop = tok.special().eop;
//
// encode/decode are const and safe to call from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace glm::data {

// Ids of the GLM special tokens (docs/design.md section 2).
struct SpecialTokens {
  int mask = -1;   // [MASK]  short span blanked in part A
  int gmask = -1;  // [gMASK] generation mask: the rest of the sample is the span
  int smask = -1;  // [sMASK] sentence-level mask
  int sop = -1;    // <sop>   start of a part-B span
  int eop = -1;    // <eop>   end of a span, and end of each document in a token dataset
  int pad = -1;    // <pad>
};

// The pieces, in the order the trainer adds them as user-defined symbols.
inline constexpr std::array<std::string_view, 6> kSpecialTokenPieces = {
    "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<pad>"};

class Tokenizer {
 public:
  // InputError naming the file (or `name`) when it is missing, not a SentencePiece model,
  // or lacks a special token (named).
  static Tokenizer from_file(const std::string& path);
  static Tokenizer from_bytes(std::string model_bytes, std::string name = "<tokenizer bytes>");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<std::int32_t> encode(std::string_view text) const;
  // InputError for an id outside [0, vocab_size).
  std::string decode(std::span<const std::int32_t> ids) const;

  int vocab_size() const;
  const SpecialTokens& special() const { return special_; }
  int unk_id() const;
  std::string id_to_piece(int id) const;
  int piece_to_id(std::string_view piece) const;  // unk_id() when absent
  // The UTF-8 bytes of text each id stands for, indexed by id: a piece's "▁" is one space,
  // a byte piece <0xNN> one byte, control, unknown and special tokens none. The denominator
  // of bits per byte (data/text_bytes.h).
  std::vector<std::int32_t> text_bytes_per_id() const;

  const std::string& model_bytes() const { return bytes_; }  // the serialized model
  const std::string& sha256() const { return sha256_; }      // of model_bytes(), hex
  const std::string& name() const { return name_; }          // file path or given name

 private:
  struct Impl;
  Tokenizer(std::unique_ptr<Impl> impl, std::string bytes, std::string name);
  std::unique_ptr<Impl> impl_;
  std::string bytes_, sha256_, name_;
  SpecialTokens special_;
};

}  // namespace glm::data
