// The 1F1B pipeline schedule (PipeDream-Flush, docs/design.md section 4) and the layer split.
//
// Stage s of P runs M micro-batches as:
//   warm-up     w = min(P - s - 1, M) forwards
//   steady      M - w pairs: forward of micro-batch w + i, then backward of i
//   cool-down   the last w backwards
// so at most min(M, P - s) micro-batches are in flight on stage s (activation slots), and
// the bubble is (P - 1) / (M + P - 1) of the step.
//
// Communication follows from the order: a forward needs its input from stage s - 1
// (s > 0) and sends its output to s + 1 (s < P - 1); a backward needs the output gradient
// from s + 1 and sends its input gradient to s - 1. The runner (train/pipeline_runner.h)
// posts each step's send together with the next step's receive (Communicator::send_recv),
// which is Megatron's send_forward_recv_backward / send_backward_recv_forward pairing and
// cannot deadlock (tests/unit/test_pipeline_schedule.cpp simulates every stage to check it).
#pragma once

#include <vector>

namespace glm::parallel {

enum class PipeOp { forward, backward };

struct PipeStep {
  PipeOp op;
  int micro_batch;
  bool operator==(const PipeStep&) const = default;
};

// The order in which stage `stage` of `stages` runs the passes of `micro_batches`.
std::vector<PipeStep> one_f_one_b(int stage, int stages, int micro_batches);

// Activation slots stage `stage` needs: min(M, P - stage). Micro-batch m uses m % slots.
int pipeline_slots(int stage, int stages, int micro_batches);

// The analytic bubble fraction (P - 1) / (M + P - 1) of 1F1B with equal stage times.
double pipeline_bubble(int stages, int micro_batches);

// Layers per stage: N over P as evenly as possible, except that the first and the last
// stage may be given fewer, as GLM-130B did (70 layers on 8 stages: 9 x 8 - 2, the first
// and last stage lighter because they also hold the embedding and the head).
// `first_last` < 0 splits evenly (the earlier stages take the remainder);
// otherwise the first and last stage get `first_last` layers each and the middle stages
// split the rest evenly. Throws InputError naming the sizes when the split is impossible
// (a stage without layers, or N < P).
std::vector<int> pipeline_layer_split(int num_layers, int stages, int first_last = -1);

}  // namespace glm::parallel
