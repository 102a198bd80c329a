#!/usr/bin/env bash
# Checkpoint cost of ZeRO-1 at dp 4 (issue "Checkpoints at 130B scale", item 6):
# configs/small.json on 4 ranks (1 OpenMP thread each) with --zero 1, per build and save mode:
#   save: its total time and the time the step was blocked (metrics.jsonl "save" events, the
#         first save), bytes written per rank file;
#   load: its time (metrics.jsonl "load");
#   extra memory: the largest rank's peak RSS (/usr/bin/time) of a run that saves (or loads)
#         minus that of the same run without, over the 4 ranks.
# Prints one markdown row per (build, mode).
#   tests/bench/bench_checkpoint.sh CORPUS_DIR BUILD_DIR[:MODE] ...   e.g.
#   tests/bench/bench_checkpoint.sh build/test_corpus old/build:sync build:sync build:async
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=${1:?usage: tests/bench/bench_checkpoint.sh CORPUS_DIR BUILD_DIR[:MODE] ...}
shift
out=$(mktemp -d /tmp/glm_bench_ckpt.XXXX)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common=(--config configs/small.json --data "$corpus" --dp 4 --zero 1
        --set model.vocab_size=32000 --set train.micro_batch_size=4
        --set batch.global_batch_size=16 --set batch.rampup_start=16 --set batch.rampup_increment=16
        --set train.log_interval=1 --set train.eval_interval=0 --set train.eval_iters=0)
run() {  # dir bin extra...: each rank's peak RSS (KiB) into dir/rss.RANK
  local dir=$1 bin=$2; shift 2
  mkdir -p "$dir"
  mpirun -n 4 --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 sh -c \
    '/usr/bin/time -f %M -o "$0/rss.$OMPI_COMM_WORLD_RANK" "$@"' "$dir" \
    "$bin" "${common[@]}" --log-dir "$dir/log" "$@" > "$dir.out" 2>&1 \
    || { echo "bench_checkpoint: $dir failed, see $dir.out" >&2; exit 1; }
}
echo "| build | save mode | save s | step blocked s | load s | bytes per rank file | extra RSS saving | extra RSS loading |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "$@"; do
  build=${spec%%:*} mode=sync
  [[ "$spec" == *:* ]] && mode=${spec#*:}
  bin="$build/bin/glm-train" tag=$(echo "$spec" | tr '/:' '__')
  set_mode=()
  [[ $mode == async ]] && set_mode=(--set "train.save_mode=\"$mode\"")
  run "$out/$tag/plain" "$bin" --train-iters 2
  run "$out/$tag/save" "$bin" --train-iters 2 --save "$out/$tag/ckpt" --save-interval 1 "${set_mode[@]}"
  run "$out/$tag/load" "$bin" --train-iters 2 --load "$out/$tag/ckpt" --load-iter 1
  python3 - "$out/$tag" "$spec" "$mode" <<'PY'
import glob, json, os, sys
d, spec, mode = sys.argv[1:]
def events(run, kind):
    return [j for j in map(json.loads, open(f"{d}/{run}/log/metrics.jsonl")) if j.get("event") == kind]
def peak_rss(run):
    return max(int(open(f).read().split()[-1]) for f in glob.glob(f"{d}/{run}/rss.*")) * 1024
save, load = events("save", "save")[0], events("load", "load")[0]
files = sorted(glob.glob(f"{d}/ckpt/iter_00000001/rank_*.h5"))
sizes = [os.path.getsize(f) for f in files]
mb = lambda b: f"{b / 1e6:.1f} MB"
print(f"| {spec.split(':')[0]} | {mode} | {save['seconds']:.2f} | {save.get('blocked_seconds', save['seconds']):.3f} "
      f"| {load['seconds']:.2f} | {len(sizes)} x {mb(max(sizes))} | {mb(peak_rss('save') - peak_rss('plain'))} "
      f"| {mb(peak_rss('load') - peak_rss('plain'))} |")
PY
done
