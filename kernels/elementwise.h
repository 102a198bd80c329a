// Small fused elementwise and reduction ops the model and trainer need (fp32, contiguous).
#pragma once

#include "core/tensor.h"

namespace glm::kernels {

void scaled_add(Tensor& y, float alpha, const Tensor& a, const Tensor& b);  // y = alpha*a + b
void axpy(Tensor& y, float alpha, const Tensor& x);                         // y += alpha*x
void scale(Tensor& y, float alpha);                                          // y *= alpha
double sum_squares(const Tensor& x);   // sum x^2 in fp64 (gradient norms)
bool all_finite(const Tensor& x);      // no inf or NaN (overflow detection)
// rows: out[r] = src[index[r]] for [R, h] rows (gather), and dst[index[r]] += src[r] (scatter)
void gather_rows(Tensor& out, const Tensor& src, const Tensor& index);
void scatter_add_rows(Tensor& dst, const Tensor& src, const Tensor& index);

}  // namespace glm::kernels
