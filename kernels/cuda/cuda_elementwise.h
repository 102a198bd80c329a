// Elementwise ops and reductions on CUDA tensors: the GPU side of kernels/elementwise.h,
// same math and shapes (fp32, contiguous, on the current stream). sum_squares and
// all_finite return a host value, so they wait for the current stream; sum_squares reduces
// in fp64 in a fixed order (run-to-run identical; not bit-identical to the CPU's order).
// gather_rows / scatter_add_rows check their indices on the device and throw after the
// kernel (one small read-back).
#pragma once

#include "core/tensor.h"

namespace glm::kernels::cuda {

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b);
void axpy(Tensor& y, float alpha, const Tensor& x);
void scale(Tensor& y, float alpha);
double sum_squares(const Tensor& x);
bool all_finite(const Tensor& x);
void gather_rows(Tensor& out, const Tensor& src, const Tensor& index);
void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index);

}  // namespace glm::kernels::cuda
