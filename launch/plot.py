#!/usr/bin/python3
"""Plots of glm-train runs from their metrics.jsonl (Debian python3-matplotlib).

  launch/plot.py RUN... [--out DIR] [--label NAME]...
  launch/plot.py logs/quickstart                       # -> logs/quickstart/plots/*.png
  launch/plot.py logs/a logs/b --out plots --label fp32 --label fp16

RUN is a log directory (holding metrics.jsonl) or a metrics.jsonl file. Several runs share
each figure, one colour per run, named in the legend (the directory name unless --label).
Writes three PNGs into --out (default: RUN/plots for one run, ./plots for several):
  loss.png        training and held-out loss against step and against tokens seen
  optimizer.png   learning rate, gradient norm, loss scale, skipped steps
  throughput.png  tokens/s and MFU
and prints their paths. Exit 2 when a run is missing or has no metrics to plot.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402


def fail(message):
    print(f"plot: {message}", file=sys.stderr)
    sys.exit(2)


class Run:
    """One run's step and eval records, by step (a resumed run's repeat of a step wins)."""

    def __init__(self, path, label):
        self.path = path if path.endswith(".jsonl") else os.path.join(path, "metrics.jsonl")
        if not os.path.isfile(self.path):
            fail(f"{self.path}: no such file (a glm-train --log-dir holds one)")
        self.label = label or os.path.basename(os.path.dirname(os.path.abspath(self.path)))
        steps, evals, self.seq_length = {}, {}, None
        with open(self.path) as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill is the only kind that fails
                if rec.get("event") == "start":
                    self.seq_length = rec.get("config", {}).get("model", {}).get("seq_length")
                elif "loss" in rec and "step" in rec:
                    steps[rec["step"]] = rec
                elif "eval_loss" in rec:
                    evals[rec["step"]] = rec
        if not steps and not evals:
            fail(f"{self.path}: no step or eval records")
        self.steps = [steps[s] for s in sorted(steps)]
        self.evals = [evals[s] for s in sorted(evals)]

    def col(self, key, records=None):
        records = self.steps if records is None else records
        return [r["step"] for r in records if key in r], [r[key] for r in records if key in r]

    def tokens_at(self, step):
        """Tokens seen by `step`: consumed samples x sequence length."""
        if self.seq_length is None:
            return None
        done = [r for r in self.steps if r["step"] <= step]
        return done[-1]["consumed_samples"] * self.seq_length if done else 0


def loss_figure(runs, out):
    fig, (by_step, by_tokens) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, run in enumerate(runs):
        c = f"C{i}"
        s, loss = run.col("loss")
        es, eloss = run.col("eval_loss", run.evals)
        by_step.plot(s, loss, color=c, alpha=0.8, label=f"{run.label} train")
        by_step.plot(es, eloss, color=c, marker="o", linestyle="--", label=f"{run.label} held-out")
        if run.seq_length:
            by_tokens.plot([run.tokens_at(x) / 1e6 for x in s], loss, color=c, alpha=0.8,
                           label=f"{run.label} train")
            by_tokens.plot([run.tokens_at(x) / 1e6 for x in es], eloss, color=c, marker="o",
                           linestyle="--", label=f"{run.label} held-out")
    by_step.set(xlabel="step", ylabel="loss (nats per target token)", title="loss vs step")
    by_tokens.set(xlabel="tokens seen (millions)", ylabel="loss (nats per target token)",
                  title="loss vs tokens")
    for ax in (by_step, by_tokens):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, out, "loss.png")


def optimizer_figure(runs, out):
    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    panels = [("lr", "learning rate", "linear"), ("grad_norm", "gradient norm (before clipping)", "log"),
              ("loss_scale", "loss scale", "log"), ("skipped", "skipped steps (total)", "linear")]
    for ax, (key, title, scale) in zip(axes.flat, panels):
        for i, run in enumerate(runs):
            s, v = run.col(key)
            ax.plot(s, v, color=f"C{i}", label=run.label)
        ax.set(xlabel="step", title=title, yscale=scale)
        if key == "skipped":
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            top = max([max(run.col(key)[1], default=0) for run in runs], default=0)
            ax.set_ylim(0, max(1, 1.1 * top))  # whole steps, even when none was skipped
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, out, "optimizer.png")


def throughput_figure(runs, out):
    fig, (tps, mfu) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, run in enumerate(runs):
        s, v = run.col("tokens_per_s")
        tps.plot(s, v, color=f"C{i}", label=run.label)
        s, v = run.col("mfu")
        mfu.plot(s, [100 * x for x in v], color=f"C{i}", label=run.label)
    tps.set(xlabel="step", ylabel="tokens / s (all ranks)", title="throughput")
    mfu.set(xlabel="step", ylabel="MFU (% of peak)", title="model FLOPs utilisation")
    for ax in (tps, mfu):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_ylim(bottom=0)
    return save(fig, out, "throughput.png")


def save(fig, out, name):
    fig.tight_layout()
    path = os.path.join(out, name)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)  # a viewer never sees a half-written picture
    plt.close(fig)
    return path


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="log directories or metrics.jsonl files")
    p.add_argument("--out", help="output directory (default: RUN/plots, or ./plots for several)")
    p.add_argument("--label", action="append", default=[], help="legend name per run, in order")
    a = p.parse_args(argv)
    if a.label and len(a.label) != len(a.runs):
        p.error(f"--label given {len(a.label)} times for {len(a.runs)} runs")
    labels = a.label or [None] * len(a.runs)
    runs = [Run(r, l) for r, l in zip(a.runs, labels)]
    out = a.out or (os.path.join(os.path.dirname(runs[0].path), "plots") if len(runs) == 1
                    else "plots")
    os.makedirs(out, exist_ok=True)
    for path in (loss_figure(runs, out), optimizer_figure(runs, out), throughput_figure(runs, out)):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
