#!/usr/bin/python3
"""Independent PyTorch reference of the glm-train model (docs/design.md section 2).

Written from the design alone, never from the C++ code, so that the golden end-to-end test
(the one golden end-to-end test) compares two independent implementations. It is also
the model that tests/reference/bench_torch.py times, so it uses the fast PyTorch primitives
(addmm, bmm over all heads, layer_norm, fused softmax) while keeping the math readable.

CLI (used by the C++ agreement test; run with Debian's /usr/bin/python3):

    python3 glm_reference.py run INPUT.h5 OUTPUT.h5 [--float64]

INPUT.h5:  attribute "config" (JSON of the model section), group "params" (fp32 datasets named
           as in PARAM_SPECS below), group "batch" (int32 tokens [B,T], positions [B,T],
           prefix_len [B], valid_len [B], targets [B,T] with -1 = no loss).
OUTPUT.h5: "logits" fp32 [B,T,V], "loss" fp32 [1], "num_targets" int32 [1], group "grads"
           (fp32, one dataset per parameter, same names and shapes as "params").

Dimension letters: B batch, T sequence, h hidden, a heads, d = h/a head dim,
f GeGLU inner size, V vocabulary, N layers.
"""

import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

# Value written into masked attention scores (docs/design.md section 2: "masked positions get
# -10000"). In fp32/fp64 exp(-10000 - max) underflows to exactly 0, the same as -inf.
MASK_FILL = -10000.0


# ----------------------------------------------------------------------------------------
# Configuration and parameter names
# ----------------------------------------------------------------------------------------

CONFIG_KEYS = ("vocab_size", "hidden_size", "num_layers", "num_heads", "ffn_hidden_size",
               "seq_length", "layernorm_epsilon", "hidden_dropout", "attention_dropout",
               "embedding_grad_shrink", "init_std", "rope_base")
# Keys a config may leave out, with the value the C++ side takes then.
OPTIONAL_KEYS = {"layernorm": "deepnorm"}
LAYERNORM_PLACEMENTS = ("deepnorm", "post_ln", "pre_ln", "sandwich")


def default_ffn_hidden_size(h):
    """docs/design.md section 2: f = 8h/3 rounded to the nearest multiple of 64."""
    return int(round(8 * h / 3 / 64)) * 64


def resolve_config(model_cfg):
    """Keep the known keys of a "model" config section; resolve ffn_hidden_size 0."""
    missing = [k for k in CONFIG_KEYS if k not in model_cfg]
    if missing:
        raise ValueError(f"config: missing keys {missing}")
    cfg = {k: model_cfg[k] for k in CONFIG_KEYS}
    for k, default in OPTIONAL_KEYS.items():
        cfg[k] = model_cfg.get(k, default)
    if cfg["layernorm"] not in LAYERNORM_PLACEMENTS:
        raise ValueError(f"config: layernorm {cfg['layernorm']!r} is not one of "
                         f"{LAYERNORM_PLACEMENTS}")
    if cfg["ffn_hidden_size"] <= 0:
        cfg["ffn_hidden_size"] = default_ffn_hidden_size(cfg["hidden_size"])
    if cfg["hidden_size"] % cfg["num_heads"] != 0:
        raise ValueError("config: hidden_size must be a multiple of num_heads")
    if (cfg["hidden_size"] // cfg["num_heads"]) % 2 != 0:
        raise ValueError("config: head dim must be even for rotary embedding")
    return cfg


def param_specs(cfg):
    """[(name, shape)] of every parameter, in a fixed order, names as in the HDF5 files."""
    V, h, N, f = cfg["vocab_size"], cfg["hidden_size"], cfg["num_layers"], cfg["ffn_hidden_size"]
    specs = [("embedding.weight", (V, h))]
    for l in range(N):
        p = f"layers.{l}."
        specs += [
            (p + "input_layernorm.weight", (h,)),
            (p + "input_layernorm.bias", (h,)),
            (p + "attention.query_key_value.weight", (3 * h, h)),  # rows [a, 3, d]
            (p + "attention.query_key_value.bias", (3 * h,)),
            (p + "attention.dense.weight", (h, h)),
            (p + "attention.dense.bias", (h,)),
        ]
        if cfg["layernorm"] == "sandwich":
            specs += [(p + "attention.output_layernorm.weight", (h,)),
                      (p + "attention.output_layernorm.bias", (h,))]
        specs += [
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "post_attention_layernorm.bias", (h,)),
            (p + "mlp.dense_h_to_4h.weight", (2 * f, h)),  # rows [x1 (f), x2 (f)]
            (p + "mlp.dense_h_to_4h.bias", (2 * f,)),
            (p + "mlp.dense_4h_to_h.weight", (h, f)),
            (p + "mlp.dense_4h_to_h.bias", (h,)),
        ]
        if cfg["layernorm"] == "sandwich":
            specs += [(p + "mlp.output_layernorm.weight", (h,)),
                      (p + "mlp.output_layernorm.bias", (h,))]
    specs += [("final_layernorm.weight", (h,)), ("final_layernorm.bias", (h,))]
    return specs


# ----------------------------------------------------------------------------------------
# Initialisation (docs/design.md section 2, "Init"); used by the benchmark, not by the test path
# ----------------------------------------------------------------------------------------

def init_params(cfg, seed, dtype=torch.float32):
    """DeepNorm init: Xavier normal std = sqrt(2/(fan_in+fan_out)) for every matrix; the
    value rows of QKV, the attention output projection and both MLP matrices additionally
    scaled by beta = (2N)^-1/2 (Q and K rows are not; beta = 1 for the LayerNorm placements
    other than deepnorm); biases 0; LN gamma 1, beta 0; embedding normal(0, init_std).
    Xavier is taken per projection (q, k, v each [h, h]; each GeGLU half [f, h]).
    Returns {name: tensor}."""
    gen = torch.Generator().manual_seed(seed)
    h, a, N = cfg["hidden_size"], cfg["num_heads"], cfg["num_layers"]
    d = h // a
    beta = (2.0 * N) ** -0.5 if cfg["layernorm"] == "deepnorm" else 1.0
    params = {}
    for name, shape in param_specs(cfg):
        if name == "embedding.weight":
            t = torch.empty(shape, dtype=dtype).normal_(0.0, cfg["init_std"], generator=gen)
        elif len(shape) == 2:
            fan_out, fan_in = shape
            if name.endswith("query_key_value.weight"):
                fan_out = h  # each of q, k, v
            elif name.endswith("dense_h_to_4h.weight"):
                fan_out //= 2  # each GeGLU half
            std = math.sqrt(2.0 / (fan_in + fan_out))
            t = torch.empty(shape, dtype=dtype).normal_(0.0, std, generator=gen)
            if name.endswith("query_key_value.weight"):
                t.view(a, 3, d, h)[:, 2] *= beta  # value rows only
            else:  # attention.dense, mlp.dense_h_to_4h, mlp.dense_4h_to_h
                t *= beta
        elif name.endswith("layernorm.weight"):
            t = torch.ones(shape, dtype=dtype)
        else:  # every bias and LayerNorm beta
            t = torch.zeros(shape, dtype=dtype)
        params[name] = t
    return params


# ----------------------------------------------------------------------------------------
# Model pieces (docs/design.md section 2), one function each
# ----------------------------------------------------------------------------------------

class _ScaleGrad(torch.autograd.Function):
    """Identity in the forward; multiplies the incoming gradient by `scale` in the backward."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def embed(E, tokens, alpha_e):
    """x0 = E[tokens] with embedding gradient shrink (EGS): the gradient reaching E through
    this lookup is multiplied by alpha_e. Equivalent to looking up in
    `E*alpha_e + E.detach()*(1-alpha_e)`, but the forward value is E[tokens] exactly.
    E [V,h], tokens [B,T] -> [B,T,h]."""
    x0 = F.embedding(tokens, E)
    if alpha_e != 1.0:
        x0 = _ScaleGrad.apply(x0, alpha_e)
    return x0


def layernorm(x, weight, bias, eps):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last dim, biased variance."""
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def rope_cos_sin(positions, d, base, dtype):
    """theta_i = pos * base^(-2i/d) for i < d/2. positions [B,T] -> cos, sin [B,T,d/2].
    Angles are computed in float64 and rounded once to `dtype`."""
    i = torch.arange(d // 2, dtype=torch.float64)
    inv_freq = base ** (-2.0 * i / d)  # [d/2]
    theta = positions.to(torch.float64)[..., None] * inv_freq  # [B,T,d/2]
    return theta.cos().to(dtype), theta.sin().to(dtype)


def rope(x, cos, sin):
    """Rotary embedding, "rotate_half" layout over the full head dim (docs/design.md section 2):
    with x1 = x[..., :d/2], x2 = x[..., d/2:]:
        y[..., i]       = x1_i cos(theta_i) - x2_i sin(theta_i)
        y[..., i + d/2] = x2_i cos(theta_i) + x1_i sin(theta_i)
    x [B,T,..., d]; cos, sin broadcastable to [B,T,..., d/2]."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def glm_mask(prefix_len, valid_len, T):
    """GLM attention mask (docs/design.md section 2) with P = prefix_len[b], L = valid_len[b]:
    query i may attend key j iff j < L and (j < P or j <= i). Padding keys (j >= L) are never
    attended. Returns bool [B,T,T] (True = allowed), indexed [b, query i, key j]."""
    i = torch.arange(T)[None, :, None]  # query
    j = torch.arange(T)[None, None, :]  # key
    P = prefix_len[:, None, None]
    L = valid_len[:, None, None]
    return (j < L) & ((j < P) | (j <= i))


def attention(a_in, p, prefix, layer_index, num_heads, cos, sin, allowed, attention_dropout,
              training):
    """Attn(a) of docs/design.md section 2 for layer l = layer_index:
        qkv = a Wqkv^T + b, rows laid out per head as [a, 3, d]
        q, k = RoPE(q), RoPE(k)
        q = q / (sqrt(d) * c)   with c = l + 1 (query-key layer scaling)
        scores = (q k^T) * c, masked to -10000, softmax (fp32 or wider), dropout
        ctx = probs v, heads concatenated -> dense projection with bias.
    a_in [B,T,h]; cos, sin [B,T,d/2]; allowed bool [B,T,T]."""
    B, T, h = a_in.shape
    a = num_heads
    d = h // a
    c = float(layer_index + 1)

    qkv = F.linear(a_in, p[prefix + "query_key_value.weight"],
                   p[prefix + "query_key_value.bias"])  # [B,T,3h]
    qkv = qkv.view(B, T, a, 3, d)  # row index = head*3d + which*d + i

    # RoPE on q and k together: [B,T,a,2,d]
    qk = rope(qkv[:, :, :, :2], cos[:, :, None, None, :], sin[:, :, None, None, :])
    q = qk[:, :, :, 0].transpose(1, 2)  # [B,a,T,d]
    k = qk[:, :, :, 1].transpose(1, 2)  # [B,a,T,d]
    v = qkv[:, :, :, 2].transpose(1, 2)  # [B,a,T,d]

    q = q / (math.sqrt(d) * c)
    q = q.reshape(B * a, T, d)
    k = k.reshape(B * a, T, d)
    v = v.reshape(B * a, T, d)

    # scores = (q k^T) * c, then masked. In place: bmm's backward needs q and k, not its
    # output (and torch 1.13's CPU baddbmm loops over the batch, so bmm + mul_ is faster).
    scores = torch.bmm(q, k.transpose(1, 2)).view(B, a, T, T)  # [B,a,T,T]
    if c != 1.0:
        scores.mul_(c)
    scores.masked_fill_(~allowed[:, None], MASK_FILL)
    probs = torch.softmax(scores, dim=-1)  # [B,a,T,T]
    if not bool(allowed.any(dim=-1).all()):
        # A query row with no allowed key (only when valid_len = 0) attends to nothing.
        probs = probs * allowed.any(dim=-1)[:, None, :, None]
    if attention_dropout > 0.0 and training:
        probs = F.dropout(probs, attention_dropout, training=True)

    ctx = torch.bmm(probs.view(B * a, T, T), v)  # [B*a,T,d]
    ctx = ctx.view(B, a, T, d).transpose(1, 2).reshape(B, T, h)  # heads concatenated
    return F.linear(ctx, p[prefix + "dense.weight"], p[prefix + "dense.bias"])  # [B,T,h]


def gelu_tanh(z):
    """GELU, tanh approximation: 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))."""
    return F.gelu(z, approximate="tanh")


def mlp(m, p, prefix):
    """GeGLU (docs/design.md section 2): u = m W1^T + b1 [.., 2f]; x1 = u[..., :f],
    x2 = u[..., f:]; out = (x1 * GELU(x2)) W2^T + b2. m [B,T,h] -> [B,T,h]."""
    u = F.linear(m, p[prefix + "dense_h_to_4h.weight"], p[prefix + "dense_h_to_4h.bias"])
    x1, x2 = u.chunk(2, dim=-1)  # [B,T,f] each
    return F.linear(x1 * gelu_tanh(x2), p[prefix + "dense_4h_to_h.weight"],
                    p[prefix + "dense_4h_to_h.bias"])


def layer(x, p, l, cfg, cos, sin, allowed, training):
    """One layer (docs/design.md section 2) with the config's LayerNorm placement:
        deepnorm  a = LN_in(x); h = alpha*a + Attn(a); m = LN_post(h); out = alpha*m + MLP(m),
                  alpha = (2N)^(1/2)
        post_ln   the same with alpha = 1
        pre_ln    h = x + Attn(LN_in(x)); out = h + MLP(LN_post(h))
        sandwich  h = x + LN_ao(Attn(LN_in(x))); out = h + LN_mo(MLP(LN_post(h)))"""
    prefix = f"layers.{l}."
    placement = cfg["layernorm"]
    alpha = (2.0 * cfg["num_layers"]) ** 0.5 if placement == "deepnorm" else 1.0
    from_input = placement in ("pre_ln", "sandwich")
    eps = cfg["layernorm_epsilon"]
    hidden_dropout = cfg["hidden_dropout"] if training else 0.0

    def branch(t, name):
        if hidden_dropout > 0.0:
            t = F.dropout(t, hidden_dropout, training=True)
        if placement == "sandwich":
            t = layernorm(t, p[prefix + name + ".output_layernorm.weight"],
                          p[prefix + name + ".output_layernorm.bias"], eps)
        return t

    a = layernorm(x, p[prefix + "input_layernorm.weight"], p[prefix + "input_layernorm.bias"],
                  eps)
    attn = attention(a, p, prefix + "attention.", l, cfg["num_heads"], cos, sin, allowed,
                     cfg["attention_dropout"], training)
    hid = alpha * (x if from_input else a) + branch(attn, "attention")

    m = layernorm(hid, p[prefix + "post_attention_layernorm.weight"],
                  p[prefix + "post_attention_layernorm.bias"], eps)
    out = branch(mlp(m, p, prefix + "mlp."), "mlp")
    return alpha * (hid if from_input else m) + out


def hidden_states(p, batch, cfg, training=False):
    """y = LN_final(x_N): embedding (with EGS), N layers, final LayerNorm. [B,T,h].
    batch: int64 tensors tokens [B,T], positions [B,T], prefix_len [B], valid_len [B]."""
    E = p["embedding.weight"]
    T = batch["tokens"].shape[1]
    d = cfg["hidden_size"] // cfg["num_heads"]

    x = embed(E, batch["tokens"], cfg["embedding_grad_shrink"])
    if training and cfg["hidden_dropout"] > 0.0:
        x = F.dropout(x, cfg["hidden_dropout"], training=True)
    cos, sin = rope_cos_sin(batch["positions"], d, cfg["rope_base"], E.dtype)
    allowed = glm_mask(batch["prefix_len"], batch["valid_len"], T)
    for l in range(cfg["num_layers"]):
        x = layer(x, p, l, cfg, cos, sin, allowed, training)
    return layernorm(x, p["final_layernorm.weight"], p["final_layernorm.bias"],
                     cfg["layernorm_epsilon"])


def lm_head(y, E):
    """logits = y E^T with the tied (un-shrunk) embedding. y [B,T,h], E [V,h] -> [B,T,V]."""
    return F.linear(y, E)


def glm_loss(logits, targets):
    """Cross-entropy on target positions only (targets >= 0):
    loss = sum_t (logsumexp(logits_t) - logits_t[target_t]) / (number of target positions).
    With no target position the loss is 0 (and so are the gradients).
    Returns (loss, num_targets)."""
    V = logits.shape[-1]
    flat_targets = targets.reshape(-1)
    num_targets = int((flat_targets >= 0).sum())
    total = F.cross_entropy(logits.reshape(-1, V), flat_targets, ignore_index=-1,
                            reduction="sum")
    return total / max(num_targets, 1), num_targets


def glm_forward(p, batch, cfg, training=False):
    """Full model: returns (logits [B,T,V], loss, num_targets)."""
    logits = lm_head(hidden_states(p, batch, cfg, training), p["embedding.weight"])
    loss, num_targets = glm_loss(logits, batch["targets"])
    return logits, loss, num_targets


class GLMReference(torch.nn.Module):
    """The model as a plain Module. Parameters are held in a ParameterList in param_specs
    order (torch module names may not contain dots); param_dict() keys them by their HDF5
    names. forward(batch) -> (logits, loss, num_targets)."""

    def __init__(self, cfg, params, dtype=torch.float32):
        super().__init__()
        self.cfg = resolve_config(cfg)
        self.names = [name for name, _ in param_specs(self.cfg)]
        self._params = torch.nn.ParameterList()
        for name, shape in param_specs(self.cfg):
            t = params[name]
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"param {name}: shape {tuple(t.shape)}, expected {shape}")
            self._params.append(torch.nn.Parameter(t.detach().to(dtype).clone()))

    def param_dict(self):
        return dict(zip(self.names, self._params))

    def forward(self, batch):
        return glm_forward(self.param_dict(), batch, self.cfg, self.training)


# ----------------------------------------------------------------------------------------
# HDF5 CLI
# ----------------------------------------------------------------------------------------

BATCH_KEYS = ("tokens", "positions", "prefix_len", "valid_len", "targets")


def read_input(path):
    import h5py
    with h5py.File(path, "r") as f:
        raw = f.attrs["config"]
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if isinstance(raw, np.ndarray):  # a 1-element string array
            raw = raw.reshape(-1)[0]
            raw = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        cfg = resolve_config(json.loads(raw))
        specs = param_specs(cfg)
        stored = set(f["params"].keys())
        expected = {name for name, _ in specs}
        if stored != expected:
            raise ValueError(f"{path}: params missing {sorted(expected - stored)}, "
                             f"unexpected {sorted(stored - expected)}")
        params = {}
        for name, shape in specs:
            arr = f["params"][name][()]
            if arr.shape != tuple(shape):
                raise ValueError(f"{path}: params/{name} has shape {arr.shape}, expected {shape}")
            params[name] = torch.from_numpy(np.asarray(arr, dtype=np.float32))
        batch = {k: torch.from_numpy(np.asarray(f["batch"][k][()], dtype=np.int64))
                 for k in BATCH_KEYS}
    return cfg, params, batch


def check_batch(cfg, batch):
    B, T = batch["tokens"].shape
    for k in ("positions", "targets"):
        if tuple(batch[k].shape) != (B, T):
            raise ValueError(f"batch/{k}: shape {tuple(batch[k].shape)}, expected {(B, T)}")
    for k in ("prefix_len", "valid_len"):
        if tuple(batch[k].shape) != (B,):
            raise ValueError(f"batch/{k}: shape {tuple(batch[k].shape)}, expected {(B,)}")
    V = cfg["vocab_size"]
    if batch["tokens"].min() < 0 or batch["tokens"].max() >= V:
        raise ValueError("batch/tokens: token id out of [0, vocab_size)")
    if batch["targets"].max() >= V or batch["targets"].min() < -1:
        raise ValueError("batch/targets: target out of [-1, vocab_size)")


def run(input_path, output_path, float64=False):
    import h5py
    cfg, params, batch = read_input(input_path)
    if cfg["hidden_dropout"] != 0 or cfg["attention_dropout"] != 0:
        raise ValueError("reference run: hidden_dropout and attention_dropout must be 0")
    check_batch(cfg, batch)
    dtype = torch.float64 if float64 else torch.float32

    model = GLMReference(cfg, params, dtype).eval()
    logits, loss, num_targets = model(batch)
    loss.backward()

    with h5py.File(output_path, "w") as f:
        f.create_dataset("logits", data=logits.detach().to(torch.float32).numpy())
        f.create_dataset("loss", data=np.array([loss.item()], dtype=np.float32))
        f.create_dataset("num_targets", data=np.array([num_targets], dtype=np.int32))
        g = f.create_group("grads")
        for name, prm in model.param_dict().items():
            grad = prm.grad if prm.grad is not None else torch.zeros_like(prm)
            g.create_dataset(name, data=grad.to(torch.float32).numpy())
        f.attrs["reference_dtype"] = "float64" if float64 else "float32"
        f.attrs["torch_version"] = str(torch.__version__)


def main(argv=None):
    parser = argparse.ArgumentParser(description="GLM PyTorch reference (docs/design.md section 2)")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="forward + backward on INPUT.h5, write OUTPUT.h5")
    r.add_argument("input")
    r.add_argument("output")
    r.add_argument("--float64", action="store_true", help="compute in float64 (outputs fp32)")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run(args.input, args.output, args.float64)
    except (ValueError, KeyError, OSError) as e:
        print(f"glm_reference: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
