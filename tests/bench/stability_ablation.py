#!/usr/bin/python3
"""The LayerNorm-placement / embedding-gradient-shrink stability ablation (Debian python3,
python3-matplotlib): every `model.layernorm` placement, with EGS 0.1 and with EGS off, in
fp16 (dynamic loss scaling, as GLM-130B) and bf16, over several seeds, all on the same
data and the same deliberately aggressive setting. Each run is a real `glm-train`; its
final checkpoint is exported to fp16, INT8 and INT4 and evaluated with `glm-eval`.

  tests/bench/stability_ablation.py --data build/test_corpus --out ablation
  tests/bench/stability_ablation.py --data DIR --out DIR [--seeds 3] [--steps 300] [--jobs 2]

Counted per run (metrics.jsonl, one line per step):
  spikes     steps whose loss is above K x the median of the previous W steps' losses
             (K = --spike-factor, W = --spike-window), once the window is full
  non-finite steps whose loss itself is inf/NaN (the forward overflowed: fp16)
  skipped    steps the trainer skipped (fp16 overflow; the spike guard is off)
  diverged   a non-finite loss among the last 20 steps, or their mean above the first step's
  held-out   glm-eval loss of the fp16, INT8 and INT4 (per row) exports of the last step
  weights    the linear weights' mean row kurtosis (a narrow, light-tailed distribution is
             near 3; the paper ties INT4 robustness to narrow distributions)
Writes OUT/ablation.md (a per-run table and a summary averaged over seeds) and
OUT/ablation.png (every run's loss curve, one panel per precision and EGS; an x where a
run's loss first became non-finite), and
prints the summary. GLM_BUILD_DIR (default build) locates the programs.
"""
import argparse
import concurrent.futures
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

PLACEMENTS = ("deepnorm", "post_ln", "pre_ln", "sandwich")
EGS = (0.1, 1.0)  # 1.0: the gradient through the input lookup is not shrunk (EGS off)
PRECISIONS = ("fp16", "bf16")
DIVERGENCE_TAIL = 20  # steps at the end of a run that judge divergence


def run_one(args, placement, egs, precision, seed):
    """Trains one configuration; returns its record (or the failure)."""
    name = f"{placement}_egs{egs:g}_{precision}_s{seed}"
    out = os.path.join(args.out, "runs", name)
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: no old metrics or checkpoints
    os.makedirs(out)
    sets = [f"model.layernorm={placement}", f"model.embedding_grad_shrink={egs}",
            f"train.seed={seed}"] + args.set
    cmd = [os.path.join(args.bin, "glm-train"), "--config", args.config, "--data", args.data,
           "--precision", precision, "--train-iters", str(args.steps),
           "--log-dir", os.path.join(out, "log"), "--save", os.path.join(out, "ckpt")]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    t0 = time.time()
    with open(os.path.join(out, "train.out"), "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    rec = {"name": name, "placement": placement, "egs": egs, "precision": precision,
           "seed": seed, "rc": rc, "seconds": time.time() - t0}
    steps = []
    metrics = os.path.join(out, "log", "metrics.jsonl")
    if os.path.exists(metrics):
        with open(metrics) as f:
            for line in f:
                j = json.loads(line)
                if "loss" in j and "step" in j and "event" not in j:
                    steps.append(j)
    # a non-finite loss is written as null
    rec["loss"] = [float("nan") if j["loss"] is None else float(j["loss"]) for j in steps]
    rec["skipped"] = int(steps[-1].get("skipped", 0)) if steps else 0  # a running count
    rec.update(count_spikes(rec["loss"], args.spike_factor, args.spike_window))
    if rc == 0:
        rec.update(evaluate(args, out))
    with open(os.path.join(out, "record.json"), "w") as f:
        json.dump(rec, f)
    return rec


def count_spikes(losses, factor, window):
    spikes = 0
    for i in range(window, len(losses)):
        prev = [x for x in losses[i - window:i] if math.isfinite(x)]
        if prev and math.isfinite(losses[i]) and losses[i] > factor * statistics.median(prev):
            spikes += 1
    nonfinite = sum(not math.isfinite(x) for x in losses)
    tail = losses[-DIVERGENCE_TAIL:] if losses else []
    # Diverged: the run ends with a non-finite loss in its last window, or above where it began.
    diverged = (not tail or not all(math.isfinite(x) for x in tail) or
                statistics.fmean(tail) > losses[0])
    return {"spikes": spikes, "nonfinite": nonfinite, "diverged": diverged}


def evaluate(args, out):
    """Exports the last checkpoint to fp16, INT8 and INT4 and evaluates each."""
    res = {}
    for label, bits in (("fp16", 16), ("int8", 8), ("int4", 4)):
        model = os.path.join(out, f"model_{label}.h5")
        export = subprocess.run([os.path.join(args.bin, "glm-export"), "--load",
                                 os.path.join(out, "ckpt"), "--bits", str(bits), "--out", model],
                                capture_output=True, text=True)
        if export.returncode != 0:
            res[f"eval_{label}"] = float("nan")
            continue
        ev = subprocess.run([os.path.join(args.bin, "glm-eval"), "--model", model, "--data",
                             os.path.join(args.data, "valid.h5"), "--max-samples",
                             str(args.eval_samples), "--json"], capture_output=True, text=True)
        res[f"eval_{label}"] = json.loads(ev.stdout)["loss"] if ev.returncode == 0 else float("nan")
        if label == "fp16":
            res["kurtosis"] = weight_kurtosis(model)
        os.remove(model)
    return res


def weight_kurtosis(model_path):
    """Mean over the linear weights' rows of E[(w - mean)^4] / var^2, from an fp16 export."""
    import h5py  # Debian python3-h5py
    import numpy as np
    values = []
    with h5py.File(model_path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.endswith(".weight") and obj.ndim == 2 \
                    and "embedding" not in name:
                w = obj[()].astype(np.float64)
                c = w - w.mean(axis=1, keepdims=True)
                var = (c ** 2).mean(axis=1)
                values.append(float(np.mean((c ** 4).mean(axis=1) / np.maximum(var, 1e-30) ** 2)))
        f.visititems(visit)
    return statistics.fmean(values) if values else float("nan")


def fmt(x, spec=".4f"):
    return "nan" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def summarize(records):
    groups = {}
    for r in records:
        groups.setdefault((r["precision"], r["egs"], r["placement"]), []).append(r)
    rows = []
    for (precision, egs, placement), rs in sorted(groups.items(), key=lambda kv: (
            kv[0][0], -kv[0][1], PLACEMENTS.index(kv[0][2]))):
        def mean(key):
            v = [r[key] for r in rs if key in r and math.isfinite(r[key])]
            return statistics.fmean(v) if v else float("nan")
        f16 = mean("eval_fp16")
        rows.append({
            "precision": precision, "egs": "0.1" if egs < 1 else "off", "placement": placement,
            "runs": len(rs), "diverged": sum(r["diverged"] for r in rs),
            "spikes": sum(r["spikes"] for r in rs), "skipped": sum(r["skipped"] for r in rs),
            "nonfinite": sum(r["nonfinite"] for r in rs),
            "eval_fp16": f16, "int8": mean("eval_int8") - f16, "int4": mean("eval_int4") - f16,
            "kurtosis": mean("kurtosis")})
    return rows


def write_report(args, records, rows):
    lines = ["| precision | EGS | placement | runs | diverged | spikes | non-finite losses | "
             "skipped steps | held-out loss (fp16 export) | INT8 change | INT4 change | "
             "weight kurtosis |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['precision']} | {r['egs']} | {r['placement']} | {r['runs']} | "
                     f"{r['diverged']} | {r['spikes']} | {r['nonfinite']} | {r['skipped']} | "
                     f"{fmt(r['eval_fp16'])} | "
                     f"{fmt(r['int8'], '+.4f')} | {fmt(r['int4'], '+.4f')} | "
                     f"{fmt(r['kurtosis'], '.2f')} |")
    summary = "\n".join(lines)
    per_run = ["| run | exit | steps | spikes | skipped | diverged | held-out fp16 / INT8 / INT4 "
               "| seconds |", "|---|---|---|---|---|---|---|---|"]
    for r in records:
        per_run.append(f"| {r['name']} | {r['rc']} | {len(r['loss'])} | {r['spikes']} | "
                       f"{r['skipped']} | {r['diverged']} | {fmt(r.get('eval_fp16'))} / "
                       f"{fmt(r.get('eval_int8'))} / {fmt(r.get('eval_int4'))} | "
                       f"{r['seconds']:.0f} |")
    with open(os.path.join(args.out, "ablation.md"), "w") as f:
        f.write(f"Command: {' '.join(sys.argv)}\n\n"
                f"Spikes: loss above {args.spike_factor} x the median of the previous "
                f"{args.spike_window} steps. Changes are held-out loss minus the fp16 "
                f"export's, mean over seeds.\n\n{summary}\n\n{chr(10).join(per_run)}\n")
    return summary


def plot(args, records):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(PRECISIONS), len(EGS), figsize=(12, 8), sharex=True,
                             squeeze=False)
    for i, precision in enumerate(PRECISIONS):
        for j, egs in enumerate(EGS):
            ax = axes[i][j]
            for colour, placement in enumerate(PLACEMENTS):
                curves = [r["loss"] for r in records if r["precision"] == precision and
                          r["egs"] == egs and r["placement"] == placement and r["loss"]]
                # every seed's own curve: a run that stops being finite ends its line
                for k, c in enumerate(curves):
                    ax.plot(range(1, len(c) + 1), c, color=f"C{colour}", linewidth=0.7,
                            alpha=0.7, label=placement if k == 0 else None)
                    # x: the step where the loss first stopped being finite
                    bad = next((i for i, x in enumerate(c) if not math.isfinite(x)), None)
                    if bad:
                        ax.plot(bad, c[bad - 1], marker="x", markersize=9, color=f"C{colour}")
            ax.set_title(f"{precision}, EGS {'0.1' if egs < 1 else 'off'}")
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel("training loss (each seed)")
            ax.legend()
    fig.tight_layout()
    path = os.path.join(args.out, "ablation.png")
    fig.savefig(path, dpi=100)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a prepared dataset (train.h5, valid.h5, tokenizer)")
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "configs", "ablation.json"))
    p.add_argument("--steps", type=int, default=0, help="0: the config's train_iters")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2, help="runs at once")
    p.add_argument("--threads", type=int, default=1, help="OpenMP threads per run")
    p.add_argument("--eval-samples", type=int, default=64)
    p.add_argument("--spike-factor", type=float, default=1.5)
    p.add_argument("--spike-window", type=int, default=5)
    p.add_argument("--set", action="append", default=[], help="section.key=value for every run")
    p.add_argument("--placements", default=",".join(PLACEMENTS))
    p.add_argument("--report-only", action="store_true",
                   help="no training: the table and figure from OUT/runs/*/record.json")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 unless every run trained, exported and evaluated (the smoke test)")
    args = p.parse_args()
    args.bin = os.path.join(os.environ.get("GLM_BUILD_DIR", "build"), "bin")
    for prog in ("glm-train", "glm-export", "glm-eval"):
        if not os.access(os.path.join(args.bin, prog), os.X_OK):
            sys.exit(f"stability_ablation: {os.path.join(args.bin, prog)} is missing (build first)")
    if not os.path.exists(os.path.join(args.data, "valid.h5")):
        sys.exit(f"stability_ablation: {args.data} has no valid.h5 (a prepared dataset)")
    if args.steps <= 0:
        with open(args.config) as f:
            args.steps = json.load(f)["train"]["train_iters"]
    placements = args.placements.split(",")
    for pl in placements:
        if pl not in PLACEMENTS:
            sys.exit(f"stability_ablation: --placements: '{pl}' is not one of {PLACEMENTS}")
    os.makedirs(args.out, exist_ok=True)
    if args.report_only:  # the tables and the figure again, from the runs' record.json
        records = []
        for name in sorted(os.listdir(os.path.join(args.out, "runs"))):
            with open(os.path.join(args.out, "runs", name, "record.json")) as f:
                rec = json.load(f)
            rec.update(count_spikes(rec["loss"], args.spike_factor, args.spike_window))
            records.append(rec)
        print(write_report(args, records, summarize(records)))
        print(f"wrote {os.path.join(args.out, 'ablation.md')} and {plot(args, records)}")
        return
    jobs = [(pl, egs, prec, 1000 + s) for prec in PRECISIONS for egs in EGS
            for pl in placements for s in range(args.seeds)]
    t0 = time.time()
    records = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for rec in pool.map(lambda j: run_one(args, *j), jobs):
            records.append(rec)
            print(f"[{time.time() - t0:6.0f}s] {rec['name']}: exit {rec['rc']}, spikes "
                  f"{rec['spikes']}, skipped {rec['skipped']}, diverged {rec['diverged']}, "
                  f"held-out {fmt(rec.get('eval_fp16'))}", flush=True)
    summary = write_report(args, records, summarize(records))
    print(summary)
    print(f"wrote {os.path.join(args.out, 'ablation.md')} and {plot(args, records)} "
          f"in {time.time() - t0:.0f} s")
    if args.strict:
        bad = [r["name"] for r in records if r["rc"] != 0 or len(r["loss"]) != args.steps or
               not all(math.isfinite(r.get(k, float("nan")))
                       for k in ("eval_fp16", "eval_int8", "eval_int4", "kurtosis"))]
        if bad:
            sys.exit(f"stability_ablation: incomplete runs: {', '.join(bad)} (see {args.out}/runs)")


if __name__ == "__main__":
    main()
