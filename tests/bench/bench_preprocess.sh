#!/usr/bin/env bash
# glm-preprocess at scale (issue "Data at pre-training scale", item 1): a synthetic JSON Lines
# corpus of SIZE_MB (Debian's fortunes, English and Chinese, replicated with a counter so no
# two documents are equal), encoded with the bundled corpus's tokenizer by
#   peer   the SentencePiece library's own encoder, spm_encode (one thread), on the same
#          documents one per line (newlines inside a document become spaces)
#   ours   glm-preprocess --shard-tokens 5000000 with --workers 1 and with every core
# and, for memory, ours on a third of the corpus too (peak RSS must not grow with the input).
# Prints markdown rows: MB/s of input text, tokens/s, documents/s, peak RSS.
#   tests/bench/bench_preprocess.sh BUILD_DIR TOKENIZER_MODEL [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: tests/bench/bench_preprocess.sh BUILD_DIR TOKENIZER_MODEL [SIZE_MB]}
model=${2:?usage: tests/bench/bench_preprocess.sh BUILD_DIR TOKENIZER_MODEL [SIZE_MB]}
size_mb=${3:-1024}
out=$(mktemp -d /tmp/glm_bench_preprocess.XXXX)
command -v spm_encode > /dev/null || { echo "bench_preprocess: spm_encode missing (apt install sentencepiece)" >&2; exit 1; }
python3 - "$out" "$size_mb" <<'PY'
import glob, json, sys
out, size = sys.argv[1], int(sys.argv[2]) << 20
docs = []
for f in sorted(glob.glob("/usr/share/games/fortunes/*")):
    if f.endswith((".dat", ".u8")):
        continue
    try:
        text = open(f, encoding="utf-8").read()
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    docs += [d.strip() for d in text.split("\n%\n") if d.strip()]
for name, limit in (("full", size), ("third", size // 3)):
    written, r = 0, 0
    with open(f"{out}/{name}.jsonl", "w") as j, open(f"{out}/{name}.txt", "w") as t:
        while written < limit:
            for d in docs:
                d = f"{d} #{r}"
                line = json.dumps({"text": d}, ensure_ascii=False) + "\n"
                j.write(line)
                t.write(d.replace("\n", " ") + "\n")
                written += len(line.encode())
            r += 1
PY
mb=$(du -m "$out/full.jsonl" | cut -f1)
docs=$(wc -l < "$out/full.txt")
echo "corpus: $mb MB of JSON Lines, $docs documents, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')" >&2
row() {  # name seconds tokens rss_kib
  awk -v n="$1" -v s="$2" -v t="$3" -v r="$4" -v mb="$mb" -v d="$docs" 'BEGIN {
    printf "| %s | %.1f | %.0f | %.0f | %s |\n", n, mb / s, t / s, d / s, r == "" ? "-" : sprintf("%.0f MB", r / 1024) }'
}
echo "| encoder | MB/s | tokens/s | documents/s | peak RSS |"
echo "|---|---|---|---|---|"
t0=$(date +%s.%N)
/usr/bin/env time -f %M -o "$out/spm.rss" spm_encode --model="$model" --output_format=id \
  < "$out/full.txt" > "$out/spm.ids"
t1=$(date +%s.%N)
tokens=$(wc -w < "$out/spm.ids")
row "SentencePiece spm_encode, 1 thread" "$(echo "$t1 - $t0" | bc)" "$tokens" "$(cat "$out/spm.rss")"
rm -f "$out/spm.ids"
for workers in 1 0; do
  rm -rf "$out/ours"
  t0=$(date +%s.%N)
  /usr/bin/env time -f %M -o "$out/ours.rss" "$build/bin/glm-preprocess" --input "$out/full.jsonl" \
    --output "$out/ours" --tokenizer "$model" --shard-tokens 5000000 --workers "$workers" \
    > "$out/ours.log" 2>&1
  t1=$(date +%s.%N)
  # the documents' tokens without the <eop> each one ends with (spm_encode writes none)
  tokens=$(python3 -c "import json; i=[json.load(open(f'$out/ours/{s}.index.json')) for s in ('train','valid')]; print(sum(x['tokens'] - x['documents'] for x in i))")
  row "glm-preprocess --shard-tokens, $([[ $workers == 0 ]] && echo "$(nproc) workers" || echo "1 worker")" \
    "$(echo "$t1 - $t0" | bc)" "$tokens" "$(cat "$out/ours.rss")"
done
rm -rf "$out/ours"
/usr/bin/env time -f %M -o "$out/third.rss" "$build/bin/glm-preprocess" --input "$out/third.jsonl" \
  --output "$out/ours" --tokenizer "$model" --shard-tokens 5000000 > /dev/null 2>&1
echo "peak RSS, every core: $(( $(cat "$out/third.rss") / 1024 )) MB for a third of the corpus, $(( $(cat "$out/ours.rss") / 1024 )) MB for all of it" >&2
rm -rf "$out"
