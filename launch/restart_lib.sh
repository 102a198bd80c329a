# Shared by launch/train.sh and launch/slurm.sbatch (sourced, not run): how a restart finds
# the run's save and log directories in glm-train's arguments, the step it resumes from,
# the last step the failed job logged, and where each restart is recorded.
#   restart_lib_init "$@"        # sets save_dir, log_dir (glm-train's --save, --log-dir)
#   mapfile -d '' args < <(relaunch_args "$@")

restart_lib_init() {
  save_dir="" log_dir="${GLM_DEFAULT_LOG_DIR:-logs/run}"
  local a prev=""
  for a in "$@"; do
    case "$prev" in
      --save) save_dir="$a" ;;
      --log-dir) log_dir="$a" ;;
    esac
    case "$a" in
      --save=*) save_dir="${a#--save=}" ;;
      --log-dir=*) log_dir="${a#--log-dir=}" ;;
    esac
    prev="$a"
  done
}

# The arguments of a relaunch: the first launch's, with --load (and --load-iter) replaced by
# the save directory's latest checkpoint once one exists; NUL-separated.
relaunch_args() {
  local out=() skip=0 a
  for a in "$@"; do
    if (( skip )); then skip=0; continue; fi
    case "$a" in
      --load|--load-iter) skip=1 ;;
      --load=*|--load-iter=*) ;;
      *) out+=("$a") ;;
    esac
  done
  if [[ -e "$save_dir/latest" ]]; then out+=(--load "$save_dir"); else out=("$@"); fi
  printf '%s\0' "${out[@]}"
}

# The step of the save directory's latest checkpoint ("none" before the first save; the
# `latest` file holds the iteration number).
latest_step() {
  local n=""
  [[ -f "$save_dir/latest" ]] && n=$(tr -dc '0-9' < "$save_dir/latest")
  [[ -n "$n" ]] && echo $((10#$n)) || echo none
}

# The last training step metrics.jsonl logged (0 when it has none).
last_logged_step() {
  local line
  line=$(grep '"loss":' "$log_dir/metrics.jsonl" 2>/dev/null | tail -n 1 || true)
  [[ "$line" =~ \"step\":\ *([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
}

# Stop events the trainer logged (one per stop on a signal, with its checkpoint).
stop_events() {
  local n
  n=$(grep -c '"event":"stop"' "$log_dir/metrics.jsonl" 2>/dev/null)
  echo "${n:-0}"
}

log_restart() {  # restart exit_code cause resume_step last_step backoff_s
  mkdir -p "$log_dir"
  printf '{"time": "%s", "restart": %d, "exit_code": %d, "cause": "%s", "resumes_from_step": "%s", "last_logged_step": %d, "backoff_s": %d}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$3" "$4" "$5" "$6" >> "$log_dir/restarts.jsonl"
}
