# Sourced by the test scripts that run real glm-train jobs (tests/faults/run_faults.sh,
# tests/train/mfu_bound.sh) with their arguments BUILD_DIR CORPUS_DIR WORK_DIR: sets build,
# corpus, work and root, lets Open MPI run as root, starts WORK_DIR empty, changes to the
# repository root and zeroes the failure count.
#   source "$(dirname "$0")/../real_job_script.sh" "$@"
set -uo pipefail
build=$(realpath "$1") corpus=$(realpath "$2") work=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GLM_BUILD_DIR=$build OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$work" && mkdir -p "$work"
cd "$root"
failures=0
