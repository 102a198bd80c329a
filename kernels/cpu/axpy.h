// y += alpha * x over n contiguous floats: the inner loop of the CPU ops that sum rows into
// a destination (the embedding and row-scatter backwards, axpy), compiled per ISA once here.
#pragma once

#include <cstdint>

namespace glm::kernels::cpu {

void axpy_span(float* y, float alpha, const float* x, std::int64_t n);

}  // namespace glm::kernels::cpu
