#!/usr/bin/python3
"""Self-test of the PyTorch reference (glm_reference.py): proves the reference itself before
the C++ golden test trusts it. Run with Debian's python:

    /usr/bin/python3 tests/reference/selftest_reference.py

Checks, on a small random model (N=3, h=32, a=4, V=50, T=12, f=64, B=3):
  1. the CLI writes exactly the documented OUTPUT.h5 layout (names, shapes, dtypes);
  2. the forward (logits, loss) equals a naive loop-by-loop NumPy float64 implementation
     written straight from docs/design.md section 2 (per head, per query, per key);
  3. the GLM mask: nothing attends to padding, prefix is bidirectional, the rest causal
     (perturbation checks on the model output);
  4. every gradient equals float64 central finite differences along random directions,
     with the embedding split into its lookup path (shrunk by alpha_e) and its tied head path;
  5. the fp32 run agrees with the float64 run;
  6. bench_torch.py runs (tiny config, dropout on, AdamW) and prints one JSON line.
Prints "N passed, M failed" and exits 1 on any failure.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import glm_reference as ref  # noqa: E402

PYTHON = "/usr/bin/python3"

CONFIG = {
    "vocab_size": 50, "hidden_size": 32, "num_layers": 3, "num_heads": 4,
    "ffn_hidden_size": 64, "seq_length": 12, "layernorm_epsilon": 1e-5,
    "hidden_dropout": 0.0, "attention_dropout": 0.0, "embedding_grad_shrink": 0.1,
    "init_std": 0.02, "rope_base": 10000.0,
    "unknown_extra_key": "ignored",  # the reference must ignore unknown keys
}

# Tolerances.
# Float64 forward vs the naive float64 NumPy forward; outputs are stored as fp32, so the
# difference is fp32 rounding (6e-8 relative); observed 3e-8 of the largest logit.
# (Exact-erf GELU instead of the tanh approximation moves the logits by ~7e-5.)
FORWARD_RTOL = 1e-6
# Central differences in float64 with step 1e-5: truncation O(step^2) ~ 1e-10 and
# round-off ~1e-16/1e-5 relative; the analytic gradient is read back rounded to fp32
# (~6e-8 relative per element). Scale: |grad| * |u| (Cauchy-Schwarz bound of <grad, u>);
# observed worst 1.2e-8.
FD_STEP = 1e-5
FD_RTOL = 1e-6
# fp32 vs float64 run of the same inputs, relative to each tensor's largest entry: a few
# hundred fp32 ops deep; observed 2e-7 (logits) and 8e-7 (worst gradient); 1e-5 leaves
# a 10x margin.
FP32_RTOL = 1e-5


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}")


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------

def random_params(cfg, seed):
    """Random parameters of a useful size (not the init: biases and LN parameters nonzero so
    that their gradients are exercised)."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in ref.param_specs(cfg):
        if name == "embedding.weight":
            t = 0.5 * torch.randn(shape, generator=g)
        elif len(shape) == 2:
            t = torch.randn(shape, generator=g) / math.sqrt(shape[1])
        elif name.endswith("layernorm.weight"):
            t = 1.0 + 0.2 * torch.randn(shape, generator=g)
        else:
            t = 0.2 * torch.randn(shape, generator=g)
        params[name] = t.float()
    return params


def make_batch(cfg, seed):
    """Three samples: a [gMASK]-like one (positions 0..T-1), a padded [MASK]-like one (part-B
    tokens take their [MASK]'s position), and one with a one-token prefix."""
    rng = np.random.default_rng(seed)
    B, T, V = 3, cfg["seq_length"], cfg["vocab_size"]
    tokens = rng.integers(0, V, size=(B, T))
    positions = np.tile(np.arange(T), (B, 1))
    positions[1] = [0, 1, 2, 3, 4, 5, 2, 2, 4, 0, 0, 0]  # part B at [MASK] positions 2 and 4
    prefix_len = np.array([4, 6, 1])
    valid_len = np.array([12, 9, 12])
    targets = rng.integers(0, V, size=(B, T))
    for b in range(B):
        targets[b, :prefix_len[b]] = -1  # no loss in the context
        targets[b, valid_len[b]:] = -1  # nor on padding
    targets[2, 7] = -1  # and a hole
    i32 = lambda x: np.asarray(x, dtype=np.int32)
    return {"tokens": i32(tokens), "positions": i32(positions), "prefix_len": i32(prefix_len),
            "valid_len": i32(valid_len), "targets": i32(targets)}


def write_input(path, cfg, params, batch):
    with h5py.File(path, "w") as f:
        f.attrs["config"] = json.dumps(cfg)
        g = f.create_group("params")
        for name, t in params.items():
            g.create_dataset(name, data=t.numpy().astype(np.float32))
        g = f.create_group("batch")
        for k, v in batch.items():
            g.create_dataset(k, data=v)


def read_output(path):
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in ("logits", "loss", "num_targets")}
        out["dtypes"] = {k: f[k].dtype for k in ("logits", "loss", "num_targets")}
        out["grads"] = {k: f["grads"][k][()] for k in f["grads"].keys()}
        out["grad_dtypes"] = {k: f["grads"][k].dtype for k in f["grads"].keys()}
    return out


def torch_batch(batch):
    return {k: torch.from_numpy(v.astype(np.int64)) for k, v in batch.items()}


# ----------------------------------------------------------------------------------------
# Naive NumPy float64 forward, straight from docs/design.md section 2
# ----------------------------------------------------------------------------------------

def naive_forward(cfg, params, batch):
    P = {k: v.numpy().astype(np.float64) for k, v in params.items()}
    V, h, N = cfg["vocab_size"], cfg["hidden_size"], cfg["num_layers"]
    a, f = cfg["num_heads"], cfg["ffn_hidden_size"]
    d = h // a
    eps = cfg["layernorm_epsilon"]
    alpha = math.sqrt(2 * N)
    tokens, positions = batch["tokens"], batch["positions"]
    B, T = tokens.shape

    def ln(x, w, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b

    def rot(vec, pos):
        out = np.empty_like(vec)
        for i in range(d // 2):
            th = pos * cfg["rope_base"] ** (-2.0 * i / d)
            x1, x2 = vec[i], vec[i + d // 2]
            out[i] = x1 * math.cos(th) - x2 * math.sin(th)
            out[i + d // 2] = x2 * math.cos(th) + x1 * math.sin(th)
        return out

    def gelu(z):
        return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))

    x = P["embedding.weight"][tokens]  # [B,T,h]
    for l in range(N):
        p = f"layers.{l}."
        c = l + 1
        A = ln(x, P[p + "input_layernorm.weight"], P[p + "input_layernorm.bias"])
        qkv = A @ P[p + "attention.query_key_value.weight"].T + P[p + "attention.query_key_value.bias"]
        ctx = np.zeros((B, T, h))
        for b in range(B):
            Pb, Lb = batch["prefix_len"][b], batch["valid_len"][b]
            for hd in range(a):
                base = hd * 3 * d
                q = [rot(qkv[b, t, base:base + d], positions[b, t]) / (math.sqrt(d) * c)
                     for t in range(T)]
                k = [rot(qkv[b, t, base + d:base + 2 * d], positions[b, t]) for t in range(T)]
                v = [qkv[b, t, base + 2 * d:base + 3 * d] for t in range(T)]
                for i in range(T):
                    keys = [j for j in range(T) if j < Lb and (j < Pb or j <= i)]
                    s = np.array([np.dot(q[i], k[j]) * c for j in keys])
                    w = np.exp(s - s.max())
                    w /= w.sum()
                    ctx[b, i, hd * d:(hd + 1) * d] = sum(wj * v[j] for wj, j in zip(w, keys))
        attn = ctx @ P[p + "attention.dense.weight"].T + P[p + "attention.dense.bias"]
        H = alpha * A + attn
        M = ln(H, P[p + "post_attention_layernorm.weight"], P[p + "post_attention_layernorm.bias"])
        u = M @ P[p + "mlp.dense_h_to_4h.weight"].T + P[p + "mlp.dense_h_to_4h.bias"]
        g = u[..., :f] * gelu(u[..., f:])
        x = alpha * M + g @ P[p + "mlp.dense_4h_to_h.weight"].T + P[p + "mlp.dense_4h_to_h.bias"]
    y = ln(x, P["final_layernorm.weight"], P["final_layernorm.bias"])
    logits = y @ P["embedding.weight"].T
    total, n = 0.0, 0
    for b in range(B):
        for t in range(T):
            tgt = batch["targets"][b, t]
            if tgt >= 0:
                row = logits[b, t]
                total += row.max() + math.log(np.exp(row - row.max()).sum()) - row[tgt]
                n += 1
    return logits, total / n, n


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


# ----------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------

def check_layout(res, cfg, out, batch):
    B, T = batch["tokens"].shape
    V = cfg["vocab_size"]
    res.check(out["logits"].shape == (B, T, V), f"logits shape {out['logits'].shape}")
    res.check(out["loss"].shape == (1,), "loss shape [1]")
    res.check(out["num_targets"].shape == (1,), "num_targets shape [1]")
    res.check(out["dtypes"]["logits"] == np.float32 and out["dtypes"]["loss"] == np.float32,
              "logits/loss are fp32")
    res.check(out["dtypes"]["num_targets"] == np.int32, "num_targets is int32")
    specs = dict(ref.param_specs(cfg))
    res.check(set(out["grads"]) == set(specs), "grads names == params names")
    res.check(all(out["grads"][k].shape == tuple(s) and out["grad_dtypes"][k] == np.float32
                  for k, s in specs.items() if k in out["grads"]), "grads shapes/dtypes")


def check_forward(res, cfg, params, batch, out64):
    logits, loss, n = naive_forward(cfg, params, batch)
    e = rel_err(out64["logits"], logits)
    res.check(e < FORWARD_RTOL, f"logits vs naive forward: rel err {e:.2e}")
    res.check(abs(out64["loss"][0] - loss) < FORWARD_RTOL * abs(loss),
              f"loss {out64['loss'][0]} vs naive {loss}")
    res.check(int(out64["num_targets"][0]) == n, f"num_targets {out64['num_targets'][0]} vs {n}")


def check_mask_behaviour(res, cfg, params, batch):
    """Change one token and see which logits move (float64, in-process)."""
    p = {k: v.double() for k, v in params.items()}
    base_b = torch_batch(batch)
    with torch.no_grad():
        base = ref.glm_forward(p, base_b, cfg)[0]

    def moved(b, j):
        tb = {k: v.clone() for k, v in base_b.items()}
        tb["tokens"][b, j] = (tb["tokens"][b, j] + 1) % cfg["vocab_size"]
        with torch.no_grad():
            new = ref.glm_forward(p, tb, cfg)[0]
        return [(new[b, i] - base[b, i]).abs().max().item() > 1e-9 for i in range(new.shape[1])]

    T = batch["tokens"].shape[1]
    P1, L1 = int(batch["prefix_len"][1]), int(batch["valid_len"][1])
    # A padding token (j >= L) influences only its own position.
    m = moved(1, L1)
    res.check(m == [i == L1 for i in range(T)], f"padding key attended: {m}")
    # A prefix token influences every position.
    m = moved(1, P1 - 1)
    res.check(all(m), f"prefix token not seen everywhere: {m}")
    # A token at j >= P influences exactly positions i >= j (causal part), and padding
    # queries i >= L (they attend to every valid key j <= i).
    j = P1 + 1
    m = moved(1, j)
    res.check(m == [i >= j for i in range(T)], f"causal part wrong: {m}")


def split_embedding_loss(cfg, p, batch, E_in, E_head):
    """Loss with the lookup and the tied head using separate embedding tensors."""
    q = dict(p)
    q["embedding.weight"] = E_in
    y = ref.hidden_states(q, batch, cfg)
    return ref.glm_loss(ref.lm_head(y, E_head), batch["targets"])[0]


def check_finite_differences(res, cfg, params, batch, out64):
    p = {k: v.double() for k, v in params.items()}
    tb = torch_batch(batch)
    gen = torch.Generator().manual_seed(1234)
    worst = [0.0]

    def loss_at(q):
        with torch.no_grad():
            return ref.glm_forward(q, tb, cfg)[1].item()

    for name, t in p.items():
        grad = torch.from_numpy(out64["grads"][name]).double()
        u = torch.randn(t.shape, generator=gen, dtype=torch.float64)
        analytic = float((grad * u).sum())
        scale = float(grad.norm() * u.norm())
        if name == "embedding.weight":
            # d/dE through the lookup (shrunk by alpha_e) and through the head (not shrunk).
            with torch.no_grad():
                fd_in = (split_embedding_loss(cfg, p, tb, t + FD_STEP * u, t)
                         - split_embedding_loss(cfg, p, tb, t - FD_STEP * u, t)).item() / (2 * FD_STEP)
                fd_head = (split_embedding_loss(cfg, p, tb, t, t + FD_STEP * u)
                           - split_embedding_loss(cfg, p, tb, t, t - FD_STEP * u)).item() / (2 * FD_STEP)
            fd = cfg["embedding_grad_shrink"] * fd_in + fd_head
            res.check(abs(fd_in) > 1e-3 * scale, "embedding lookup path has a gradient")
        else:
            qp, qm = dict(p), dict(p)
            qp[name] = t + FD_STEP * u
            qm[name] = t - FD_STEP * u
            fd = (loss_at(qp) - loss_at(qm)) / (2 * FD_STEP)
        ok = abs(fd - analytic) <= FD_RTOL * scale and scale > 0
        worst[0] = max(worst[0], abs(fd - analytic) / max(scale, 1e-300))
        res.check(ok, f"grad {name}: analytic {analytic:.9g} vs finite difference {fd:.9g} "
                      f"(scale {scale:.3g})")
    print(f"finite differences: worst |fd - analytic| / (|grad| |u|) = {worst[0]:.2e}")


def check_fp32_vs_fp64(res, out32, out64):
    res.check(rel_err(out32["logits"], out64["logits"]) < FP32_RTOL, "fp32 logits vs float64")
    res.check(abs(out32["loss"][0] - out64["loss"][0]) < FP32_RTOL * abs(out64["loss"][0]),
              "fp32 loss vs float64")
    bad = [k for k in out64["grads"]
           if rel_err(out32["grads"][k], out64["grads"][k]) >= FP32_RTOL]
    res.check(not bad, f"fp32 grads vs float64: {bad}")


def check_bench(res, tmp):
    cfg = dict(CONFIG, hidden_dropout=0.1, attention_dropout=0.1, ffn_hidden_size=0)
    path = os.path.join(tmp, "bench.json")
    with open(path, "w") as f:
        json.dump({"model": cfg}, f)
    cmd = [PYTHON, os.path.join(HERE, "bench_torch.py"), "--config", path, "--micro-batch", "2",
           "--threads", "1", "--steps", "2", "--warmup", "1", "--optimizer", "adamw"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    ok = p.returncode == 0 and len(lines) == 1
    if ok:
        r = json.loads(lines[0])
        ok = r["tokens_per_s_median"] > 0 and len(r["step_ms"]) == 2
    res.check(ok, f"bench_torch.py smoke run: rc {p.returncode} {p.stdout} {p.stderr}")


def main():
    torch.manual_seed(0)
    res = Results()
    cfg = ref.resolve_config(CONFIG)
    params = random_params(cfg, seed=7)
    batch = make_batch(cfg, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "input.h5")
        write_input(inp, CONFIG, params, batch)
        outs = {}
        for flag in ("", "--float64"):
            out = os.path.join(tmp, f"out{flag}.h5")
            cmd = [PYTHON, os.path.join(HERE, "glm_reference.py"), "run", inp, out]
            p = subprocess.run(cmd + ([flag] if flag else []), capture_output=True, text=True)
            res.check(p.returncode == 0, f"run {flag}: rc {p.returncode}: {p.stderr}")
            if p.returncode != 0:
                print(f"{res.passed} passed, {res.failed} failed")
                return 1
            outs[flag] = read_output(out)
        out32, out64 = outs[""], outs["--float64"]

        check_layout(res, cfg, out32, batch)
        check_forward(res, cfg, params, batch, out64)
        check_mask_behaviour(res, cfg, params, batch)
        check_finite_differences(res, cfg, params, batch, out64)
        check_fp32_vs_fp64(res, out32, out64)

        # The CLI refuses dropout (the test path is deterministic) with exit code 2.
        bad = os.path.join(tmp, "bad.h5")
        write_input(bad, dict(CONFIG, hidden_dropout=0.1), params, batch)
        p = subprocess.run([PYTHON, os.path.join(HERE, "glm_reference.py"), "run", bad,
                            os.path.join(tmp, "x.h5")], capture_output=True, text=True)
        res.check(p.returncode == 2 and "dropout" in p.stderr, "nonzero dropout is refused")

        check_bench(res, tmp)

    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
