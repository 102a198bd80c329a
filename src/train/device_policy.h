// Which device a training rank runs on (train.device), decided from facts passed in (this
// build has CUDA, the GPUs the runtime sees, the ranks on this node) so that every refusal
// is testable on any machine, GPU or not.
//
//   const int gpu = parallel::rank_gpu(local.rank, local.size, cuda_device_count());
//   set_current_cuda_device(gpu);
//   Device dev = training_device(rc, world, built_with_cuda(), cuda_device_count(), gpu);
#pragma once

#include "config/run_config.h"
#include "core/dtype.h"
#include "parallel/communicator.h"

namespace glm::train {

// The CPU, or CUDA device `current_device` (glm-train picks one GPU per rank before it
// builds the process groups). InputError naming train.device for a build without CUDA, no
// GPU, or several ranks whose world group cannot take device memory (no NCCL).
Device training_device(const config::RunConfig& rc, const parallel::Communicator* world,
                       bool built_with_cuda, int cuda_devices, int current_device);

}  // namespace glm::train
