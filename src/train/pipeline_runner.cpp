#include "train/pipeline_runner.h"

#include <chrono>
#include <span>

#include "core/error.h"
#include "parallel/pipeline_schedule.h"
#include "parallel/tensor_span.h"

namespace glm::train {
namespace {

using parallel::message;

using clock = std::chrono::steady_clock;
double since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

}  // namespace

PipelineStats run_pipeline_step(model::GLMModel& m, parallel::Communicator* pp,
                                const std::vector<modeldef::Batch>& batches,
                                const model::StepOptions& opt) {
  PipelineStats st;
  const int M = static_cast<int>(batches.size());
  // on_layer_grads belongs to the step's last backward only (gradients final).
  model::StepOptions earlier = opt;
  earlier.on_layer_grads = nullptr;
  auto opt_of = [&](int micro_batch) -> const model::StepOptions& {
    return micro_batch == M - 1 ? opt : earlier;
  };
  if (!pp || pp->size() == 1) {
    auto t0 = clock::now();
    for (int i = 0; i < M; ++i) {
      const modeldef::Batch& b = batches[i];
      model::LossStats s = m.forward_backward(b, opt_of(i));
      st.loss_sum += s.loss_sum;
      st.num_targets += s.num_targets;
    }
    st.compute_s = since(t0);
    return st;
  }
  const int stage = pp->rank(), P = pp->size();
  const int slots = parallel::pipeline_slots(stage, P, M);
  const bool first = stage == 0, last = stage == P - 1;
  GLM_CHECK(first == m.first_stage() && last == m.last_stage(),
            "pipeline stage {} of {} holds the wrong model shard", stage, P);

  // Each step's send is posted together with the next step's receive.
  std::span<const float> pending;
  int pending_peer = -1;
  auto exchange = [&](std::span<float> recv, int recv_peer) {
    if (pending.empty() && recv.empty()) return;
    auto t0 = clock::now();
    pp->send_recv(pending, pending_peer, recv, recv_peer);
    pending = {};
    st.comm_s += since(t0);
  };
  for (const parallel::PipeStep& step : parallel::one_f_one_b(stage, P, M)) {
    const modeldef::Batch& b = batches[step.micro_batch];
    const int slot = step.micro_batch % slots;
    if (step.op == parallel::PipeOp::forward) {
      if (first) exchange({}, -1);
      else exchange(message(*pp, m.stage_input(slot, b.batch_size(), b.seq_len())), stage - 1);
      auto t0 = clock::now();
      model::LossStats s = m.stage_forward(b, opt_of(step.micro_batch), slot);
      st.compute_s += since(t0);
      st.loss_sum += s.loss_sum;
      st.num_targets += s.num_targets;
      if (!last) {
        pending = message(*pp, m.stage_output(slot));
        pending_peer = stage + 1;
      }
    } else {
      if (last) exchange({}, -1);
      else exchange(message(*pp, m.stage_output_grad(slot)), stage + 1);
      auto t0 = clock::now();
      const Tensor& dx = m.stage_backward(b, opt_of(step.micro_batch), slot);
      st.compute_s += since(t0);
      if (!first) {
        pending = message(*pp, dx);
        pending_peer = stage - 1;
      }
    }
  }
  exchange({}, -1);
  return st;
}

PipelineStats run_pipeline_forward(model::GLMModel& m, parallel::Communicator* pp,
                                   const modeldef::Batch& b) {
  PipelineStats st;
  model::StepOptions opt;
  opt.training = false;
  auto t0 = clock::now();
  if (pp && pp->size() > 1 && !m.first_stage()) {
    pp->recv(message(*pp, m.stage_input(0, b.batch_size(), b.seq_len())), pp->rank() - 1);
  }
  model::LossStats s = m.stage_forward(b, opt, 0, /*backward=*/false);
  if (pp && pp->size() > 1 && !m.last_stage()) pp->send(message(*pp, m.stage_output(0)), pp->rank() + 1);
  st.loss_sum = s.loss_sum;
  st.num_targets = s.num_targets;
  st.compute_s = since(t0);
  return st;
}

}  // namespace glm::train
