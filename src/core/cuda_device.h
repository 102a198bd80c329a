// The CUDA runtime as the rest of the code sees it, callable in every build: whether the
// build has CUDA, which devices there are, and the calling thread's current device and
// stream. Without CUDA the queries answer "none" (0 devices, device 0, a null stream).
#pragma once

#include <string>

namespace glm {

// True when this build links the CUDA runtime (GLM_CUDA=ON); says nothing about a GPU.
bool built_with_cuda();
// Number of CUDA devices visible now (0 without CUDA or without a GPU).
int cuda_device_count();
// The calling thread's current CUDA device (0 without CUDA), and setting it (kernels run on
// the current device; a rank of a GPU job picks its own once, before any CUDA work).
int current_cuda_device();
void set_current_cuda_device(int index);
// Waits until every queued operation on the current CUDA device is done (no-op without CUDA).
void cuda_synchronize();
// "NVIDIA H100 80GB HBM3" for device `index` ("" without CUDA).
std::string cuda_device_name(int index);

// The calling thread's current CUDA stream (a cudaStream_t; null is the legacy default
// stream): kernels/cuda enqueue their work there (kernels/cuda/cuda_stream.h's StreamScope
// sets it), and copy_bytes / zero_bytes run there too, so they are ordered with the kernels.
void* current_cuda_stream();
void set_current_cuda_stream(void* stream);

}  // namespace glm
