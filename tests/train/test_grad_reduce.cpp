// The layer-by-layer data-parallel reduction (train/grad_reduce.h): its ranges tile the
// gradient buffer exactly once, each layer's range starts when the model reports the layer
// done (last layers first, during the backward), and the rest waits for finish(). The sums
// themselves are checked end to end by the parallel layout tests (test_parallel_layouts).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "model/glm_model.h"
#include "train/grad_reduce.h"

namespace glm::train {
namespace {

// A one-rank group that records which element ranges it was asked to reduce, and when.
class RecordingComm final : public parallel::Communicator {
 public:
  RecordingComm() : Communicator("dp") {}
  int rank() const override { return 0; }
  int size() const override { return 2; }  // pretend to be a real group
  void all_reduce_sum(std::span<float> d) override { spans.push_back({d.data(), d.size()}); }
  void all_reduce_sum(std::span<double>) override {}
  void reduce_scatter_sum(std::span<const float>, std::span<float>) override {}
  void all_gather(std::span<const float>, std::span<float>) override {}
  void broadcast(std::span<std::byte>, int) override {}
  void send(std::span<const float>, int) override {}
  void recv(std::span<float>, int) override {}
  void send_recv(std::span<const float>, int, std::span<float>, int) override {}
  void barrier() override {}
  std::vector<std::pair<const float*, std::size_t>> spans;
};

modeldef::ModelConfig config() {
  modeldef::ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_layers = 3;
  c.num_heads = 2;
  c.ffn_hidden_size = 48;
  c.seq_length = 8;
  return c;
}

TEST(LayerwiseGradReduce, RangesTileTheBufferOnceLayersFirst) {
  const modeldef::ModelConfig c = config();
  model::GLMModel m(c, {});
  RecordingComm comm;
  Tensor& flat = m.grads().flat();
  LayerwiseGradReduce reduce(comm, m.layout(), flat);
  for (int l = c.num_layers - 1; l >= 0; --l) reduce.layer_done(l);
  ASSERT_EQ(comm.spans.size(), 3u) << "one range per layer, started at once";
  reduce.layer_done(1);  // a second report starts nothing
  EXPECT_EQ(comm.spans.size(), 3u);
  reduce.finish();  // embedding and final LayerNorm
  EXPECT_GT(comm.spans.size(), 3u);
  // The ranges cover [0, total) exactly once.
  std::vector<std::pair<std::int64_t, std::int64_t>> r;
  for (auto [p, n] : comm.spans)
    r.push_back({p - flat.data<float>(), p - flat.data<float>() + static_cast<std::int64_t>(n)});
  std::sort(r.begin(), r.end());
  std::int64_t at = 0;
  for (auto [b, e] : r) {
    EXPECT_EQ(b, at) << "gap or overlap";
    at = e;
  }
  EXPECT_EQ(at, m.layout().total());
  // Layer 2's range starts at its first parameter and ends where the next tensor begins.
  const auto& first = m.layout().spec("layers.2.input_layernorm.weight");
  const auto& next = m.layout().spec("final_layernorm.weight");
  EXPECT_EQ(comm.spans[0].first - flat.data<float>(), first.offset);
  EXPECT_EQ(comm.spans[0].first + comm.spans[0].second - flat.data<float>(), next.offset);
}

TEST(LayerwiseGradReduce, TheModelReportsEachLayerAfterItsBackward) {
  const modeldef::ModelConfig c = config();
  model::GLMModel m(c, {.seed = 3});
  m.init();
  modeldef::Batch b;
  for (Tensor* t : {&b.tokens, &b.positions, &b.targets}) *t = Tensor::zeros({1, 8}, DType::i32);
  b.prefix_len = Tensor::zeros({1}, DType::i32);
  b.valid_len = Tensor::zeros({1}, DType::i32);
  b.prefix_len.data<std::int32_t>()[0] = 3;
  b.valid_len.data<std::int32_t>()[0] = 8;
  for (int i = 0; i < 8; ++i) {
    b.tokens.data<std::int32_t>()[i] = i + 1;
    b.positions.data<std::int32_t>()[i] = i;
    b.targets.data<std::int32_t>()[i] = i >= 3 ? i + 2 : -1;
  }
  std::vector<int> order;
  model::StepOptions opt;
  opt.on_layer_grads = [&](int l) { order.push_back(l); };
  m.forward_backward(b, opt);
  EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
}

}  // namespace
}  // namespace glm::train
