#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build the programs,
# prepare the bundled bilingual corpus (Debian's fortunes + fortunes-zh), train
# configs/quickstart.json under mpirun on 2 ranks, plot the run, export the model with INT4
# weights, print its held-out perplexity and continue an English and a Chinese prompt,
# greedily and sampled.
#   launch/quickstart.sh            (THREADS=N to change the OpenMP threads per rank)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bash launch/setup.sh --no-tests  # launch/test.sh adds the test suite's packages
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
# Only the programs the quickstart runs: the tests and benchmarks are launch/test.sh's job.
cmake --build build -j"$(nproc)" --target glm-preprocess glm-train glm-export glm-eval glm-generate

corpus=data_out/corpus
# 6000 pieces: the corpus's Chinese characters alone need about 4900, and a small vocabulary
# lets the small model learn its pieces in minutes.
if [[ ! -f $corpus/train.h5 || ! -f $corpus/valid.h5 || ! -f $corpus/tokenizer.model ]]; then
  bash launch/prepare_corpus.sh "$corpus" --vocab-size 6000 --force
fi

# Two data-parallel ranks (launch/train.sh adds the root and oversubscription flags and
# splits the cores between the ranks); any --tp/--pp layout of 2 ranks gives the same run.
threads=${THREADS:-$(( $(nproc) >= 2 ? $(nproc) / 2 : 1 ))}
# train.precision "auto": bf16 where the CPU multiplies bf16 natively (AVX512-BF16, AMX),
# else fp32; the start-up line "precision: ... GEMMs: ..." says which, and which kernel.
echo "== training configs/quickstart.json on $corpus (2 ranks x $threads threads, dp 2, precision auto) =="
ckpt=data_out/ckpt_quickstart
rm -rf logs/quickstart  # a fresh run: its plot shows this run only
bash launch/train.sh -n 2 --threads "$threads" -- \
  --config configs/quickstart.json --data "$corpus" --dp 2 --log-dir logs/quickstart \
  --save "$ckpt"
echo "== plots of the run =="
/usr/bin/python3 launch/plot.py logs/quickstart
echo "metrics: logs/quickstart/metrics.jsonl and a TensorBoard event file (tensorboard --logdir logs/)"

# INT4 export (group 64 divides every input width of the model: h 192, f 512), its held-out
# perplexity, and continuations (docs/export-and-inference.md).
model=data_out/quickstart-int4.h5
echo "== INT4 (group 64) export of $ckpt and its held-out perplexity =="
build/bin/glm-export --load "$ckpt" --bits 4 --group-size 64 --out "$model"
export OMP_NUM_THREADS=$(nproc)
build/bin/glm-eval --model "$model" --data "$corpus/valid.h5"
# A model this small loops when decoded greedily: the repetition penalty and the n-gram ban
# of Hugging Face's generate() keep it from repeating itself (docs/export-and-inference.md).
no_loops=(--repetition-penalty 1.3 --no-repeat-ngram-size 3)
for prompt in "A journey of a thousand miles" "春眠不觉晓，"; do
  echo "== \"$prompt\", greedy (repetition penalty 1.3, no repeated 3-grams) =="
  build/bin/glm-generate --model "$model" --prompt "$prompt" --max-new-tokens 32 \
    --min-new-tokens 12 "${no_loops[@]}" 2>/dev/null
  echo "== \"$prompt\", sampled (temperature 0.7, top-k 40, the same controls) =="
  build/bin/glm-generate --model "$model" --prompt "$prompt" --max-new-tokens 32 \
    --min-new-tokens 12 --temperature 0.7 --top-k 40 --seed 1 "${no_loops[@]}" 2>/dev/null
done
echo "quickstart: done in $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s"
