#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build, prepare the
# bundled bilingual corpus (Debian's fortunes + fortunes-zh), train the tiny model under
# mpirun on 2 ranks and report the held-out loss and perplexity before and after.
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

# Two data-parallel ranks (launch/train.sh adds the root and oversubscription flags and
# splits the cores between the ranks); any --tp/--pp layout of 2 ranks gives the same run.
threads=${THREADS:-$(( $(nproc) >= 2 ? $(nproc) / 2 : 1 ))}
echo "== training configs/tiny.json on $corpus (2 ranks x $threads threads, dp 2) =="
ckpt=data_out/ckpt_quickstart
bash launch/train.sh -n 2 --threads "$threads" -- \
  --config configs/tiny.json --data "$corpus" --dp 2 --log-dir logs/quickstart --save "$ckpt"
echo "metrics: logs/quickstart/metrics.jsonl, checkpoint: $ckpt"

# INT4 export of the trained model, its held-out perplexity and a generated sample
# (glm-export, glm-eval, glm-generate: README "Export, generation and evaluation").
echo "== INT4 (group 128) export of $ckpt, held-out perplexity and a sample =="
build/bin/glm-export --load "$ckpt" --bits 4 --group-size 128 --out data_out/tiny-int4.h5
OMP_NUM_THREADS=$(nproc) build/bin/glm-eval --model data_out/tiny-int4.h5 --data "$corpus/valid.h5"
OMP_NUM_THREADS=$(nproc) build/bin/glm-generate --model data_out/tiny-int4.h5 \
  --prompt "A journey of a thousand miles" --max-new-tokens 40 --min-new-tokens 16 \
  --temperature 0.8 --top-k 40 --seed 1
