#!/usr/bin/env bash
# MFU is an honest fraction: two ranks of tiny train quiet, then beside a busy core, then in
# bf16 (whose GEMMs run at up to twice the fp32 rate where the CPU multiplies bf16), and no
# logged MFU may exceed 100% (nor be missing or non-positive). The FLOPs counted are the
# step's model FLOPs (the head only on target rows) and the peak is the per-CPU-second rate
# of the instruction the run's GEMMs use (src/train/device_peak.h), so neither a fast
# machine, a loaded one nor a 16-bit run breaks the bound.
#   tests/train/mfu_bound.sh BUILD_DIR CORPUS_DIR WORK_DIR
source "$(dirname "$0")/../real_job_script.sh" "$@"
check() {  # name: every logged step's MFU is in (0, 1]
  local log=$work/$1/log/metrics.jsonl
  python3 - "$log" "$1" <<'PY'
import json, math, sys
path, name = sys.argv[1], sys.argv[2]
mfus = [json.loads(l)["mfu"] for l in open(path) if '"mfu"' in l]
bad = [m for m in mfus if not (isinstance(m, (int, float)) and 0 < m <= 1)]
print(f"{name}: {len(mfus)} steps logged, MFU {min(mfus, default=0):.1%} to {max(mfus, default=0):.1%}")
sys.exit(1 if bad or len(mfus) < 10 else 0)
PY
}
run() {  # name [precision]: two ranks of tiny, 24 steps, every step logged
  timeout 300 launch/train.sh -n 2 --threads 1 -- --config configs/tiny.json --data "$corpus" \
    --train-iters 24 --set train.log_interval=1 --set train.eval_interval=0 \
    --precision "${2:-fp32}" --log-dir "$work/$1/log" > "$work/$1.out" 2>&1
}

if run quiet && check quiet; then :; else echo "FAIL [quiet]"; tail -5 "$work/quiet.out"; failures=$((failures + 1)); fi
grep -m1 -o "peak .* per rank (MFU is against it: .*); layout" "$work/quiet.out"

# a busy loop on one core, started before the job so that the start-up peak sees it too
( end=$((SECONDS + 240)); while ((SECONDS < end)); do :; done ) &
busy=$!
if run busy && check busy; then :; else echo "FAIL [busy]"; tail -5 "$work/busy.out"; failures=$((failures + 1)); fi
kill "$busy" 2>/dev/null; wait "$busy" 2>/dev/null

if run bf16 bf16 && check bf16; then :; else echo "FAIL [bf16]"; tail -5 "$work/bf16.out"; failures=$((failures + 1)); fi
grep -m1 -o "peak .* per rank (MFU is against it: .*); layout" "$work/bf16.out"

echo "mfu bound: $failures failed"
exit $(( failures > 0 ))
