// Dense peak rates of the GPUs the project knows by name, from NVIDIA's datasheets (no
// sparsity): the one table that the MFU of a CUDA run is measured against
// (train/device_peak.h) and that glm-plan's hardware presets cite with
// {"datasheet": "H100"} (configs/hardware/*.json, plan/hardware.h).
#pragma once

#include <string_view>
#include <vector>

namespace glm {

struct GpuDatasheet {
  std::string_view card;  // matched as a substring of the CUDA device name
  double tflops_16bit;    // fp16/bf16 tensor cores with fp32 accumulation
  double tflops_fp32;     // fp32 without tensor cores
};

// Every card, more specific names first ("H100 PCIe" before "H100").
const std::vector<GpuDatasheet>& gpu_datasheets();

// The first card whose name `device_name` contains ("NVIDIA H100 80GB HBM3" -> H100), or
// nullptr for a GPU the table does not know.
const GpuDatasheet* find_gpu_datasheet(std::string_view device_name);

}  // namespace glm
