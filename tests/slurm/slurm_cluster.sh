#!/usr/bin/env bash
# launch/slurm.sbatch on a real SLURM: munged, slurmctld and two slurmd ("n1", "n2", both on
# 127.0.0.1, each with its own port and spool directory) brought up on this machine, then
#   1. a tiny run over both nodes with tp 2 trains to its last step (2 nodes in the job);
#   2. scancel --batch --signal=TERM stops a second run: every rank saves and the job exits 0;
#   3. that run submitted again with --load continues bit for bit: its losses from the saved
#      step on equal the uninterrupted run's;
#   4. a time limit (--time=2 with --signal=B:TERM@60) also makes the job save and exit 0.
# Exits 77 (ctest: skipped) with the reason when SLURM or munge is missing or cannot start.
#   tests/slurm/slurm_cluster.sh BUILD_DIR CORPUS_DIR
set -uo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:?usage: tests/slurm/slurm_cluster.sh BUILD_DIR CORPUS_DIR}")
corpus=$(realpath "${2:?usage: tests/slurm/slurm_cluster.sh BUILD_DIR CORPUS_DIR}")
skip() { echo "SKIP: $*"; exit 77; }
for b in munged slurmctld slurmd sbatch scancel scontrol sinfo squeue; do
  command -v "$b" > /dev/null || skip "$b not installed (apt install slurmctld slurmd slurm-client munge)"
done
(( $(id -u) == 0 )) || skip "the daemons run as root here (SlurmUser=root); run as root"

work=$(mktemp -d /tmp/glm_slurm.XXXX)
port=$(( 20000 + $$ % 20000 ))
export SLURM_CONF="$work/slurm.conf"
cleanup() {
  scontrol shutdown > /dev/null 2>&1
  for p in "$work"/*.pid "$work"/munge/munged.pid; do [[ -f "$p" ]] && kill "$(cat "$p")" 2> /dev/null; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# --- the cluster ------------------------------------------------------------------------
mkdir -p "$work/munge" "$work/state" "$work/log"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$work/munge/munge.key"
munged --force -S "$work/munge/sock" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/log" --seed-file="$work/munge/seed" \
  || skip "munged did not start: $(tail -2 "$work/munge/log" 2> /dev/null)"
host=$(hostname)
cat > "$SLURM_CONF" <<EOF
ClusterName=glmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
AuthType=auth/munge
AuthInfo=socket=$work/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool_%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd_%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd_%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + 1)) CPUs=$(nproc) State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + 2)) CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF
slurmctld -f "$SLURM_CONF" || skip "slurmctld did not start: $(tail -3 "$work/log/slurmctld.log" 2> /dev/null)"
slurmd -f "$SLURM_CONF" -N n1 && slurmd -f "$SLURM_CONF" -N n2 ||
  skip "slurmd did not start: $(tail -3 "$work/log/slurmd_n1.log" 2> /dev/null)"
for _ in $(seq 60); do
  [[ "$(sinfo -h -o '%T %D' 2> /dev/null)" == "idle 2" ]] && break
  sleep 1
done
[[ "$(sinfo -h -o '%T %D')" == "idle 2" ]] || skip "the two nodes did not come up: $(sinfo 2>&1 | tail -2)"
echo "SLURM $(sinfo -V | cut -d' ' -f2): nodes n1, n2 idle (slurmctld port $port)"

# --- jobs -------------------------------------------------------------------------------
train=(--config configs/tiny.json --data "$corpus" --tp 2 --set model.vocab_size=6016
       --set train.micro_batch_size=2 --set train.log_interval=1 --set train.eval_interval=0
       --set train.eval_iters=1 --set train.save_interval=0)
submit() {  # name sbatch-options... -- glm-train-args...: prints the job id
  local name=$1; shift
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  GLM_BUILD_DIR="$build" sbatch --parsable --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 \
    --output="$work/$name.out" --job-name="$name" "${opts[@]}" launch/slurm.sbatch \
    "${train[@]}" --log-dir "$work/$name/log" "$@"
}
job_field() { scontrol show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
wait_done() {  # job seconds
  for _ in $(seq "$2"); do
    [[ -z "$(squeue -h -j "$1" 2> /dev/null)" ]] && return 0
    sleep 1
  done
  return 1
}
losses() {  # log dir -> "step loss" lines
  python3 -c 'import json,sys
for l in open(sys.argv[1] + "/metrics.jsonl"):
    j = json.loads(l)
    if "loss" in j and "step" in j: print(j["step"], json.dumps(j["loss"]))' "$1"
}
last_step() { losses "$1" 2> /dev/null | tail -1 | cut -d' ' -f1; }

# 1. an uninterrupted run over both nodes
steps=200
a=$(submit full -- --train-iters $steps --save "$work/full/ckpt")
wait_done "$a" 600 || fail "run over two nodes: still running after 600 s"
if [[ "$(job_field "$a" JobState)" == COMPLETED && "$(job_field "$a" NumNodes)" == 2 &&
      "$(last_step "$work/full/log")" == $steps ]]
then ok "job $a trained $steps steps with tp 2 on nodes $(job_field "$a" NodeList)"
else fail "job $a: state $(job_field "$a" JobState), $(job_field "$a" NumNodes) nodes, last step $(last_step "$work/full/log")"; tail -5 "$work/full.out"; fi

# 2. scancel --batch --signal=TERM: the ranks save and the job exits 0
b=$(submit stopped -- --train-iters $steps --save "$work/stopped/ckpt")
for _ in $(seq 600); do
  s=$(last_step "$work/stopped/log"); [[ -n "$s" && "$s" -ge 20 ]] && break
  sleep 0.2
done
scancel --batch --signal=TERM "$b"
wait_done "$b" 300 || fail "stopped run: still running 300 s after SIGTERM"
k=$(tr -dc 0-9 < "$work/stopped/ckpt/latest" 2> /dev/null)
if [[ "$(job_field "$b" JobState)" == COMPLETED && "$(job_field "$b" ExitCode)" == 0:0 && -n "$k" && "$k" -lt $steps ]] &&
   grep -q "stopped on request (exit 0)" "$work/stopped.out"
then ok "scancel --batch --signal=TERM: job $b saved step $k and exited 0"
else fail "job $b after SIGTERM: state $(job_field "$b" JobState), exit $(job_field "$b" ExitCode), latest '$k'"; tail -5 "$work/stopped.out"; fi

# 3. submitted again with --load: the same losses as the uninterrupted run, bit for bit
c=$(submit stopped -- --train-iters $steps --save "$work/stopped/ckpt" --load "$work/stopped/ckpt")
wait_done "$c" 600 || fail "resumed run: still running after 600 s"
want=$(losses "$work/full/log" | awk -v k="$k" '$1 > k')
got=$(losses "$work/stopped/log" | awk -v k="$k" '$1 > k')
if [[ "$(job_field "$c" JobState)" == COMPLETED && -n "$want" && "$got" == "$want" ]]
then ok "job $c resumed from step $k: steps $((k + 1))-$steps have the uninterrupted losses, bit for bit"
else fail "job $c: state $(job_field "$c" JobState); $(diff <(echo "$want") <(echo "$got") | head -4)"; tail -5 "$work/stopped.out"; fi

# 4. the time limit: SIGTERM 60 s before it (slurmctld checks about once a minute, so it
# lands 60-120 s into the job: after mpirun has started its ranks, which a loaded machine
# can take over 10 s to do; a signal during that start-up aborts mpirun instead)
d=$(submit limited --time=2 --signal=B:TERM@60 -- --train-iters 1000000 --save "$work/limited/ckpt")
wait_done "$d" 300 || fail "time-limited run: still running after 300 s"
k=$(tr -dc 0-9 < "$work/limited/ckpt/latest" 2> /dev/null)
if [[ "$(job_field "$d" JobState)" == COMPLETED && -n "$k" ]] && grep -q "stopped on request (exit 0)" "$work/limited.out"
then ok "--time=2 --signal=B:TERM@60: job $d saved step $k before its time limit and exited 0"
else fail "job $d: state $(job_field "$d" JobState), exit $(job_field "$d" ExitCode), latest '$k'"; tail -5 "$work/limited.out"; fi

(( fails == 0 )) || { echo "$fails SLURM checks failed (logs: $work kept)"; trap - EXIT; scontrol shutdown > /dev/null 2>&1; exit 1; }
echo "all SLURM checks passed"
