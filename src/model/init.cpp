#include "model/init.h"

#include "kernels/convert.h"

#include <memory>

#include "core/philox.h"

namespace glm::model {
namespace {

// FNV-1a: a stable 32-bit id per parameter name, independent of the layout's order.
std::uint32_t name_id(const std::string& s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

// Fills v[i] = std(i) * normal(global index of i). Two normals per Philox block.
template <class StdOf>
void fill_normal(float* v, std::int64_t n, std::int64_t global_offset, std::uint32_t id,
                 philox::Key key, StdOf std_of) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t g = static_cast<std::uint64_t>(global_offset + i), pair = g / 2;
    philox::Block b = philox::philox4x32_10(
        {static_cast<std::uint32_t>(pair), static_cast<std::uint32_t>(pair >> 32), id, 0}, key);
    float n0, n1;
    philox::to_normal2(b.v[0], b.v[1], n0, n1);
    v[i] = std_of(i) * ((g & 1) ? n1 : n0);
  }
}

}  // namespace

void deepnorm_init(modeldef::FlatParams& params, std::uint64_t seed) {
  if (!params.flat().device().is_cpu() || params.dtype() != DType::f32) {
    // Drawn in fp32 on the host (the same values on every device), then copied over and
    // rounded to the buffer's dtype.
    modeldef::FlatParams host(params.shared_layout());
    deepnorm_init(host, seed);
    const Device dev = params.flat().device();
    kernels::convert(params.flat(), dev.is_cpu() ? host.flat() : host.flat().to(dev));
    return;
  }
  const auto& layout = params.layout();
  const auto& c = layout.config();
  const philox::Key key = philox::make_key(seed, philox::kInit);
  const float beta = static_cast<float>(c.init_beta());
  const std::int64_t d = c.head_dim();
  for (std::size_t i = 0; i < layout.specs().size(); ++i) {
    const modeldef::ParamSpec& s = layout.specs()[i];
    Tensor t = params.at(static_cast<int>(i));
    float* v = t.data<float>();
    const std::int64_t n = s.numel();
    switch (s.kind) {
      case modeldef::ParamKind::bias:
      case modeldef::ParamKind::norm_bias:
        for (std::int64_t j = 0; j < n; ++j) v[j] = 0.f;
        break;
      case modeldef::ParamKind::norm_weight:
        for (std::int64_t j = 0; j < n; ++j) v[j] = 1.f;
        break;
      case modeldef::ParamKind::embedding:
      case modeldef::ParamKind::matrix: {
        // Each element draws from its index in the global tensor, so every layout (any
        // tensor-parallel cut) holds the same initial values.
        const bool qkv = s.name.find("query_key_value") != std::string::npos;
        const std::int64_t row_len = s.global_shape.back();
        for_each_run(s.global_shape, s.box(), [&](std::int64_t local, std::int64_t global,
                                                  std::int64_t len) {
          fill_normal(v + local, len, global, name_id(s.name), key, [&](std::int64_t j) {
            if (!qkv) return s.init_std;
            // rows are [heads, 3, d]: the third block of d rows in each head is the value part
            std::int64_t row = (global + j) / row_len;
            return (row % (3 * d)) >= 2 * d ? s.init_std * beta : s.init_std;
          });
        });
        break;
      }
    }
  }
}

}  // namespace glm::model
