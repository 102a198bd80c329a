#!/usr/bin/env bash
# glm-train under mpirun with the flags a run needs, so users type the layout once, and an
# optional supervisor that relaunches a failed job from its latest checkpoint:
#   launch/train.sh -n RANKS [--hostfile FILE] [--threads N]
#                   [--max-restarts N] [--restart-backoff SECONDS] -- GLM_TRAIN_ARGS...
#   launch/train.sh -n 8 --max-restarts 3 -- --config configs/small.json --data data_out/corpus \
#       --tp 2 --pp 2 --save ckpt/small
# - root: sets OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM) (containers and CI run as root);
# - oversubscription (--oversubscribe) when the ranks outnumber the cores (or slots);
# - OpenMP threads per rank: --threads, else cores / ranks (at least 1), exported to ranks;
# - --hostfile FILE is passed to mpirun for multi-node runs (TP groups are neighbouring
#   ranks, so list hosts with as many slots as the TP size or a multiple of it).
# - SIGTERM or SIGINT to this script (scancel, a scheduler's time limit, Ctrl-C) is passed
#   to the ranks as SIGUSR1 through mpirun (Open MPI forwards USR1 and keeps the job, where
#   a TERM to mpirun kills it): every rank finishes its step, saves, and the script exits
#   0. A second SIGINT kills the job at once (exit 130).
# - --max-restarts N (default 0): when the job fails, wait --restart-backoff seconds
#   (default 10, doubling per restart, at most 600) and relaunch with --load on the --save
#   directory (needs glm-train's --save DIR). Not after an input error (exit 2), and not in
#   a crash loop: two failures in a row at the same last logged step stop with exit 1.
#   Each restart is a line of <log-dir>/restarts.jsonl (cause, exit code, the step it
#   resumes from); metrics.jsonl and the TensorBoard run continue in the same log dir.
# Everything after "--" goes to glm-train (see build/bin/glm-train --help). GLM_BUILD_DIR
# selects the build (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=1 hostfile="" threads="" max_restarts=0 backoff=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--np) ranks="$2"; shift 2 ;;
    --hostfile) hostfile="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --max-restarts) max_restarts="$2"; shift 2 ;;
    --restart-backoff) backoff="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "launch/train.sh: unknown option '$1' (glm-train options go after --)" >&2; exit 2 ;;
  esac
done
fail_usage() { echo "launch/train.sh: $*" >&2; exit 2; }
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || fail_usage "-n needs a positive rank count, got '$ranks'"
[[ "$max_restarts" =~ ^[0-9]+$ && "$max_restarts" -le 1000 ]] ||
  fail_usage "--max-restarts needs a count in [0, 1000], got '$max_restarts'"
[[ "$backoff" =~ ^[0-9]+$ && "$backoff" -le 3600 ]] ||
  fail_usage "--restart-backoff needs seconds in [0, 3600], got '$backoff'"
bin="${GLM_BUILD_DIR:-build}/bin/glm-train"
[[ -x "$bin" ]] || fail_usage "$bin not found: build first (launch/quickstart.sh or cmake --build build)"

cores=$(nproc)
mpi_args=(-n "$ranks")
if [[ -n "$hostfile" ]]; then
  [[ -f "$hostfile" ]] || fail_usage "hostfile '$hostfile' not found"
  mpi_args+=(--hostfile "$hostfile")
elif (( ranks > cores )); then
  mpi_args+=(--oversubscribe)
fi
if [[ -z "$threads" ]]; then threads=$(( cores / ranks )); (( threads >= 1 )) || threads=1; fi
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# glm-train's own arguments: where it saves and logs (launch/restart_lib.sh).
train_args=("$@")
source launch/restart_lib.sh
restart_lib_init "${train_args[@]}"
if (( max_restarts > 0 )) && [[ -z "$save_dir" ]]; then
  fail_usage "--max-restarts needs glm-train's --save DIR (the checkpoints a restart resumes from)"
fi

stop_requested=0 interrupts=0 job=0
on_stop() {  # SIGTERM / first SIGINT: the ranks save and stop; a second SIGINT kills
  local sig=$1
  if [[ "$sig" == INT ]]; then interrupts=$((interrupts + 1)); fi
  if (( interrupts >= 2 )); then
    echo "launch/train.sh: second SIGINT: killing the job" >&2
    (( job )) && kill -KILL "$job" 2>/dev/null
    exit 130
  fi
  stop_requested=1
  echo "launch/train.sh: SIG$sig: asking every rank to save and stop (SIGUSR1 through mpirun)" >&2
  (( job )) && kill -USR1 "$job" 2>/dev/null || true
}
trap 'on_stop TERM' TERM
trap 'on_stop INT' INT

attempt=0 previous_fail_step=-1
args=("${train_args[@]}")
while true; do
  stops_before=$(stop_events)
  mpirun "${mpi_args[@]}" --bind-to none -x OMP_NUM_THREADS="$threads" \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$bin" "${args[@]}" &
  job=$!
  rc=0
  # wait returns early (status > 128) when a trapped signal arrives: wait again until the
  # job itself has ended
  while true; do
    set +e
    wait "$job"
    rc=$?
    set -e
    kill -0 "$job" 2>/dev/null || break
  done
  job=0
  if (( stop_requested )); then
    # A signal sent to the whole process group also reaches mpirun, which then exits 1
    # although every rank saved and stopped: the trainer's stop event says they did.
    if (( rc != 0 )) && (( $(stop_events) > stops_before )); then
      echo "launch/train.sh: the ranks saved and stopped (mpirun's exit $rc came from the signal it got itself)" >&2
      rc=0
    fi
    echo "launch/train.sh: stopped on request (exit $rc)" >&2
    exit "$rc"
  fi
  (( rc == 0 )) && exit 0
  if (( rc == 2 )); then
    echo "launch/train.sh: glm-train refused its input (exit 2): not restarting" >&2
    exit 2
  fi
  if (( attempt >= max_restarts )); then
    (( max_restarts > 0 )) && echo "launch/train.sh: job failed (exit $rc) after $attempt restarts: giving up" >&2
    exit "$rc"
  fi
  step=$(last_logged_step)
  if (( step == previous_fail_step )); then
    echo "launch/train.sh: crash loop: the job failed twice in a row at step $step (exit $rc): not restarting" >&2
    log_restart "$attempt" "$rc" "crash loop: stopped" "none" "$step" 0
    exit 1
  fi
  previous_fail_step=$step
  wait_s=$(( backoff << attempt )); (( wait_s <= 600 )) || wait_s=600
  attempt=$((attempt + 1))
  resume=$(latest_step)
  log_restart "$attempt" "$rc" "job failed" "$resume" "$step" "$wait_s"
  echo "launch/train.sh: job failed (exit $rc) at step $step; restart $attempt of $max_restarts from checkpoint step $resume in ${wait_s}s" >&2
  sleep "$wait_s" &
  wait $! || true
  (( stop_requested )) && { echo "launch/train.sh: stopped on request before restarting" >&2; exit 0; }
  mapfile -d '' args < <(relaunch_args "${train_args[@]}")
done
