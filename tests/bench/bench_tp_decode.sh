#!/usr/bin/env bash
# Tensor-parallel decode over MPI ranks on the CPU (issue "Serve the way the paper did",
# item 5): configs/small.json after one training step, exported INT8 per row with --tp 1, 2
# and 4, greedy glm-generate of 128 tokens:
#   tp 1   one process, 2 OpenMP threads
#   tp 2   mpirun -n 2, one shard per rank, 1 thread each
#   tp 4   mpirun -n 4 (oversubscribed on 2 cores), 1 thread each
# Prints one markdown row per run: decode tokens/s and, over ranks, the share of the decode
# time rank 0 spent inside collectives (waiting for the others included) and their count
# per token.
#   tests/bench/bench_tp_decode.sh CORPUS_DIR BUILD_DIR [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=${1:?usage: tests/bench/bench_tp_decode.sh CORPUS_DIR BUILD_DIR [REPEATS]}
bin=${2:?usage: tests/bench/bench_tp_decode.sh CORPUS_DIR BUILD_DIR [REPEATS]}/bin
repeats=${3:-2}
out=$(mktemp -d /tmp/glm_bench_tp_decode.XXXX)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$bin/glm-train" --config configs/small.json --data "$corpus" --train-iters 1 \
  --set model.vocab_size=32000 --set train.eval_interval=0 --set train.eval_iters=0 \
  --log-dir "$out/log" --save "$out/ckpt" --save-interval 1 > "$out/train.out" 2>&1 \
  || { echo "bench_tp_decode: training failed, see $out/train.out" >&2; exit 1; }
for tp in 1 2 4; do
  "$bin/glm-export" --load "$out/ckpt" --bits 8 --tp "$tp" --out "$out/m_tp$tp.h5" \
    > "$out/export_$tp.out" 2>&1 \
    || { echo "bench_tp_decode: export failed, see $out/export_$tp.out" >&2; exit 1; }
done
gen=(--prompt 'A journey of a thousand miles' --max-new-tokens 128 --min-new-tokens 128
     --temperature 0)
echo "| run | decode tokens/s | collectives share of decode (rank 0) | collectives a token |"
echo "|---|---|---|---|"
for rep in $(seq "$repeats"); do
  for tp in 1 2 4; do
    log="$out/gen_${tp}_$rep.err"
    if [[ $tp == 1 ]]; then
      OMP_NUM_THREADS=2 "$bin/glm-generate" --model "$out/m_tp1.h5" "${gen[@]}" \
        > /dev/null 2> "$log"
      what="tp 1, one process, 2 threads"
    else
      mpirun -n "$tp" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 \
        "$bin/glm-generate" --model "$out/m_tp$tp.h5" "${gen[@]}" > /dev/null 2> "$log"
      what="\`mpirun -n $tp\`, 1 thread a rank"
    fi
    tps=$(sed -n 's/.* new tokens, \([0-9.]*\) tokens\/s.*/\1/p' "$log")
    share=$(sed -n 's/.*: \([0-9.]*\)% of the time in collectives (\([0-9.]*\) a token.*/\1% \2/p' "$log")
    echo "| $what (run $rep) | $tps | ${share% *} | ${share#* } |"
  done
done
