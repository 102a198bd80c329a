// The CUDA side of the inference engine (infer/engine.h): the model file's weights on one
// GPU and the forward pass over them. Engine owns one when its device is CUDA; callers use
// Engine.
//
// What lives on the device (uploaded once; never an fp16 copy of a quantized weight):
//   linears      as stored: INT8/INT4 packed values + fp16 scales, or fp16 [out, in];
//                their biases fp16 (fused kernels) and fp32 (cuBLASLt epilogue, fp16 files)
//   embedding    fp16 [V, h] (the tied head; the input rows are gathered on the host)
//   LayerNorms   fp32 [h]
// Per forward: x (the fp32 residual stream) and every activation are device tensors; each
// linear reads its input converted to fp16 and writes fp32:
//   int8 / int4:  kernels::cuda::quant_linear_forward (GEMV for one row, tensor cores above)
//   fp16:         kernels::cuda::f16_linear_forward for one row, cuBLASLt fp16 GEMM above
// LayerNorm, RoPE, GeGLU and the sums are the CUDA ops behind kernels/*.h; attention against
// the cache is kernels::cuda::kv_cache_attention. Work goes on the current stream; the
// logits are copied back after it is synchronised.
//
// A build without CUDA compiles this class too: constructing it throws the InputError that
// says the build lacks CUDA.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/tensor.h"
#include "infer/kv_cache.h"
#include "infer/model_file.h"

namespace glm::infer {

class CudaEngine {
 public:
  CudaEngine(const ModelFile& model, Device device);
  ~CudaEngine();
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  // InputError when a cache of `capacity` tokens does not fit the attention kernel.
  void check_cache_capacity(int capacity) const;
  // Engine::forward after its argument checks; `model` is the file this engine was made from.
  Tensor forward(const ModelFile& model, KVCache& cache, std::span<const std::int32_t> tokens,
                 std::span<const std::int32_t> positions, int prefix_len,
                 std::span<const std::int64_t> rows) const;
  std::int64_t device_bytes() const;  // weights held on the device

 private:
  struct Weights;
  std::unique_ptr<Weights> w_;
  Device device_;
  std::int64_t head_dim_ = 0;
};

}  // namespace glm::infer
