#!/usr/bin/python3
"""PyTorch peer benchmark: times training steps of the reference GLM (glm_reference.py, the
model the golden test checks) so that glm-train is compared with an honest PyTorch run.

    python3 bench_torch.py --config CONFIG.json --micro-batch 8 --threads 2 --steps 10 \
        --warmup 3 [--optimizer none|adamw] [--precision fp32|fp16|bf16] [--device cpu|cuda]

CONFIG.json holds a "model" object (docs/design.md section 2 keys; ffn_hidden_size 0 = 8h/3 rounded
to a multiple of 64; nonzero dropouts are applied as in training). One step = zero_grad +
forward + loss + backward (+ AdamW step with --optimizer adamw), on random tokens with
positions 0..T-1, prefix_len T//4, valid_len T and a target at every position.
Prints one JSON line: tokens_per_s_median, step_ms_median, step_ms, threads, torch, ...

On a GPU (--device cuda, the peer of the GPU check): the same model moved to the device,
fp16 under torch.autocast (fp32 master weights, a fixed loss scale of 1024), timed with
torch.cuda.synchronize() around each step; peak memory in the JSON. --precision bf16 runs
under torch.autocast(bfloat16) on either device (oneDNN's bf16 matmul on a CPU that has it). The reference is eager
PyTorch with the unfused attention of the golden test (no FlashAttention), i.e. what a
plain PyTorch implementation of the same math achieves.

What makes it fast (the best PyTorch 1.13 eager can do on CPU): every matrix product is one
addmm or one bmm over all heads and the batch (in-place scale and mask on the scores),
native fused layer_norm, softmax, tanh-GELU and cross-entropy, gradients set to None rather
than zeroed, AdamW with foreach kernels. Its peak configuration (docs/design.md section 10) needs,
for that command alone:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp
and, on an AVX-512 CPU only, OPENBLAS_CORETYPE=SkylakeX (OpenBLAS's own detection misses some
of them; on a CPU without AVX-512 those kernels die with an illegal instruction).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glm_reference as ref  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch GLM training-step benchmark")
    p.add_argument("--config", required=True, help="JSON file with a \"model\" object")
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--optimizer", choices=("none", "adamw"), default="none")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                   help="fp16: autocast on CUDA; bf16: autocast(bfloat16) on the device")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args(argv)


def make_batch(cfg, B, gen):
    T, V = cfg["seq_length"], cfg["vocab_size"]
    return {
        "tokens": torch.randint(0, V, (B, T), generator=gen),
        "positions": torch.arange(T).expand(B, T).contiguous(),
        "prefix_len": torch.full((B,), T // 4, dtype=torch.int64),
        "valid_len": torch.full((B,), T, dtype=torch.int64),
        "targets": torch.randint(0, V, (B, T), generator=gen),
    }


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    with open(args.config) as f:
        cfg = ref.resolve_config(json.load(f)["model"])

    with torch.no_grad():
        model = ref.GLMReference(cfg, ref.init_params(cfg, args.seed))
    model.train()  # dropout as configured
    gen = torch.Generator().manual_seed(args.seed + 1)
    batch = make_batch(cfg, args.micro_batch, gen)
    cuda = args.device == "cuda"
    if args.precision == "fp16" and not cuda:
        print("bench_torch: --precision fp16 needs --device cuda", file=sys.stderr)
        return 2
    if cuda:
        model = model.to("cuda")
        batch = {k: v.to("cuda") for k, v in batch.items()}
        torch.set_default_device("cuda")  # the masks and angles the model builds per step
    opt = None
    if args.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=0.1, foreach=True)

    def step():
        model.zero_grad(set_to_none=True)
        if args.precision == "fp16":
            with torch.autocast("cuda", dtype=torch.float16):
                _, loss, _ = model(batch)
            (loss * 1024.0).backward()
        elif args.precision == "bf16":  # no loss scaling: bf16 has fp32's exponent range
            with torch.autocast(args.device, dtype=torch.bfloat16):
                _, loss, _ = model(batch)
            loss.backward()
        else:
            _, loss, _ = model(batch)
            loss.backward()
        if opt is not None:
            opt.step()
        if cuda:
            torch.cuda.synchronize()
        return loss

    for _ in range(args.warmup):
        step()
    step_ms = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        step_ms.append((time.perf_counter() - t0) * 1e3)
    if not torch.isfinite(loss):
        print("bench_torch: non-finite loss", file=sys.stderr)
        return 1

    med = statistics.median(step_ms)
    tokens = args.micro_batch * cfg["seq_length"]
    print(json.dumps({
        "tokens_per_s_median": tokens / (med / 1e3),
        "step_ms_median": med,
        "step_ms": [round(x, 3) for x in step_ms],
        "threads": args.threads,
        "torch": str(torch.__version__),
        "micro_batch": args.micro_batch,
        "seq_length": cfg["seq_length"],
        "optimizer": args.optimizer,
        "precision": args.precision,
        "device": args.device,
        "peak_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
        "ffn_hidden_size": cfg["ffn_hidden_size"],
        "loss": loss.item(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
