#!/usr/bin/env bash
# Builds the CUDA test and benchmark binaries on this machine (sm_90: H100/H200) and copies
# them, with the non-system shared libraries they load (per ldd), into gpu_bundle/ (git-
# ignored), so a GPU machine without the Debian dependencies (OpenMPI, HDF5, spdlog, fmt,
# Boost, GoogleTest) can run them: launch/gpu_check.sh uses gpu_bundle/ first.
#
#   launch/gpu_bundle.sh [--build-dir DIR] [--with-cuda-libs]
#   (the build directory defaults to $GLM_BUNDLE_BUILD_DIR, else build-cuda/; an existing
#    CUDA build such as build/ is reused, reconfigured for sm_90)
#
# CUDA's own libraries (cudart, cuBLAS, cuBLASLt, NCCL: several hundred MB) are left out by
# default: the GPU machine has its own CUDA 13 (in its PyTorch environment, which
# launch/gpu_check.sh puts on the loader path); --with-cuda-libs copies them too, but they
# do not fit the 64 MiB that travels to the GPU machine. The driver (libcuda) and the C
# runtime (libc, libm, ld-linux, ...) are never copied.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${GLM_BUNDLE_BUILD_DIR:-$ROOT/build-cuda}  # or --build-dir; a CUDA build of this tree
WITH_CUDA_LIBS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --with-cuda-libs) WITH_CUDA_LIBS=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu_bundle.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT=$ROOT/gpu_bundle

cmake -S "$ROOT" -B "$BUILD" -DGLM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
# glm_unit_tests holds the op harness (its Ops/*_cuda rows); glm_train_tests the GPU-vs-CPU
# training agreement (CudaTraining.*), glm-train the GPU training command itself (both need
# the test corpus, copied below); glm-export, glm-generate and glm-eval take its checkpoint
# to an INT4 file and run it on the GPU.
targets=(glm_cuda_tests glm_unit_tests glm_train_tests glm-train glm-preprocess glm-export glm-generate glm-eval)
if grep -q "glm_nccl_tests" "$BUILD/Makefile" 2>/dev/null || \
   cmake --build "$BUILD" --target help 2>/dev/null | grep -q glm_nccl_tests; then
  targets+=(glm_nccl_tests)
fi
for src in "$ROOT"/tests/bench/cuda/*.cpp "$ROOT"/tests/bench/cuda/*.cu; do
  [ -e "$src" ] || continue
  name=$(basename "${src%.*}")
  targets+=("$name")
done
echo "gpu_bundle: building ${targets[*]}"
cmake --build "$BUILD" -j"${GLM_BUILD_JOBS:-2}" --target "${targets[@]}"

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib"
# Stripped: the bundle travels to the GPU machine with the working tree (64 MiB at most).
for t in "${targets[@]}"; do cp "$BUILD/bin/$t" "$OUT/bin/" && strip --strip-unneeded "$OUT/bin/$t"; done
# The trainer tests' corpus (tokenizer + train/valid HDF5, a few MB): made here, where the
# corpus packages are installed, so the GPU machine needs none.
if [ ! -f "$BUILD/test_corpus/train.h5" ]; then
  GLM_BUILD_DIR=$BUILD bash "$ROOT/launch/prepare_corpus.sh" "$BUILD/test_corpus" --vocab-size 6000 >/dev/null
fi
cp -r "$BUILD/test_corpus" "$OUT/test_corpus"
# configs/ and the PyTorch peer travel with the working tree (the GPU check runs in it).

# Libraries every Linux has (glibc and the loader) or that must come from the GPU machine's
# driver; everything else that ldd resolves is copied.
is_system() {
  case "$1" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libresolv.so*|libutil.so*) return 0 ;;
    libcuda.so*|libnvidia-*) return 0 ;;
  esac
  if [ "$WITH_CUDA_LIBS" = 0 ]; then
    case "$1" in libcudart.so*|libcublas.so*|libcublasLt.so*|libnccl.so*|libcudnn*) return 0 ;; esac
  fi
  return 1
}
for bin in "$OUT"/bin/*; do
  ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    base=$(basename "$lib")
    is_system "$base" && continue
    [ -e "$OUT/lib/$base" ] || cp -L "$lib" "$OUT/lib/$base"
  done
done
# Open MPI loads its components at run time (dlopen), which ldd does not show; they need its
# libmca_common_* helpers, and its error messages need the help files. launch/gpu_check.sh
# points Open MPI at these copies (OPAL_PREFIX, mca_base_component_path).
if ls "$OUT"/lib/libmpi.so* >/dev/null 2>&1; then
  ompi=/usr/lib/x86_64-linux-gnu/openmpi/lib
  mkdir -p "$OUT/openmpi/share"
  cp -rL "$ompi/openmpi3" "$OUT/openmpi/"
  cp -L "$ompi"/libmca_common_*.so* "$OUT/lib/" 2>/dev/null || true
  cp -rL /usr/share/openmpi "$OUT/openmpi/share/"
fi
{
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) on $(hostname) from $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "cuda libs included: $WITH_CUDA_LIBS"
  ls -1 "$OUT/bin" "$OUT/lib"
} > "$OUT/MANIFEST.txt"
du -sh "$OUT" | awk '{print "gpu_bundle: " $1 " in gpu_bundle/"}'
# What travels: one xz archive (oneDNN and OpenBLAS alone are ~75 MB unpacked; packed, the
# whole bundle is under half the 64 MiB carry limit). launch/gpu_check.sh unpacks it.
tar -C "$ROOT" -cf - gpu_bundle | xz -T"${GLM_BUILD_JOBS:-2}" -6 > "$ROOT/gpu_bundle.tar.xz.tmp"
mv "$ROOT/gpu_bundle.tar.xz.tmp" "$ROOT/gpu_bundle.tar.xz"
kib=$(du -k "$ROOT/gpu_bundle.tar.xz" | awk '{print $1}')
echo "gpu_bundle: gpu_bundle.tar.xz $((kib / 1024)) MiB (carry it: run(carry=[\"gpu_bundle.tar.xz\"]))"
if [ "$kib" -gt $((60 * 1024)) ]; then
  echo "gpu_bundle: gpu_bundle.tar.xz is $((kib / 1024)) MiB, more than the 60 MiB that fit the GPU machine's carry limit" >&2
  exit 1
fi
