// The time of one training step of a layout on a machine, from the step's FLOPs and bytes:
//
//   per micro-batch on stage s   t_s = FLOPs_s / (peak * gemm_efficiency)      (compute)
//                                      + TP all-reduce bytes / link            (not overlapped)
//                                      + pipeline send bytes / link            (blocking)
//   pipeline (1F1B)              (M + P - 1) * max_s t_s, i.e. the bubble (P-1)/(M+P-1)
//   after the backward           DP bytes / link, less what overlaps the last backward
//                                (without ZeRO on a GPU: NCCL all-reduces each layer's range
//                                as its backward finishes, train/grad_reduce.h; ZeRO-1's
//                                reduce-scatter and all-gather and every MPI collective run
//                                after it), the embedding group's all-reduce, the AdamW pass
//                                over this rank's optimizer state at HBM bandwidth
//
// FLOPs: docs/design.md section 10's per-token formula (modeldef::ModelConfig); a layer's forward
// is 2 * (its matrix parameters) + 4 T h, the head's 2 h V; training is 3x forward, plus one more
// forward of every layer under full recomputation (attention's 4 T h under selective). A group's
// link is NVLink when its ranks share a node (rank = tp + TP (dp + DP pp), docs/design.md section
// 4), the network otherwise.
#pragma once

#include <vector>

#include "modeldef/model_config.h"
#include "plan/comm_volume.h"
#include "plan/hardware.h"
#include "plan/memory_plan.h"

namespace glm::plan {

struct StageTime {
  double compute_s = 0, tp_s = 0, pp_s = 0;                             // per micro-batch
  double dp_s = 0, dp_exposed_s = 0, embedding_s = 0, optimizer_s = 0;  // per step
  CommBytes bytes;                                                      // per step
  double micro_batch_s() const { return compute_s + tp_s + pp_s; }
};

struct StepTime {
  std::vector<StageTime> stages;
  double bubble = 0;      // (P-1)/(M+P-1)
  double pipeline_s = 0;  // (M+P-1) * slowest stage's micro-batch
  double step_s = 0;
  double model_flops = 0;     // per step, all GPUs (3x forward)
  double hardware_flops = 0;  // per step, all GPUs, recomputation included
  double tokens_per_s = 0;
  double model_tflops_per_gpu = 0, hardware_tflops_per_gpu = 0;
  double mfu = 0, hfu = 0;
  double peak_tflops = 0, gemm_efficiency = 0;
  bool tp_nvlink = true, dp_nvlink = true, pp_nvlink = true;
};

// precision picks the peak (fp32: peak_tflops_fp32, else the 16-bit one); gemm_efficiency
// replaces the hardware file's value when > 0.
StepTime plan_step_time(const modeldef::ModelConfig& c, const LayoutChoice& l, const Storage& s,
                        const Hardware& hw, const std::string& precision,
                        double gemm_efficiency = 0);

}  // namespace glm::plan
