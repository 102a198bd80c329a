#include "infer/safetensors.h"

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/atomic_file.h"

namespace glm::infer {
namespace {

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f16:
      return "F16";
    case DType::i8:
      return "I8";
    case DType::u8:
      return "U8";
    case DType::i32:
      return "I32";
    default:
      throw Error(fmt::format("safetensors: no dtype for {}", dtype_name(t)));
  }
}

}  // namespace

std::int64_t write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                               const std::function<Tensor(std::size_t i)>& tensor,
                               const std::map<std::string, std::string>& metadata) {
  // nlohmann::ordered_json keeps the tensors in file order (readers do not care; people do)
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const SafetensorsEntry& e : entries) {
    const std::uint64_t n = dtype_bytes(e.dtype, static_cast<std::size_t>(shape_numel(e.shape)));
    header[e.name] = {{"dtype", st_dtype(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  glm::AtomicFile file(path);
  {
    std::ofstream f(file.temp_path(), std::ios::binary | std::ios::trunc);
    if (!f) throw InputError(fmt::format("{}: cannot create", file.temp_path()));
    const std::uint64_t len = text.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(len >> (8 * i));
    f.write(reinterpret_cast<const char*>(le), 8);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Tensor t = tensor(i);
      GLM_CHECK(t.is_contiguous() && t.device().is_cpu() && t.dtype() == entries[i].dtype &&
                    t.shape() == entries[i].shape,
                "safetensors: '{}' came as {}, the header says {}{}", entries[i].name,
                t.describe(), dtype_name(entries[i].dtype), shape_str(entries[i].shape));
      f.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    }
    f.flush();
    if (!f) throw Error(fmt::format("{}: write failed (disk full?)", file.temp_path()));
  }
  file.commit();
  return static_cast<std::int64_t>(8 + text.size() + offset);
}

}  // namespace glm::infer
