// The GLM model's hyper-parameters (the "model" object of a run config, docs/design.md section 2)
// and the quantities derived from them (head dim, DeepNorm alpha and beta, FLOPs).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace glm::modeldef {

// The seed a run (init, data order, masking, dropout) and sampling use when none is given:
// train.seed's default, the model's and glm-generate's --seed.
inline constexpr std::uint64_t kDefaultSeed = 1234;

// Where each layer puts its LayerNorms (docs/design.md section 2), x the layer's input:
//   deepnorm  a = LN(x); h = alpha a + Attn(a); m = LN(h); out = alpha m + MLP(m)
//             alpha = (2N)^(1/2), and the value, attention-output and MLP matrices start
//             beta = (2N)^(-1/2) times their Xavier std (GLM-130B)
//   post_ln   the same with alpha = beta = 1: each sublayer's output LN(x + f(x)) is taken
//             by the next LN (the next layer's input LN, or the final LN)
//   pre_ln    h = x + Attn(LN(x)); out = h + MLP(LN(h)); the final LN closes the stream
//   sandwich  h = x + LN(Attn(LN(x))); out = h + LN(MLP(LN(h))) (CogView): two more LNs
//             per layer, on each sublayer's output
// Every variant has the final LN before the tied head; only deepnorm scales the init.
enum class LayerNormPlacement { deepnorm, post_ln, pre_ln, sandwich };
const char* layernorm_placement_name(LayerNormPlacement p);

struct ModelConfig {
  int vocab_size = 32000;   // V (padded; the tokenizer may use fewer)
  int hidden_size = 512;    // h
  int num_layers = 8;       // N
  int num_heads = 8;        // a
  int ffn_hidden_size = 0;  // f; 0 = 8h/3 rounded to a multiple of 64
  int seq_length = 256;     // T
  double layernorm_epsilon = 1e-5;
  double hidden_dropout = 0.1;
  double attention_dropout = 0.1;
  double embedding_grad_shrink = 0.1;  // EGS alpha_e
  double init_std = 0.02;              // embedding init
  double rope_base = 10000.0;
  LayerNormPlacement layernorm = LayerNormPlacement::deepnorm;

  int head_dim() const { return hidden_size / num_heads; }  // d
  double deepnorm_alpha() const;                            // (2N)^(1/2)
  double deepnorm_beta() const;                             // (2N)^(-1/2)
  // What the layers use: DeepNorm's alpha and beta under deepnorm, 1 for the others.
  double residual_alpha() const;
  double init_beta() const;
  // pre_ln and sandwich add each sublayer to the un-normalised stream (x, then h);
  // deepnorm and post_ln to its normalised input (a, then m).
  bool residual_from_input() const;
  bool has_sublayer_output_norms() const { return layernorm == LayerNormPlacement::sandwich; }
  std::int64_t num_parameters() const;
  std::int64_t matrix_parameters() const;  // in the linear layers (what FLOPs count)
  // Model FLOPs of a forward pass (docs/design.md, "FLOPs, MFU and HFU"): every token goes
  // through the layers, 2*matrix params + 4*N*T*h each; only the rows with a target go
  // through the tied head, 2*h*V each. A training step is 3x its forward.
  double layer_forward_flops_per_token() const;
  double head_forward_flops_per_row() const;
  double forward_flops(double tokens, double head_rows) const;

  // Reads a "model" object: unknown keys and bad values are InputErrors naming the key;
  // the default f is resolved here. source names the file in messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

// The default GeGLU inner size: 8h/3 rounded to the nearest multiple of 64.
int default_ffn_hidden_size(int hidden_size);

}  // namespace glm::modeldef
