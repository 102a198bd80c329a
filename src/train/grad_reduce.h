// The data-parallel gradient all-reduce, layer by layer as the backward finishes them
// (docs/design.md section 4): during a step's last backward, each layer's gradient range starts
// its all-reduce as soon as the layer's backward returns (the last layers first), so on a
// backend with asynchronous collectives (NCCL, on its own stream) communication overlaps the
// rest of the backward; on MPI each range is reduced when started. After the backward,
// finish() reduces what no layer covers (embedding, final LayerNorm; after the embedding
// group's sum) and waits for every range. The sum is the same as one all-reduce of the whole
// buffer, and so are the bytes sent (the ring cost is linear in the size).
//
//   LayerwiseGradReduce reduce(*dp, model.layout(), model.grads().flat());
//   opts.on_layer_grads = [&](int l) { reduce.layer_done(l); };
//   run_pipeline_step(model, pp, batches, opts);
//   reduce.finish();
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"
#include "modeldef/param_layout.h"
#include "parallel/communicator.h"

namespace glm::train {

class LayerwiseGradReduce {
 public:
  LayerwiseGradReduce(parallel::Communicator& dp, const modeldef::ParamLayout& layout, Tensor flat);
  ~LayerwiseGradReduce();  // waits for anything still in flight

  // Layer `layer` (global index, held by this shard) has its final gradient: start its range.
  void layer_done(int layer);
  // Starts every range not started yet, then waits for all of them.
  void finish();

 private:
  struct Range {
    std::int64_t begin = 0, end = 0;
    bool started = false;
  };
  void start(Range& r);
  parallel::Communicator& dp_;
  Tensor flat_;
  int first_layer_ = 0;
  std::vector<Range> layers_;  // per local layer
  std::vector<Range> rest_;    // the gaps no layer covers
  std::vector<std::unique_ptr<parallel::CommWork>> pending_;
};

}  // namespace glm::train
