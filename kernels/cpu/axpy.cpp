#include "kernels/cpu/axpy.h"

namespace glm::kernels::cpu {

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void axpy_span(float* y,
                                                                                float alpha,
                                                                                const float* x,
                                                                                std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace glm::kernels::cpu
