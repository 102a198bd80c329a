#include "core/gpu_datasheet.h"

namespace glm {

const std::vector<GpuDatasheet>& gpu_datasheets() {
  static const std::vector<GpuDatasheet> kCards = {
      {"H100 PCIe", 756.0, 51.2}, {"H100 NVL", 835.0, 60.0}, {"H100", 989.4, 66.9},
      {"H200", 989.4, 66.9},      {"H800", 989.4, 66.9},     {"A100", 312.0, 19.5},
      {"A800", 312.0, 19.5},      {"L40S", 362.0, 91.6},     {"A10", 125.0, 31.2},
  };
  return kCards;
}

const GpuDatasheet* find_gpu_datasheet(std::string_view device_name) {
  for (const GpuDatasheet& c : gpu_datasheets())
    if (device_name.find(c.card) != std::string_view::npos) return &c;
  return nullptr;
}

}  // namespace glm
