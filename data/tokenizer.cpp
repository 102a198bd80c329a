#include "data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <iterator>

#include "core/error.h"
#include "core/sha256.h"
#include "core/atomic_file.h"

namespace glm::data {

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

Tokenizer Tokenizer::from_file(const std::string& path) {
  return from_bytes(read_file_bytes(path), path);
}

Tokenizer Tokenizer::from_bytes(std::string model_bytes, std::string name) {
  auto impl = std::make_unique<Impl>();
  auto status = impl->sp.LoadFromSerializedProto(model_bytes);
  if (!status.ok())
    throw InputError(fmt::format("{}: not a SentencePiece model ({})", name, status.ToString()));
  return Tokenizer(std::move(impl), std::move(model_bytes), std::move(name));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl, std::string bytes, std::string name)
    : impl_(std::move(impl)), bytes_(std::move(bytes)), name_(std::move(name)) {
  sha256_ = sha256_hex(bytes_);
  int* ids[] = {&special_.mask, &special_.gmask, &special_.smask,
                &special_.sop,  &special_.eop,   &special_.pad};
  for (std::size_t i = 0; i < kSpecialTokenPieces.size(); ++i) {
    const std::string_view piece = kSpecialTokenPieces[i];
    const int id = impl_->sp.PieceToId(piece);
    // PieceToId answers unk_id for an absent piece; "<unk>" itself is never special.
    if (id < 0 || id == impl_->sp.unk_id() || impl_->sp.IdToPiece(id) != piece)
      throw InputError(fmt::format("{}: tokenizer lacks the special token {}", name_, piece));
    *ids[i] = id;
  }
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<std::int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  auto status = impl_->sp.Encode(text, &ids);
  if (!status.ok()) throw Error(fmt::format("{}: encode failed: {}", name_, status.ToString()));
  return std::vector<std::int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids) const {
  const int v = vocab_size();
  for (std::int32_t id : ids)
    if (id < 0 || id >= v)
      throw InputError(fmt::format("{}: token id {} outside the vocabulary [0, {})", name_, id, v));
  std::string text;
  auto status = impl_->sp.Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok()) throw Error(fmt::format("{}: decode failed: {}", name_, status.ToString()));
  return text;
}

int Tokenizer::vocab_size() const { return impl_->sp.GetPieceSize(); }
int Tokenizer::unk_id() const { return impl_->sp.unk_id(); }
std::string Tokenizer::id_to_piece(int id) const {
  if (id < 0 || id >= vocab_size())
    throw InputError(fmt::format("{}: token id {} outside the vocabulary", name_, id));
  return impl_->sp.IdToPiece(id);
}
int Tokenizer::piece_to_id(std::string_view piece) const { return impl_->sp.PieceToId(piece); }

std::vector<std::int32_t> Tokenizer::text_bytes_per_id() const {
  static constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space
  std::vector<std::int32_t> bytes(static_cast<std::size_t>(vocab_size()), 0);
  const int specials[] = {special_.mask, special_.gmask, special_.smask,
                          special_.sop,  special_.eop,   special_.pad};
  for (int id = 0; id < vocab_size(); ++id) {
    if (impl_->sp.IsControl(id) || impl_->sp.IsUnknown(id) || impl_->sp.IsUnused(id) ||
        std::find(std::begin(specials), std::end(specials), id) != std::end(specials))
      continue;
    if (impl_->sp.IsByte(id)) {
      bytes[id] = 1;
      continue;
    }
    const std::string piece = impl_->sp.IdToPiece(id);
    std::size_t n = piece.size();  // each 3-byte space mark stands for one byte
    for (auto at = piece.find(kSpace); at != std::string::npos; at = piece.find(kSpace, at + 1))
      n -= kSpace.size() - 1;
    bytes[id] = static_cast<std::int32_t>(n);
  }
  return bytes;
}

}  // namespace glm::data
