#!/usr/bin/env bash
# The fault suite (ctest label "faults"): real glm-train jobs under launch/train.sh, each
# trial with a fault injected from outside, asserting the exit code, that nothing hangs
# (every job runs under `timeout`), and that training continues bit for bit: the loss of
# the last step equals that of an uninterrupted run of the same layout.
#   tests/faults/run_faults.sh BUILD_DIR CORPUS_DIR WORK_DIR
# Trials: SIGKILL of a rank and of mpirun at a step chosen by a seed (supervised restart),
# a crash loop (the same step killed twice), SIGTERM to the launcher, SIGTERM to one rank,
# SIGTERM to one rank of a resumed run before its first step (the agreed skip of a step
# already saved), SIGINT twice, SIGKILL during a save and during a background save, SIGKILL
# at random moments of background saves, an input error (no restart), a SLURM requeue, and a
# full disk during a save (a small tmpfs, where mounting is permitted), and a hung rank.
source "$(dirname "$0")/../real_job_script.sh" "$@"
steps=12
base=(--config configs/tiny.json --data "$corpus" --train-iters $steps --set train.log_interval=1
      --set train.eval_interval=0 --save-interval 4)
fail() { echo "FAIL [$trial]: $*"; failures=$((failures + 1)); }
ok() { echo "ok   [$trial]: $*"; }
last_loss() { grep "\"step\":$steps," "$1/metrics.jsonl" | grep -o '"loss":[-0-9.e]*' | tail -n 1; }
rank_pids() { pgrep -x glm-train -a | grep -F -- "$1" | cut -d' ' -f1; }
# A kill or a signal lands where the trial chooses, whatever the machine's speed: the job runs
# with GLM_TEST_HOLD=POINT:RELEASE (src/core/test_hold.h), its processes wait at POINT, each
# announcing itself with RELEASE.held.<pid>, until the trial creates RELEASE.
held() { compgen -G "$1.held.*" | wc -l; }
wait_held() {  # release n: until n processes hold (at most 120 s)
  for _ in $(seq 1 1200); do (( $(held "$1") >= $2 )) && return 0; sleep 0.1; done
  return 1
}
wait_gone() {  # pids...: until they have exited (at most 20 s), then SIGKILL what is left
  for _ in $(seq 1 200); do kill -0 "$@" 2>/dev/null || return 0; sleep 0.1; done
  echo "note [$trial]: $* outlived the kill by 20 s; killing them"; kill -KILL "$@" 2>/dev/null
  return 0
}
launch() {  # name extra_launcher_args...: starts a supervised job in the background
  local name=$1; shift
  timeout 300 launch/train.sh -n 2 --threads 1 "$@" -- "${base[@]}" --save "$work/$name/ckpt" \
    --log-dir "$work/$name/log" > "$work/$name.out" 2>&1 &
  job=$!
}

trial=reference
timeout 300 launch/train.sh -n 2 --threads 1 -- "${base[@]}" --save "$work/ref/ckpt" \
  --log-dir "$work/ref/log" > "$work/ref.out" 2>&1
rc=$?
ref=$(last_loss "$work/ref/log")
if (( rc != 0 )) || [[ -z "$ref" ]]; then
  fail "the uninterrupted run failed (exit $rc)"; cat "$work/ref.out"; exit 1
fi
ok "uninterrupted: $ref at step $steps"

for seed in 1 2; do
  for target in rank launcher; do
    trial="SIGKILL $target, seed $seed"
    name="kill_${target}_$seed"
    at=$(( 2 + (seed * 7 + ${#target}) % (steps - 3) ))
    release=$work/$name.release
    GLM_TEST_HOLD="after_step_$at:$release" launch "$name" --max-restarts 2 --restart-backoff 1
    if ! wait_held "$release" 2; then
      fail "never held after step $at"; touch "$release"; kill "$job"; continue
    fi
    ranks=$(rank_pids "$work/$name/ckpt")
    if [[ $target == rank ]]; then
      pid=$(sed -n "$(( seed % 2 + 1 ))p" <<< "$ranks")
    else
      pid=$(pgrep -f -- "mpirun.*$work/$name/ckpt" | head -n 1)
    fi
    kill -KILL "$pid"
    # the killed job's ranks go before the hold opens: none of them trains on, and the
    # restarted job passes step $at
    wait_gone $ranks
    touch "$release"
    wait "$job"; rc=$?
    got=$(last_loss "$work/$name/log")
    restarts=$(wc -l < "$work/$name/log/restarts.jsonl" 2>/dev/null || echo 0)
    if (( rc != 0 )); then fail "exit $rc"; tail -5 "$work/$name.out"
    elif [[ "$got" != "$ref" ]]; then fail "loss $got, uninterrupted $ref"
    elif (( restarts != 1 )); then fail "$restarts restarts logged, expected 1"
    else ok "killed after step $at, one restart, $got"; fi
  done
done

trial="crash loop"
name=crash_loop
# rank 0 dies after step 6 on every attempt (a test hook of the trainer): the restart
# resumes from step 4 and dies at step 6 again
GLM_TEST_CRASH_AT_STEP=6 launch "$name" --max-restarts 5 --restart-backoff 0
wait "$job"; rc=$?
restarts=$(grep -c '"job failed"' "$work/$name/log/restarts.jsonl" 2>/dev/null)
if (( rc == 1 )) && grep -q "crash loop" "$work/$name.out" && [[ "$restarts" == 1 ]]
then ok "exit 1 after two failures at step 6, one restart"
else fail "exit $rc, ${restarts:-0} restarts"; tail -5 "$work/$name.out"; fi

trial="SIGTERM to the launcher"
name=term_launcher
release=$work/$name.release
GLM_TEST_HOLD="after_step_3:$release" launch "$name"
wait_held "$release" 2
kill -TERM "$(pgrep -P "$job" -f launch/train.sh)"  # the launcher, not timeout's process group
wait "$job"; rc=$?  # each rank leaves the hold when the SIGUSR1 reaches it
touch "$release"
k=$(tr -dc 0-9 < "$work/$name/ckpt/latest" 2>/dev/null)
if (( rc != 0 )); then fail "exit $rc"; tail -5 "$work/$name.out"
elif [[ "$k" != 3 ]]; then fail "no stop checkpoint at step 3 (latest '$k')"
else
  timeout 300 launch/train.sh -n 2 --threads 1 -- "${base[@]}" --load "$work/$name/ckpt" \
    --save "$work/$name/ckpt" --log-dir "$work/$name/log2" > "$work/$name.2.out" 2>&1
  got=$(last_loss "$work/$name/log2")
  [[ "$got" == "$ref" ]] && ok "exit 0, saved step $k, the resumed run gives $got" || fail "resumed loss $got, uninterrupted $ref"
fi

trial="SIGTERM to one rank"
name=term_rank
release=$work/$name.release
GLM_TEST_HOLD="after_step_3:$release" launch "$name"
wait_held "$release" 2
kill -TERM "$(rank_pids "$work/$name/ckpt" | tail -n 1)"
# the signalled rank leaves the hold at once; the other waits until the signal has landed
for _ in $(seq 1 600); do compgen -G "$release.left.*" > /dev/null && break; sleep 0.1; done
touch "$release"
wait "$job"; rc=$?
k=$(tr -dc 0-9 < "$work/$name/ckpt/latest" 2>/dev/null)
if (( rc == 0 )) && [[ "$k" == 3 ]] && grep -q "SIGTERM received: stopped after step $k" "$work/$name.out"
then ok "every rank stopped after step $k, exit 0"; else fail "exit $rc, latest '$k'"; tail -5 "$work/$name.out"; fi

trial="SIGTERM to one rank of a resumed run before its first step"
# the stop checkpoint of step 12 is already in the save directory: rank 0 sees it, and every
# rank follows that one decision (a rank deciding alone would hang the others in the save)
name=term_resumed
release=$work/$name.release
mkdir -p "$work/$name" && cp -r "$work/ref/ckpt" "$work/$name/ckpt"
GLM_TEST_HOLD="before_run_$steps:$release" timeout 300 launch/train.sh -n 2 --threads 1 -- \
  "${base[@]}" --load "$work/$name/ckpt" --save "$work/$name/ckpt" --log-dir "$work/$name/log" \
  > "$work/$name.out" 2>&1 &
job=$!
wait_held "$release" 2
kill -TERM "$(rank_pids "$work/$name/ckpt" | tail -n 1)"
for _ in $(seq 1 600); do compgen -G "$release.left.*" > /dev/null && break; sleep 0.1; done
touch "$release"
wait "$job"; rc=$?
if (( rc == 0 )) && grep -q "checkpoint of step $steps already in" "$work/$name.out" &&
   ! grep -q "saved checkpoint" "$work/$name.out"
then ok "the saved step $steps was not written again, exit 0"; else fail "exit $rc"; tail -5 "$work/$name.out"; fi

trial="SIGINT twice"
name=int_twice
# held after step 2 for the first SIGINT, which it leaves for the stop checkpoint of step 2,
# held in that save for the second (two SIGINTs sent at once could merge into one)
release=$work/$name.release
GLM_TEST_HOLD="after_step_2:$release,save_step_2:$release.save" timeout 300 \
  "$build/bin/glm-train" "${base[@]/#$steps/100000}" --save "$work/$name/ckpt" \
  --log-dir "$work/$name/log" > "$work/$name.out" 2>&1 &
job=$!
wait_held "$release" 1
pid=$(pgrep -P "$job" -x glm-train)  # glm-train itself, not timeout
kill -INT "$pid"
wait_held "$release.save" 1
kill -INT "$pid"
wait "$job"; rc=$?
touch "$release" "$release.save"
(( rc == 130 )) && grep -q "second SIGINT" "$work/$name.out" && ok "exit 130 at once" || { fail "exit $rc"; tail -3 "$work/$name.out"; }

trial="SIGKILL during a save"
name=kill_in_save
release=$work/$name.release
# the second save (step 8), held once its rank files are written and before it is published,
# so that a finished checkpoint (step 4) must stay in charge
GLM_TEST_HOLD="save_step_8:$release" launch "$name"
wait_held "$release" 1
ranks=$(rank_pids "$work/$name/ckpt")
pkill -KILL -f -- "mpirun.*$work/$name/ckpt"
wait_gone $ranks  # the job dies in its save: no rank outlives mpirun into the publication
wait "$job"
touch "$release"
k=$(tr -dc 0-9 < "$work/$name/ckpt/latest" 2>/dev/null)
if [[ "$k" != 4 ]] || ! [[ -d "$work/$name/ckpt/iter_00000008.tmp" ]]; then
  fail "the kill missed the save: latest '$k', want 4 with iter_00000008.tmp left behind"
elif "$build/bin/glm-ckpt" verify "$work/$name/ckpt" > "$work/$name.verify" 2>&1; then
  timeout 300 launch/train.sh -n 2 --threads 1 -- "${base[@]}" --load "$work/$name/ckpt" \
    --save "$work/$name/ckpt" --log-dir "$work/$name/log2" > "$work/$name.2.out" 2>&1
  got=$(last_loss "$work/$name/log2")
  [[ "$got" == "$ref" ]] && ok "the latest checkpoint verifies and resumes to $got" || fail "resumed loss $got, uninterrupted $ref"
else
  fail "glm-ckpt verify failed"; cat "$work/$name.verify"
fi

trial="SIGKILL during a background save"
# train.save_mode "async": the writer threads of step 8's save hold, before writing their
# files or after (unpublished), while training goes on; mpirun is killed then: latest must
# stay on step 4, and the supervised restart resumes from it to the uninterrupted loss
for point in background_write background_written; do
  name=kill_in_$point
  release=$work/$name.release
  GLM_TEST_HOLD="${point}_8:$release" timeout 300 launch/train.sh -n 2 --threads 1 \
    --max-restarts 2 --restart-backoff 1 -- "${base[@]}" --set 'train.save_mode="async"' \
    --save "$work/$name/ckpt" --log-dir "$work/$name/log" > "$work/$name.out" 2>&1 &
  job=$!
  wait_held "$release" 2
  ranks=$(rank_pids "$work/$name/ckpt")
  k=$(tr -dc 0-9 < "$work/$name/ckpt/latest" 2>/dev/null)
  pkill -KILL -f -- "mpirun.*$work/$name/ckpt"
  wait_gone $ranks
  touch "$release"
  wait "$job"; rc=$?
  got=$(last_loss "$work/$name/log")
  from=$(grep -o '"resumes_from_step": "[0-9]*"' "$work/$name/log/restarts.jsonl" 2>/dev/null | grep -o '[0-9]*' | head -n 1)
  if (( rc != 0 )); then fail "$point: exit $rc"; tail -5 "$work/$name.out"
  elif [[ "$k" != 4 || "$from" != 4 ]]; then fail "$point: latest '$k' when killed, restart from '$from'; want 4"
  elif [[ "$got" != "$ref" ]]; then fail "$point: loss $got, uninterrupted $ref"
  else ok "killed at $point of step 8: latest stayed 4, the restart gave $got"; fi
done

trial="SIGKILL at random moments of background saves"
# train.save_mode "async" with a save every step, so that a save is nearly always in flight
# (being copied, written, hashed or published); mpirun is killed at a random moment after
# the first one is published (the delay is printed, to replay it): latest must verify and
# resume to the uninterrupted loss
every=("${base[@]/#4/1}")  # --save-interval 1
for k in 1 2 3; do
  name=kill_random_$k
  delay=$(printf '0.%03d' $(( RANDOM % 400 )))
  timeout 300 launch/train.sh -n 2 --threads 1 -- "${every[@]}" --set 'train.save_mode="async"' \
    --save "$work/$name/ckpt" --log-dir "$work/$name/log" > "$work/$name.out" 2>&1 &
  job=$!
  for _ in $(seq 1 1200); do [[ -e "$work/$name/ckpt/latest" ]] && break; sleep 0.1; done
  sleep "$delay"
  # the whole job at once, as when its nodes are lost: the ranks, then mpirun
  ranks=$(rank_pids "$work/$name/ckpt")
  [[ -n "$ranks" ]] && kill -KILL $ranks 2>/dev/null
  pkill -KILL -f -- "mpirun.*$work/$name/ckpt"
  [[ -n "$ranks" ]] && wait_gone $ranks
  wait "$job"; rc=$?
  at=$(tr -dc 0-9 < "$work/$name/ckpt/latest" 2>/dev/null)
  if (( rc == 0 || at == steps )); then
    echo "note [$trial]: the job ended before the kill $delay s after the first save; nothing to check"
    continue
  fi
  if ! "$build/bin/glm-ckpt" verify "$work/$name/ckpt" > "$work/$name.verify" 2>&1; then
    fail "killed $delay s after the first save: latest ($at) does not verify"; tail -3 "$work/$name.verify"
    continue
  fi
  timeout 300 launch/train.sh -n 2 --threads 1 -- "${every[@]}" --set 'train.save_mode="async"' \
    --load "$work/$name/ckpt" --save "$work/$name/ckpt" --log-dir "$work/$name/log2" \
    > "$work/$name.2.out" 2>&1
  got=$(last_loss "$work/$name/log2")
  [[ "$got" == "$ref" ]] && ok "killed $delay s after the first save: latest $at verifies and resumes to $got" ||
    fail "killed $delay s after the first save: latest $at resumed to '$got', uninterrupted $ref"
done

trial="input error"
name=input_error
timeout 300 launch/train.sh -n 2 --threads 1 --max-restarts 3 -- "${base[@]}" --seed -1 \
  --save "$work/$name/ckpt" --log-dir "$work/$name/log" > "$work/$name.out" 2>&1
rc=$?
if (( rc == 2 )) && ! [[ -e "$work/$name/log/restarts.jsonl" ]] && grep -q "not restarting" "$work/$name.out"
then ok "exit 2, no restart"; else fail "exit $rc"; tail -3 "$work/$name.out"; fi

trial="SLURM requeue"
name=slurm
# srun and scontrol stand-ins: srun runs the ranks under mpirun, scontrol records the requeue
mkdir -p "$work/$name/bin"
printf '#!/usr/bin/env bash\nwhile [[ $1 == --* ]]; do shift; done\nexec mpirun --oversubscribe -n 2 --bind-to none "$@"\n' > "$work/$name/bin/srun"
printf '#!/usr/bin/env bash\necho "$@" >> %q\n' "$work/$name/scontrol.log" > "$work/$name/bin/scontrol"
chmod +x "$work/$name/bin/srun" "$work/$name/bin/scontrol"
slurm_job() {  # restart_count extra_env...
  env PATH="$work/$name/bin:$PATH" GLM_LAUNCHER=srun SLURM_JOB_ID=77 SLURM_RESTART_COUNT="$1" GLM_MAX_RESTARTS=2 \
    SLURM_CPUS_PER_TASK=1 "${@:2}" timeout 300 bash launch/slurm.sbatch "${base[@]}" \
    --save "$work/$name/ckpt" --log-dir "$work/$name/log" >> "$work/$name.out" 2>&1
}
slurm_job 0 GLM_TEST_CRASH_AT_STEP=6; rc1=$?
slurm_job 1; rc2=$?
got=$(last_loss "$work/$name/log")
if (( rc1 == 0 && rc2 == 0 )) && grep -q "requeue 77" "$work/$name/scontrol.log" 2>/dev/null && [[ "$got" == "$ref" ]]
then ok "the failed step requeued the job, which resumed to $got"
else fail "exits $rc1, $rc2; loss $got"; tail -5 "$work/$name.out"; fi

trial="disk full"
name=disk_full
# a tmpfs with room for one checkpoint (17.5 MB) but not two; where mounting is not
# permitted the trial says so and counts as skipped, not passed
mkdir -p "$work/$name/fs"
if mount -t tmpfs -o size=30m tmpfs "$work/$name/fs" 2> "$work/$name.mount"; then
  full_args=("${base[@]/#$steps/6}")
  full_args=("${full_args[@]/#4/2}")  # --save-interval 2: the second save overflows
  # "stop" with a synchronous save, then with a background one (its failure surfaces when
  # the save is published)
  for mode in sync async; do
    timeout 300 launch/train.sh -n 2 --threads 1 -- "${full_args[@]}" \
      --save "$work/$name/fs/ckpt" --log-dir "$work/$name/log" \
      --set "train.save_mode=\"$mode\"" > "$work/$name.$mode.out" 2>&1
    rc=$?
    left=$(compgen -G "$work/$name/fs/ckpt/*.tmp" | wc -l)
    k=$(tr -dc 0-9 < "$work/$name/fs/ckpt/latest" 2>/dev/null)
    if (( rc == 1 )) && grep -q "No space left on device" "$work/$name.$mode.out" && (( left == 0 )) && [[ "$k" == 2 ]]
    then ok "stop, $mode save: exit 1 naming the file and 'No space left on device', no partial directory, latest 2"
    else fail "stop, $mode save: exit $rc, $left partial directories, latest '$k'"; grep -m2 error "$work/$name.$mode.out"; fi
    rm -rf "$work/$name/fs/ckpt" "$work/$name/log"
  done
  timeout 300 launch/train.sh -n 2 --threads 1 -- "${full_args[@]}" \
    --save "$work/$name/fs/ckpt" --log-dir "$work/$name/log" \
    --set 'train.save_failure="continue"' > "$work/$name.2.out" 2>&1
  rc=$?
  failed=$(grep -c '"event":"save_failed"' "$work/$name/log/metrics.jsonl" 2>/dev/null)
  if (( rc == 0 )) && [[ "$failed" == 2 ]]; then ok "continue: exit 0, the two failed saves logged"
  else fail "continue: exit $rc, ${failed:-0} failed saves logged"; fi
  umount "$work/$name/fs"
else
  echo "skip [$trial]: cannot mount a tmpfs here ($(head -c 200 "$work/$name.mount"))"
fi

trial="injected hang"
name=hang
# rank 1 stops making progress when step 3 begins (a test hook of the trainer); rank 0 then
# waits in the step's first reduction. The watchdog must end the job within seconds.
start=$(date +%s)
GLM_TEST_STALL_AT_STEP=3:1 timeout 120 launch/train.sh -n 2 --threads 1 -- "${base[@]}" \
  --hang-timeout 4 --log-dir "$work/$name/log" > "$work/$name.out" 2>&1
rc=$? took=$(( $(date +%s) - start ))
if (( rc != 0 && rc != 124 )) && grep -q "hang: rank . made no progress" "$work/$name.out" &&
   grep -q "every rank's phase (those outside a collective first, then the longest in it): rank 1 data" "$work/$name.out"
then ok "aborted after ${took}s (exit $rc), naming rank 1 in phase data first"
else fail "exit $rc after ${took}s"; grep -m2 "hang:" "$work/$name.out"; fi

trial="non-finite provenance"
name=nonfinite
# fp16 with a loss scale of 1e30: every step overflows; each rank names where it began
timeout 300 launch/train.sh -n 2 --threads 1 -- "${base[@]/#$steps/2}" --precision fp16 \
  --set optim.initial_loss_scale=1e30 --debug-nonfinite --log-dir "$work/$name/log" \
  > "$work/$name.out" 2>&1
rc=$?
named=$(grep -c "step 1: first non-finite: parameter gradient: embedding" "$work/$name.out")
if (( rc == 0 && named == 2 )); then ok "both ranks named the tied head's gradient at step 1"
else fail "exit $rc, $named ranks named it"; grep -m2 "non-finite" "$work/$name.out"; fi

echo "fault suite: $failures failed"
exit $(( failures > 0 ))
