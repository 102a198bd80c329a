#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build, prepare the
# bundled bilingual corpus (Debian's fortunes + fortunes-zh), train the tiny model under
# mpirun and report the held-out loss and perplexity before and after.
#   launch/quickstart.sh            (THREADS=N to change the OpenMP threads per rank)
set -euo pipefail
cd "$(dirname "$0")/.."

bash launch/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

corpus=data_out/corpus
if [[ ! -f $corpus/train.h5 || ! -f $corpus/valid.h5 || ! -f $corpus/tokenizer.model ]]; then
  bash launch/prepare_corpus.sh "$corpus" --vocab-size 8000 --force
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
threads=${THREADS:-$(nproc)}
echo "== training configs/tiny.json on $corpus (1 rank x $threads threads) =="
mpirun -n 1 --oversubscribe -x OMP_NUM_THREADS="$threads" \
  build/bin/glm-train --config configs/tiny.json --data "$corpus" --log-dir logs/quickstart
echo "metrics: logs/quickstart/metrics.jsonl"
