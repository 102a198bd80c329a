#!/usr/bin/env python3
"""launch/plot.py on two runs' metrics.jsonl (written here, with a resumed step repeated and a
line cut by a kill): three PNG files, each a real PNG of the size plot.py draws; a missing
run exits 2 naming it. Usage: plot_test.py SOURCE_DIR SCRATCH_DIR"""
import json
import os
import shutil
import struct
import subprocess
import sys


def write_run(d, loss0, seq_length=128):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        f.write(json.dumps({"event": "start", "config": {"model": {"seq_length": seq_length}}}) + "\n")
        f.write(json.dumps({"step": 0, "eval_loss": loss0 + 1, "eval_ppl": 1.0, "eval_tokens": 9}) + "\n")
        for step in list(range(10, 110, 10)) + [100]:  # step 100 twice: a resume repeats it
            f.write(json.dumps({"step": step, "consumed_samples": 8 * step, "loss": loss0 - step / 50,
                                "lr": 1e-3, "grad_norm": 0.5, "loss_scale": 65536.0,
                                "skipped": step // 40, "tokens_per_s": 1e4, "step_ms": 90,
                                "tflops": 0.1, "mfu": 0.5, "memory_gb": 0.1,
                                "global_batch": 8}) + "\n")
        f.write(json.dumps({"step": 100, "eval_loss": loss0 - 1.5, "eval_ppl": 2.0,
                            "eval_tokens": 9}) + "\n")
        f.write('{"step": 110, "loss": 5.')  # cut by a kill


def main():
    source, scratch = sys.argv[1:3]
    shutil.rmtree(scratch, ignore_errors=True)
    a, b, out = (os.path.join(scratch, x) for x in ("a", "b", "plots"))
    write_run(a, 8.0)
    write_run(b, 7.5)
    plot = os.path.join(source, "launch", "plot.py")
    r = subprocess.run([sys.executable, plot, a, b, "--out", out, "--label", "A", "--label", "B"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.split()
    for name in ("loss.png", "optimizer.png", "throughput.png"):
        path = os.path.join(out, name)
        assert path in printed, f"{path} not printed: {r.stdout}"
        data = open(path, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 1000 and height >= 400, f"{path}: {width}x{height}"
    r = subprocess.run([sys.executable, plot, os.path.join(scratch, "missing")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "missing/metrics.jsonl" in r.stderr, (r.returncode, r.stderr)
    print("ok")


if __name__ == "__main__":
    main()
