#!/usr/bin/env bash
# The GPU check of the CUDA backend: one script, under 8 minutes on one H100/H200, writing
# every log and a summary.md into OUT_DIR.
#
#   launch/gpu_check.sh OUT_DIR [--dry-run]
#
# Binaries: first the prebuilt gpu_bundle/ (launch/gpu_bundle.sh, carried from a machine
# with the Debian dependencies); if they cannot run here (missing libraries), a reduced
# from-source build of kernels/cuda/standalone (the kernels + a self-contained check with
# naive CPU references; needs only nvcc, cuBLASLt and CMake).
# Steps (each under its own `timeout`, skipped once the 7.5-minute budget is spent):
#   env           nvidia-smi, nvcc
#   ops           glm_unit_tests Ops/*: the op harness, every kernel op on CUDA against the
#                 fp64 reference, finite differences and the CPU (tests/unit/op_harness.h)
#   unit          glm_cuda_tests (the model and AdamW vs the CPU; internal CUDA entries;
#                 allocator)
#   nccl          glm_nccl_tests as one MPI process (NCCL collectives on device buffers)
#   train_agree   glm_train_tests CudaTraining.*: 50 steps of configs/tiny.json on the GPU vs
#                 the CPU (fp32, fp16, bf16), a GPU checkpoint resumed on the CPU
#   train_step    bench_cuda_train_step: configs/1.3b.json (T=2048, fp16) training steps,
#                 tokens/s, TFLOP/s, MFU, peak memory, and the PyTorch peer on the same GPU
#   train_cli     glm-train --device cuda on the test corpus (20 steps, as a user runs it)
#   export, generate, eval
#                 glm-export --bits 4 of that checkpoint; glm-generate and glm-eval --device
#                 cuda on the INT4 file
#   attention     bench_cuda_attention: flash vs unfused cuBLAS path, timing + agreement
#   gemm          bench_cuda_gemm: cuBLASLt fp16 and bf16 / cuBLAS fp32 TFLOP/s
#   bench:<name>  every other build/bin/bench_cuda_* (tests/bench/cuda)
#   standalone    check_cuda_kernels (always in fallback mode; with --standalone too)
# --dry-run builds everything here (gpu_bundle.sh and the standalone project) and runs the
# same steps, which without a GPU print their "no CUDA device present" lines and exit 0.
# A step whose binary is missing or needs a library the loader cannot find fails without
# running; on a GPU, no runnable bundle fails every step that needs it: the script exits 1
# whenever a step did not run or did not pass.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=""
DRY=0
STANDALONE=0
for a in "$@"; do
  case "$a" in
    --dry-run) DRY=1 ;;
    --standalone) STANDALONE=1 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option $a" >&2; exit 2 ;;
    *) OUT=$a ;;
  esac
done
if [ -z "$OUT" ]; then echo "usage: launch/gpu_check.sh OUT_DIR [--dry-run] [--standalone]" >&2; exit 2; fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUDGET=450  # seconds: leaves margin under the 8-minute limit
START=$SECONDS
SUMMARY=$OUT/summary.md
STEP_FAILED=0
{
  echo "# GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "mode: $([ $DRY = 1 ] && echo 'dry run (no GPU expected)' || echo 'GPU')"
  echo
  echo "| step | status | seconds | log |"
  echo "|---|---|---|---|"
} > "$SUMMARY"

# run NAME LIMIT_S COMMAND...: logs to OUT/NAME.log, one summary row.
run() {
  local name=$1 limit=$2
  shift 2
  local log="$OUT/${name//[:\/]/_}.log" left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -le 5 ]; then
    echo "| $name | skipped (time budget spent) | 0 | |" >> "$SUMMARY"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS status
  echo "== $name (limit ${limit}s): $*" | tee "$log"
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  case $rc in
    0) status="ok" ;;
    124|137) status="TIMEOUT after ${limit}s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  if grep -q "no CUDA device present" "$log"; then
    status="$status, no GPU: skipped inside"
    # Only a dry run may lack the GPU: there, a refusal to start is the expected outcome.
    if [ $DRY = 1 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ]; then status="no GPU (dry run), exit $rc"; fi
  fi
  tail -n 3 "$log" | sed 's/^/    /'
  case $status in
    ok) ;;
    # on the GPU machine a test that found no GPU has not checked anything
    "ok, no GPU: skipped inside"|"no GPU (dry run)"*) [ $DRY = 1 ] || STEP_FAILED=1 ;;
    *) STEP_FAILED=1 ;;
  esac
  echo "| $name | $status | $((SECONDS - t0)) | $(basename "$log") |" >> "$SUMMARY"
  return 0
}

# not_run NAME REASON: a step that could not start (a failure, except in a dry run).
not_run() {
  if [ $DRY = 1 ]; then
    echo "| $1 | not run (dry run): $2 | 0 | |" >> "$SUMMARY"
  else
    echo "| $1 | FAILED (not run: $2) | 0 | |" >> "$SUMMARY"
    STEP_FAILED=1
  fi
}

# The directories of a PyTorch environment's pip-installed CUDA libraries (none without one).
cuda_pip_lib_dirs() {
  python3 - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = set()
for r in roots:
    for lib in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(lib))
print("\n".join(sorted(dirs)))
PY
}

# The shared libraries a binary needs that the loader cannot find here ("" when none).
missing_libs() {
  ldd "$1" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' '
}

# step NAME LIMIT BINARY ARGS...: `run`, after checking that the binary exists and that
# every library it needs is found; otherwise the step fails with the reason.
step() {
  local name=$1 limit=$2 bin=$3
  if [ ! -x "$bin" ]; then
    not_run "$name" "$(basename "$bin") is not in the bundle"
    return 0
  fi
  local miss
  miss=$(missing_libs "$bin")
  if [ -n "$miss" ]; then
    not_run "$name" "libraries not found: $miss"
    return 0
  fi
  run "$@"
}

# --- binaries ---------------------------------------------------------------------------
BIN=""
if [ $DRY = 1 ]; then
  BUDGET=100000  # building here is not part of the GPU check's 8 minutes
  run build_bundle 3600 bash "$ROOT/launch/gpu_bundle.sh"
fi
if [ ! -d "$ROOT/gpu_bundle" ] && [ -f "$ROOT/gpu_bundle.tar.xz" ]; then
  # the packed bundle launch/gpu_bundle.sh writes (xz through Python where tar lacks it)
  tar -C "$ROOT" -xJf "$ROOT/gpu_bundle.tar.xz" 2>/dev/null ||
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$ROOT/gpu_bundle.tar.xz" "$ROOT"
fi
if [ -x "$ROOT/gpu_bundle/bin/glm_cuda_tests" ]; then
  export LD_LIBRARY_PATH="$ROOT/gpu_bundle/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
  # CUDA 13's runtime, cuBLAS(Lt) and NCCL may exist only as a PyTorch environment's pip
  # packages (site-packages/nvidia/*/lib, or nvidia/cu13/lib): every such directory that
  # holds a shared library joins the loader path.
  for d in $(cuda_pip_lib_dirs); do LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"; done
  # Open MPI from the bundle (whatever MPI this machine has, if any): a singleton (no
  # mpirun) starts without orted, and finds its run-time components and help files where
  # the bundle carries them, not at Debian's build-time paths.
  if [ -d "$ROOT/gpu_bundle/openmpi/openmpi3" ]; then
    export OPAL_PREFIX="$ROOT/gpu_bundle/openmpi"
    export OMPI_MCA_ess_singleton_isolated=1
    export OMPI_MCA_mca_base_component_path="$ROOT/gpu_bundle/openmpi/openmpi3"
    export OMPI_MCA_mca_base_component_show_load_errors=0
  fi
  missing=$(missing_libs "$ROOT/gpu_bundle/bin/glm_cuda_tests")
  if [ -z "$missing" ] && "$ROOT/gpu_bundle/bin/glm_cuda_tests" --gtest_list_tests > "$OUT/bundle_probe.log" 2>&1; then
    BIN=$ROOT/gpu_bundle/bin
    echo "binaries: gpu_bundle/ ($(head -1 "$ROOT/gpu_bundle/MANIFEST.txt" 2>/dev/null))" | tee -a "$SUMMARY"
  else
    echo "gpu_bundle/ cannot run here: ${missing:-$(tail -2 "$OUT/bundle_probe.log")}" | tee -a "$SUMMARY"
  fi
else
  echo "no gpu_bundle/ (run launch/gpu_bundle.sh on a build machine)" | tee -a "$SUMMARY"
fi
echo >> "$SUMMARY"

STANDALONE_BUILD=$OUT/build-standalone
if [ -z "$BIN" ] || [ $STANDALONE = 1 ] || [ $DRY = 1 ]; then
  run standalone_build "$([ $DRY = 1 ] && echo 1800 || echo 300)" bash -c "cmake -S '$ROOT/kernels/cuda/standalone' -B '$STANDALONE_BUILD' -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build '$STANDALONE_BUILD' -j\$(nproc)"
fi
if [ $DRY = 1 ]; then  # the check's own clock starts after the builds
  START=$SECONDS
  BUDGET=450
fi

# --- steps --------------------------------------------------------------------------------
# Prebuilt binaries read configs and the PyTorch peer from this checkout, not from the path
# they were built in (tests/bench/bench_util.h, tests/train/train_test_util.h).
export GLM_SOURCE_DIR=$ROOT
run env 30 bash -c "nvidia-smi || echo 'nvidia-smi: no NVIDIA driver / no CUDA device present'; nvcc --version || /usr/local/cuda/bin/nvcc --version"
# The steps that need the prebuilt binaries (a GPU check without them has failed).
BUNDLE_STEPS="ops unit train_agree train_step nccl attention gemm bench:* train_cli export generate eval"
if [ -n "$BIN" ]; then
  MPI_ENV=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=8)
  step ops 180 "$BIN/glm_unit_tests" --gtest_filter='Ops/*' \
    --gtest_output="xml:$OUT/glm_op_harness.xml"
  step unit 240 "$BIN/glm_cuda_tests" --gtest_output="xml:$OUT/glm_cuda_tests.xml"
  CORPUS=$ROOT/gpu_bundle/test_corpus
  run train_agree 240 env GLM_TEST_CORPUS="$CORPUS" GLM_SOURCE_DIR="$ROOT" OMP_NUM_THREADS=8 \
    "$BIN/glm_train_tests" \
    --gtest_filter='CudaTraining.*'
  step train_step 150 "$BIN/bench_cuda_train_step" \
    --config "$ROOT/configs/1.3b.json" --peer --results "$OUT/RESULTS_rows.md"
  step nccl 60 "$BIN/glm_nccl_tests"
  step attention 150 "$BIN/bench_cuda_attention" --iters 5
  step gemm 90 "$BIN/bench_cuda_gemm" --iters 30
  for b in "$BIN"/bench_cuda_*; do
    name=$(basename "$b")
    case "$name" in bench_cuda_attention|bench_cuda_gemm|bench_cuda_train_step) continue ;; esac
    step "bench:$name" 90 "$b"
  done
  # As a user runs it: train on the GPU with a checkpoint, export INT4, then generate and
  # evaluate on the GPU.
  step train_cli 90 "$BIN/glm-train" --config "$ROOT/configs/tiny.json" \
    --data "$CORPUS" --device cuda --precision fp16 --train-iters 20 \
    --set model.vocab_size=6016 --log-dir "$OUT/train_cli" --save "$OUT/train_cli/ckpt"
  if [ -f "$OUT/train_cli/ckpt/latest" ]; then
    step export 60 "$BIN/glm-export" --load "$OUT/train_cli/ckpt" --bits 4 --group-size 128 \
      --out "$OUT/train_cli/model_int4.h5"
  else
    not_run export "train_cli wrote no checkpoint"
  fi
  if [ -f "$OUT/train_cli/model_int4.h5" ]; then
    step generate 60 "$BIN/glm-generate" --model "$OUT/train_cli/model_int4.h5" --device cuda \
      --prompt "The meaning of life is" --max-new-tokens 24 --temperature 0
    step eval 60 "$BIN/glm-eval" --model "$OUT/train_cli/model_int4.h5" --device cuda \
      --data "$CORPUS/valid.h5" --max-samples 16
  else
    not_run "generate, eval" "no exported model"
  fi
else
  not_run "$BUNDLE_STEPS" "no runnable gpu_bundle/, see above"
fi
if [ -x "$STANDALONE_BUILD/check_cuda_kernels" ]; then
  run standalone 180 "$STANDALONE_BUILD/check_cuda_kernels"
fi

{
  echo
  echo "total: $((SECONDS - START)) s; $([ $STEP_FAILED = 0 ] && echo 'every step ran and passed' || echo 'SOME STEPS FAILED OR DID NOT RUN')"
  echo
  echo "Key lines:"
  echo '```'
  grep -h -E "^\[  (PASSED|FAILED) |^(PASS|FAIL|TIME|ALL PASSED|FAILED)|TF/s|TFLOP/s|tokens/s|no CUDA device present|^\[ (fp16|fp32|model)" "$OUT"/*.log 2>/dev/null | head -80
  echo '```'
} >> "$SUMMARY"
cat "$SUMMARY"
exit $STEP_FAILED
