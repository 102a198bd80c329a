#include "train/device_policy.h"

#include "core/error.h"

namespace glm::train {

Device training_device(const config::RunConfig& rc, const parallel::Communicator* world,
                       bool built_with_cuda, int cuda_devices, int current_device) {
  if (rc.train.device != "cuda") return Device::cpu();
  if (!built_with_cuda)
    throw InputError(fmt::format("{}: train.device cuda: this build has no CUDA backend (nvcc was "
                                 "not found when it was configured)",
                                 rc.source));
  if (cuda_devices <= 0)
    throw InputError(fmt::format("{}: train.device cuda: no CUDA device present", rc.source));
  if (world && world->size() > 1 && !world->takes_device_memory())
    throw InputError(fmt::format(
        "{}: train.device cuda on {} ranks needs NCCL process groups (device buffers); this "
        "build has no NCCL backend",
        rc.source, world->size()));
  if (current_device < 0 || current_device >= cuda_devices)
    throw InputError(fmt::format("{}: train.device cuda: device {} of {} visible GPUs", rc.source,
                                 current_device, cuda_devices));
  return Device::cuda(current_device);
}

}  // namespace glm::train
