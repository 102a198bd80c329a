#!/usr/bin/env bash
# The whole test suite from a clean checkout: install dependencies (idempotent), build
# (Release), run every test through ctest. Usage: launch/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."

bash launch/setup.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=2
cd build
ctest --output-on-failure --timeout 600 "$@"
