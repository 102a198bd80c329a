// Shared helpers of the model tests: small configs, random fills, and hand-built batches in
// the two GLM layouts ([gMASK] continuation and [MASK] infilling, docs/design.md section 2).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "modeldef/batch.h"
#include "modeldef/model_config.h"
#include "tests/test_util.h"

namespace glm::testing {

inline modeldef::ModelConfig tiny_config(int layers = 2) {
  modeldef::ModelConfig c;
  c.vocab_size = 29;
  c.hidden_size = 16;
  c.num_layers = layers;
  c.num_heads = 2;
  c.ffn_hidden_size = 24;
  c.seq_length = 16;
  c.hidden_dropout = 0;
  c.attention_dropout = 0;
  return c;
}

using test::fill_uniform;

// Special tokens at the top of the vocabulary.
struct Special {
  int mask, gmask, sop, eop;
  explicit Special(int V) : mask(V - 4), gmask(V - 3), sop(V - 2), eop(V - 1) {}
};

// B samples of length T in the chosen layout, every sample different; sample 1 is padded
// (valid_len < T) so padding is always exercised.
inline modeldef::Batch glm_batch(int B, int T, int V, bool gmask, std::uint64_t seed) {
  modeldef::Batch b;
  b.tokens = Tensor::zeros({B, T}, DType::i32);
  b.positions = Tensor::zeros({B, T}, DType::i32);
  b.targets = Tensor::zeros({B, T}, DType::i32);
  b.prefix_len = Tensor::zeros({B}, DType::i32);
  b.valid_len = Tensor::zeros({B}, DType::i32);
  std::mt19937 rng(static_cast<unsigned>(seed));
  Special sp(V);
  auto word = [&] { return static_cast<int>(rng() % (V - 4)); };
  for (int s = 0; s < B; ++s) {
    int L = s == 1 ? T - 3 : T;
    std::vector<int> tok, pos, tgt;
    int P;
    if (gmask) {
      // context ... [gMASK] | <sop> span ...     predicting span <eop>
      P = L / 2;
      for (int i = 0; i < P - 1; ++i) tok.push_back(word());
      tok.push_back(sp.gmask);
      std::vector<int> span;
      for (int i = P; i < L - 1; ++i) span.push_back(word());
      tok.push_back(sp.sop);
      tok.insert(tok.end(), span.begin(), span.end());
      for (int i = 0; i < L; ++i) pos.push_back(i);
      tgt.assign(P, -1);
      tgt.insert(tgt.end(), span.begin(), span.end());
      tgt.push_back(sp.eop);
    } else {
      // part A with two spans replaced by [MASK]; part B: <sop> span per mask, each
      // part-B token at the position of its [MASK].
      int la = L - 6;  // part A; part B holds two spans of length 2 with their <sop>s
      std::vector<int> spans[2] = {{word(), word()}, {word(), word()}};
      int mpos[2] = {1, la - 2};
      for (int i = 0; i < la; ++i) {
        tok.push_back(i == mpos[0] || i == mpos[1] ? sp.mask : word());
        pos.push_back(i);
        tgt.push_back(-1);
      }
      P = la;
      for (int k = 0; k < 2; ++k) {
        tok.push_back(sp.sop);
        tok.push_back(spans[k][0]);
        tok.push_back(spans[k][1]);
        for (int i = 0; i < 3; ++i) pos.push_back(mpos[k]);
        tgt.push_back(spans[k][0]);
        tgt.push_back(spans[k][1]);
        tgt.push_back(sp.eop);
      }
    }
    for (int i = 0; i < T; ++i) {
      bool in = i < L;
      b.tokens.data<std::int32_t>()[s * T + i] = in ? tok[i] : 0;
      b.positions.data<std::int32_t>()[s * T + i] = in ? pos[i] : 0;
      b.targets.data<std::int32_t>()[s * T + i] = in ? tgt[i] : -1;
    }
    b.prefix_len.data<std::int32_t>()[s] = P;
    b.valid_len.data<std::int32_t>()[s] = L;
  }
  return b;
}

}  // namespace glm::testing
