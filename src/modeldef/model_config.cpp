#include "modeldef/model_config.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/json_fields.h"

namespace glm::modeldef {

int default_ffn_hidden_size(int h) {
  return static_cast<int>(std::lround(8.0 * h / 3.0 / 64.0)) * 64;
}

const char* layernorm_placement_name(LayerNormPlacement p) {
  switch (p) {
    case LayerNormPlacement::deepnorm:
      return "deepnorm";
    case LayerNormPlacement::post_ln:
      return "post_ln";
    case LayerNormPlacement::pre_ln:
      return "pre_ln";
    case LayerNormPlacement::sandwich:
      return "sandwich";
  }
  return "?";
}

double ModelConfig::deepnorm_alpha() const { return std::sqrt(2.0 * num_layers); }
double ModelConfig::deepnorm_beta() const { return 1.0 / std::sqrt(2.0 * num_layers); }

double ModelConfig::residual_alpha() const {
  return layernorm == LayerNormPlacement::deepnorm ? deepnorm_alpha() : 1.0;
}
double ModelConfig::init_beta() const {
  return layernorm == LayerNormPlacement::deepnorm ? deepnorm_beta() : 1.0;
}
bool ModelConfig::residual_from_input() const {
  return layernorm == LayerNormPlacement::pre_ln || layernorm == LayerNormPlacement::sandwich;
}

std::int64_t ModelConfig::matrix_parameters() const {
  std::int64_t h = hidden_size, f = ffn_hidden_size;
  return num_layers * (3 * h * h + h * h + 2 * f * h + f * h);
}

std::int64_t ModelConfig::num_parameters() const {
  std::int64_t h = hidden_size, f = ffn_hidden_size;
  const std::int64_t norms = has_sublayer_output_norms() ? 4 : 2;
  std::int64_t per_layer_other =
      norms * 2 * h /*LN gains, biases*/ + 3 * h + h + 2 * f + h /*biases*/;
  return matrix_parameters() + num_layers * per_layer_other + std::int64_t{vocab_size} * h + 2 * h;
}

double ModelConfig::layer_forward_flops_per_token() const {
  return 2.0 * matrix_parameters() + 4.0 * num_layers * seq_length * hidden_size;
}

double ModelConfig::head_forward_flops_per_row() const { return 2.0 * hidden_size * vocab_size; }

double ModelConfig::forward_flops(double tokens, double head_rows) const {
  return tokens * layer_forward_flops_per_token() + head_rows * head_forward_flops_per_row();
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& source) {
  ModelConfig c;
  JsonFields f(j, "model", source);
  f.get("vocab_size", c.vocab_size, 1, 1 << 24);
  f.get("hidden_size", c.hidden_size, 2, 1 << 20);
  f.get("num_layers", c.num_layers, 1, 10000);
  f.get("num_heads", c.num_heads, 1, 1 << 16);
  f.get("ffn_hidden_size", c.ffn_hidden_size, 0, 1 << 22);
  f.get("seq_length", c.seq_length, 1, 1 << 20);
  f.get("layernorm_epsilon", c.layernorm_epsilon, 1e-12, 1.0);
  f.get("hidden_dropout", c.hidden_dropout, 0.0, 0.99);
  f.get("attention_dropout", c.attention_dropout, 0.0, 0.99);
  f.get("embedding_grad_shrink", c.embedding_grad_shrink, 0.0, 1.0);
  f.get("init_std", c.init_std, 0.0, 10.0);
  f.get("rope_base", c.rope_base, 1.0, 1e9);
  std::string placement = layernorm_placement_name(c.layernorm);
  f.get("layernorm", placement, {"deepnorm", "post_ln", "pre_ln", "sandwich"});
  for (auto p : {LayerNormPlacement::deepnorm, LayerNormPlacement::post_ln,
                 LayerNormPlacement::pre_ln, LayerNormPlacement::sandwich})
    if (placement == layernorm_placement_name(p)) c.layernorm = p;
  if (c.hidden_size % c.num_heads != 0)
    f.error("num_heads",
            fmt::format("{} does not divide hidden_size {}", c.num_heads, c.hidden_size));
  else if (c.head_dim() % 2 != 0)
    f.error("num_heads",
            fmt::format("head dim hidden_size/num_heads = {} must be even for RoPE", c.head_dim()));
  if (c.ffn_hidden_size == 0) c.ffn_hidden_size = default_ffn_hidden_size(c.hidden_size);
  throw_if_problems(f.finish(), source);
  return c;
}

nlohmann::json ModelConfig::to_json() const {
  return {{"vocab_size", vocab_size},
          {"hidden_size", hidden_size},
          {"num_layers", num_layers},
          {"num_heads", num_heads},
          {"ffn_hidden_size", ffn_hidden_size},
          {"seq_length", seq_length},
          {"layernorm_epsilon", layernorm_epsilon},
          {"hidden_dropout", hidden_dropout},
          {"attention_dropout", attention_dropout},
          {"embedding_grad_shrink", embedding_grad_shrink},
          {"init_std", init_std},
          {"rope_base", rope_base},
          {"layernorm", layernorm_placement_name(layernorm)}};
}

}  // namespace glm::modeldef
