#!/usr/bin/env bash
# Installs every system dependency of glm-train from Debian, idempotently.
# Safe to run again: packages already present are skipped without touching apt.
#   launch/setup.sh              everything: build, tests, plots, the corpus
#   launch/setup.sh --no-tests   without the test suite's packages (PyTorch, NumPy, h5py,
#                                protobuf, crc32c): what the quickstart needs
set -euo pipefail
with_tests=1
case "${1:-}" in
  "") ;;
  --no-tests) with_tests=0 ;;
  *) echo "setup: unknown option '$1' (expected --no-tests or nothing)" >&2; exit 2 ;;
esac

build_deps=(build-essential cmake pkg-config git
  libopenblas-dev libdnnl-dev libopenmpi-dev openmpi-bin libhdf5-dev
  nlohmann-json3-dev libspdlog-dev libboost-program-options-dev
  libsentencepiece-dev sentencepiece libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libprotobuf-dev protobuf-compiler libzstd-dev)
test_deps=(python3 python3-torch python3-numpy python3-h5py libopenblas0-openmp
  python3-protobuf python3-crc32c slurmctld slurmd slurm-client munge)
plot_deps=(python3-matplotlib)
corpus_deps=(fortunes fortunes-min fortunes-zh)

wanted=("${build_deps[@]}" "${plot_deps[@]}" "${corpus_deps[@]}")
if ((with_tests)); then wanted+=("${test_deps[@]}"); fi
missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all dependencies present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
