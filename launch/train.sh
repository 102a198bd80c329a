#!/usr/bin/env bash
# glm-train under mpirun with the flags a run needs, so users type the layout once:
#   launch/train.sh -n RANKS [--hostfile FILE] [--threads N] -- GLM_TRAIN_ARGS...
#   launch/train.sh -n 8 -- --config configs/small.json --data data_out/corpus --tp 2 --pp 2
# - root: sets OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM) (containers and CI run as root);
# - oversubscription (--oversubscribe) when the ranks outnumber the cores (or slots);
# - OpenMP threads per rank: --threads, else cores / ranks (at least 1), exported to ranks;
# - --hostfile FILE is passed to mpirun for multi-node runs (TP groups are neighbouring
#   ranks, so list hosts with as many slots as the TP size or a multiple of it).
# Everything after "--" goes to glm-train (see build/bin/glm-train --help). GLM_BUILD_DIR
# selects the build (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=1 hostfile="" threads=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--np) ranks="$2"; shift 2 ;;
    --hostfile) hostfile="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "launch/train.sh: unknown option '$1' (glm-train options go after --)" >&2; exit 2 ;;
  esac
done
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "launch/train.sh: -n needs a positive rank count, got '$ranks'" >&2; exit 2; }
bin="${GLM_BUILD_DIR:-build}/bin/glm-train"
[[ -x "$bin" ]] || { echo "launch/train.sh: $bin not found: build first (launch/quickstart.sh or cmake --build build)" >&2; exit 2; }

cores=$(nproc)
mpi_args=(-n "$ranks")
if [[ -n "$hostfile" ]]; then
  [[ -f "$hostfile" ]] || { echo "launch/train.sh: hostfile '$hostfile' not found" >&2; exit 2; }
  mpi_args+=(--hostfile "$hostfile")
elif (( ranks > cores )); then
  mpi_args+=(--oversubscribe)
fi
if [[ -z "$threads" ]]; then threads=$(( cores / ranks )); (( threads >= 1 )) || threads=1; fi
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
exec mpirun "${mpi_args[@]}" --bind-to none -x OMP_NUM_THREADS="$threads" \
  -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$bin" "$@"
