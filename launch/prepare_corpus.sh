#!/usr/bin/env bash
# Prepares the bundled bilingual corpus (docs/design.md section 6): Debian's `fortunes` and
# `fortunes-min` (English) and `fortunes-zh` (Chinese poetry and prose), installed by
# launch/setup.sh, tokenized by build/bin/glm-preprocess into
# OUT_DIR/{tokenizer.model,train.h5,valid.h5}.
#
#   launch/prepare_corpus.sh [OUT_DIR] [glm-preprocess options...]
#   launch/prepare_corpus.sh data_out/corpus --vocab-size 8000 --force
#
# OUT_DIR defaults to data_out/corpus; GLM_BUILD_DIR (default build) locates the program.
# The input files are the packages' own file lists (dpkg -L) minus strfile indexes (.dat)
# and the .u8 symlinks that duplicate each file; they are printed before the run.
set -euo pipefail
cd "$(dirname "$0")/.."

out=data_out/corpus
if [[ $# -gt 0 && $1 != -* ]]; then
  out=$1
  shift
fi
program=${GLM_BUILD_DIR:-build}/bin/glm-preprocess
if [[ ! -x $program ]]; then
  echo "prepare_corpus: $program not found; build first (cmake --build build)" >&2
  exit 1
fi

# Regular files of the packages under /usr/share/games/fortunes, without .dat indexes and links.
fortune_files() {
  for p in "$@"; do dpkg -L "$p" 2>/dev/null; done | grep '^/usr/share/games/fortunes/' | sort -u |
    while read -r f; do
      [[ -f $f && ! -L $f && $f != *.dat ]] && echo "$f"
    done
}
mapfile -t english < <(fortune_files fortunes fortunes-min)  # fortunes needs -min
mapfile -t chinese < <(fortune_files fortunes-zh)
if ((${#english[@]} == 0 || ${#chinese[@]} == 0)); then
  echo "prepare_corpus: the fortunes and fortunes-zh packages are not installed" \
    "(run launch/setup.sh)" >&2
  exit 2
fi
echo "prepare_corpus: ${#english[@]} English files: ${english[*]##*/}"
echo "prepare_corpus: ${#chinese[@]} Chinese files: ${chinese[*]##*/}"
exec "$program" --input "${english[@]}" "${chinese[@]}" --output "$out" "$@"
