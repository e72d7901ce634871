#!/usr/bin/env bash
# scripts/test_slurm.sh - make test-slurm: a one-node Slurm cluster on
# loopback (munge with a local key, slurmctld and slurmd as this machine's
# hostname at 127.0.0.1, state in a temp dir), the example job array submitted
# with sbatch --array=1-8, its 8 reports merged and compared with the
# unsharded run. Everything it starts is stopped on exit. Needs root.
set -euo pipefail
scripts/deps.sh slurm
bin=$(realpath build/faultline)
work=$(mktemp -d /tmp/faultline-slurm.XXXXXX)
chmod 755 "$work"
host=$(hostname -s)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{munge,spool,state,log,reports} /run/munge
chown munge:munge "$work/munge" /run/munge
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$work/munge/munge.key"; chmod 400 "$work/munge/munge.key"
runuser -u munge -- munged --key-file="$work/munge/munge.key" --socket="$work/munge/sock" \
	--pid-file="$work/munge/pid" --log-file="$work/munge/log" --seed-file="$work/munge/seed" -F &
pids+=($!)
for _ in $(seq 20); do [ -S "$work/munge/sock" ] && break; sleep 0.5; done
[ -S "$work/munge/sock" ] || { echo "test-slurm: munged did not start" >&2; cat "$work/munge/log" >&2; exit 1; }
cpus=$(nproc)
cat > "$work/slurm.conf" <<CONF
ClusterName=faultline
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$((20000 + RANDOM % 10000))
SlurmdPort=$((30000 + RANDOM % 10000))
AuthType=auth/munge
AuthInfo=socket=$work/munge/sock
CredType=cred/munge
SlurmUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/ctld.log
SlurmdLogFile=$work/log/d.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -D -f "$SLURM_CONF" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" &
pids+=($!)
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix' && break; sleep 1; done
sinfo
sc="scenarios/webhook-quick-duplicate.yaml scenarios/ratelimit-expire-fails-once.yaml scenarios/dedup-redis-latency.yaml"
# shellcheck disable=SC2086
"$bin" matrix -q -n 200 -r "$work/whole" $sc >/dev/null || true
t0=$(date +%s)
job=$(sbatch --parsable --array=1-8 -o "$work/log/task-%a.out" --chdir="$PWD" \
	--export=ALL,FAULTLINE="$bin",SCENARIOS="$sc",SEEDS=200,OUT="$work/reports" \
	examples/slurm-array.sbatch)
echo "test-slurm: submitted job array $job"
for _ in $(seq 300); do
	[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
	sleep 1
done
[ -z "$(squeue -h -j "$job")" ] || { echo "test-slurm: job array still queued after 300 s" >&2; exit 1; }
echo "test-slurm: job array finished in $(( $(date +%s) - t0 )) s"
ls "$work/reports"
"$bin" report merge "$work/merged" "$work"/reports/shard-*
diff -r "$work/whole" "$work/merged"
echo "test-slurm: the 8 tasks' merged report equals the unsharded run"
