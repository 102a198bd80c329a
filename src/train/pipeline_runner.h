// Runs the micro-batches of one step through this rank's pipeline stage with the 1F1B
// schedule (parallel/pipeline_schedule.h), passing activations and their gradients to the
// neighbouring stages point to point over the PP group. Without a PP group (or with one
// stage) it is a plain loop of forward_backward over the micro-batches.
//
//   PipelineStats st = run_pipeline_step(model, groups.pp.get(), batches, opts);
//   // model.grads() holds this stage's gradients; st.loss_sum is the last stage's
#pragma once

#include <vector>

#include "model/glm_model.h"
#include "parallel/communicator.h"

namespace glm::train {

struct PipelineStats {
  double loss_sum = 0;          // sum of target losses (last stage; 0 elsewhere)
  std::int64_t num_targets = 0; // targets seen by the head (last stage)
  double compute_s = 0;         // time in forward and backward passes
  double comm_s = 0;            // time in point-to-point transfers (waiting included)
};

// Forward and backward of every micro-batch; `opt` is shared by all of them, except that
// opt.on_layer_grads is passed to the last micro-batch's backward only (the last backward
// of the step on every stage under 1F1B).
PipelineStats run_pipeline_step(model::GLMModel& m, parallel::Communicator* pp,
                                const std::vector<modeldef::Batch>& batches,
                                const model::StepOptions& opt);

// Forward only (evaluation, no dropout): the loss of one micro-batch, through every stage.
PipelineStats run_pipeline_forward(model::GLMModel& m, parallel::Communicator* pp,
                                   const modeldef::Batch& batch);

}  // namespace glm::train
