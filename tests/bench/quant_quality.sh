#!/usr/bin/env bash
# Held-out quality of one checkpoint exported in every weight format (the README's INT4/INT8
# quality table): fp16, INT8 per row, INT4 per row, INT4 group 128, INT4 group 64, and INT8 /
# INT4 group 128 again with --activations int8. Prints one markdown row per sample set.
#
#   tests/bench/quant_quality.sh CKPT VALID.h5 [MAX_SAMPLES...]
#   tests/bench/quant_quality.sh data_out/ckpt_quickstart data_out/corpus/valid.h5 0 240
#
# MAX_SAMPLES 0 is the trainer's own evaluation set (its final eval_loss equals the fp16
# column); a large number covers every held-out window. Cells are loss / perplexity, with
# the perplexity change against fp16 for the quantized formats. GLM_BUILD_DIR (default
# build) locates the programs; files go to a temporary directory, removed at the end.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,12p' "$0"; exit 2; fi
ckpt=$1 valid=$2
shift 2
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(0)
bin=${GLM_BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

formats=("16 0" "8 0" "4 0" "4 128" "4 64")
for f in "${formats[@]}"; do
  read -r bits group <<< "$f"
  "$bin/glm-export" --load "$ckpt" --bits "$bits" --group-size "$group" --out "$tmp/m_${bits}_${group}.h5" >/dev/null
done

# eval FILE SAMPLES [ACT] -> "loss perplexity"
eval_one() {
  "$bin/glm-eval" --model "$1" --data "$valid" --max-samples "$2" --activations "${3:-fp32}" --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["loss"], j["perplexity"], j["tokens"])'
}

echo "| samples (target tokens) | fp16 | INT8 per-row | INT4 per-row | INT4 group 128 | INT4 group 64 | INT8, x int8 | INT4 group 128, x int8 |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sets[@]}"; do
  read -r l16 p16 tokens <<< "$(eval_one "$tmp/m_16_0.h5" "$n")"
  row="| ${n/#0/trainer\'s eval set} ($tokens) | $(printf '%.4f / %.1f' "$l16" "$p16")"
  for cell in "8_0 fp32" "4_0 fp32" "4_128 fp32" "4_64 fp32" "8_0 int8" "4_128 int8"; do
    read -r file act <<< "$cell"
    read -r l p _ <<< "$(eval_one "$tmp/m_$file.h5" "$n" "$act")"
    row="$row | $(python3 -c "print(f'{$l:.4f} / {$p:.1f} ({100*($p/$p16-1):+.2f}%)')")"
  done
  echo "$row |"
done
