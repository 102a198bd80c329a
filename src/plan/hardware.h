// A machine a run is planned for (configs/hardware/*.json): peak arithmetic, memory, the
// links between GPUs and the efficiency the planner assumes. Every number carries where it
// comes from ("datasheet", "measured" or "assumed") and a note, and the planner prints both,
// so a plan never hides an input.
//
//   Hardware hw = load_hardware("a100-40g");          // configs/hardware/a100-40g.json
//   Hardware hw = load_hardware("my-cluster.json");   // or any file
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace glm::plan {

struct Figure {
  double value = 0;
  std::string source;  // datasheet | measured | assumed
  std::string note;
};

struct Hardware {
  std::string name, file;
  bool cuda = true;  // "kind": "gpu" (default) or "cpu": which attention buffers the code keeps
  Figure peak_tflops_16bit;  // dense tensor-core fp16/bf16, per GPU
  Figure peak_tflops_fp32;   // dense fp32 (no tensor cores), per GPU
  Figure hbm_gib;            // memory per GPU
  Figure reserved_gib;       // taken before the run allocates (CUDA context, fragmentation)
  Figure hbm_gbs;            // memory bandwidth per GPU, GB/s
  Figure nvlink_gbs;         // per GPU, one direction, GB/s (inside a node)
  Figure network_gbs;        // per GPU, one direction, GB/s (between nodes)
  Figure gpus_per_node;
  Figure gemm_efficiency;  // achieved / peak on the step's counted FLOPs

  // Every figure with its name, for reports.
  std::vector<std::pair<std::string, const Figure*>> figures() const;
};

// NAME (configs/hardware/NAME.json, looked up under $GLM_SOURCE_DIR, the working directory
// and the source tree this program was built from) or a path to a JSON file. InputError
// naming the file and field for anything missing or malformed.
Hardware load_hardware(const std::string& name_or_file);
Hardware parse_hardware(const nlohmann::json& j, const std::string& source);

}  // namespace glm::plan
