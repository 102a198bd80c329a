#!/usr/bin/env bash
# The main job: install dependencies, build, then train. Until the trainer lands (issue 3),
# "train" is the measured forward+backward step of configs/small.json against the PyTorch
# reference model on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash launch/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

threads=${THREADS:-2}
echo "== forward+backward of configs/small.json on $threads threads, against PyTorch =="
OMP_NUM_THREADS=$threads ./build/bin/bench_model_step --config configs/small.json \
  --threads "$threads" --peer
