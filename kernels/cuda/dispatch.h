// What the op interface (kernels/*.h, implemented in kernels/cpu/*.cpp) includes to send
// CUDA tensors to the CUDA backend: every public op starts with
//   if (cuda::any_on_cuda(tensors...)) return cuda::op(...);
// under #ifdef GLM_WITH_CUDA, so model code calls one interface on either device.
// gemm.h takes raw pointers and stays CPU-only: CUDA callers use kernels/cuda/cuda_gemm.h.
#pragma once

#include "kernels/cuda/cuda_attention.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_linear.h"
#include "kernels/cuda/cuda_stream.h"
