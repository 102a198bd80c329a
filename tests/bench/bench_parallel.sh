#!/usr/bin/env bash
# Parallel layouts on one machine (issue 5's benchmark): configs/small.json trained for a few
# steps on 2 ranks as dp2, tp2 and pp2 (1 OpenMP thread each), against 1 rank with 2
# threads, measured in the same run. Prints a markdown table: tokens/s (median over the
# steps after the first), the ratio to 1 rank, the share of step time spent inside
# communication (mean over ranks, all groups, waiting included), the analytic 1F1B bubble
# and the measured idle share (1 - forward/backward time / step time, mean over ranks).
#   tests/bench/bench_parallel.sh CORPUS_DIR [STEPS]     (GLM_BUILD_DIR, default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=${1:?usage: tests/bench/bench_parallel.sh CORPUS_DIR [STEPS]}
steps=${2:-4}
bin="${GLM_BUILD_DIR:-build}/bin/glm-train"
out=$(mktemp -d /tmp/glm_bench_parallel.XXXX)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common=(--config configs/small.json --data "$corpus" --train-iters "$steps" --comm-log
        --set model.vocab_size=32000 --set train.micro_batch_size=4
        --set batch.global_batch_size=16 --set batch.rampup_start=16 --set batch.rampup_increment=16
        --set train.log_interval=1 --set train.eval_interval=0 --set train.eval_iters=0)
run() {  # name ranks threads layout-flags...
  local name=$1 ranks=$2 threads=$3; shift 3
  mpirun -n "$ranks" --oversubscribe --bind-to none -x OMP_NUM_THREADS="$threads" \
    "$bin" "${common[@]}" --log-dir "$out/$name" "$@" > "$out/$name.out" 2>&1 \
    || { echo "bench_parallel: $name failed, see $out/$name.out" >&2; exit 1; }
}
run one 1 2
run dp2 2 1 --dp 2
run tp2 2 1 --tp 2
run pp2 2 1 --pp 2
python3 - "$out" <<'PY'
import json, statistics, sys, glob, os
out = sys.argv[1]
def lines(p): return [json.loads(l) for l in open(p)]
def tok_s(name):
    m = [j["tokens_per_s"] for j in lines(f"{out}/{name}/metrics.jsonl") if "tokens_per_s" in j]
    return statistics.median(m[1:] if len(m) > 1 else m)
def shares(name):
    comm, idle = [], []
    for f in sorted(glob.glob(f"{out}/{name}/comm_rank_*.jsonl")):
        L = lines(f)[1:] or lines(f)
        comm.append(statistics.mean(sum(j["comm_s"].values()) / j["step_s"] for j in L))
        idle.append(statistics.mean(1 - j["compute_s"] / j["step_s"] for j in L))
    return (statistics.mean(comm), statistics.mean(idle)) if comm else (0.0, 0.0)
base = tok_s("one")
print("| layout (small.json, 2 cores) | tokens/s | vs 1 rank x 2 threads | communication share | 1F1B bubble (analytic) | idle share (measured) |")
print("|---|---|---|---|---|---|")
print(f"| 1 rank x 2 threads | {base:.0f} | 1.00x | - | - | - |")
for name, bubble in (("dp2", "-"), ("tp2", "-"), ("pp2", f"{(2-1)/(4+2-1):.0%} (M=4)")):
    t = tok_s(name); c, i = shares(name)
    print(f"| {name} (2 ranks x 1 thread) | {t:.0f} | {t/base:.2f}x | {c:.0%} | {bubble} | {i:.0%} |")
PY
rm -rf "$out"
