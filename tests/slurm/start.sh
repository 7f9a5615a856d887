#!/usr/bin/env bash
# A one-node Slurm on this machine for the sweep tests: munged, slurmctld and slurmd as root.
#
#   tests/slurm/start.sh [--install]     # --install: apt-get install slurm-wlm munge first
#   export SLURM_CONF=$SLURM_LOCAL_DIR/slurm.conf   (printed at the end)
#   tests/slurm/stop.sh                  # stops what this script started, nothing else
#
# Everything lives in $SLURM_LOCAL_DIR (default /tmp/derm-harness-slurm): the config, the
# state, the logs, and the pid of each daemon this script started (stop.sh reads them).
# No accounting daemon (slurmdbd needs a MySQL/MariaDB server): job states are read from
# squeue and, once a job has left the queue, from jobcomp/filetxt's log (see docs/scale.md).
set -euo pipefail
DIR=${SLURM_LOCAL_DIR:-/tmp/derm-harness-slurm}
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-6818}

if [[ ${1:-} == --install ]] && ! command -v slurmctld >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi
for tool in munged slurmctld slurmd sbatch; do
    command -v "$tool" >/dev/null || { echo "slurm-local: $tool is not installed (run with --install, as root)" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "slurm-local: slurmctld and slurmd run as root here; run as root" >&2; exit 2; }

mkdir -p "$DIR/ctld" "$DIR/spool" "$DIR/munge"
host=$(hostname -s)
# The node's real CPUs and memory, as slurmd itself reports them.
node=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //; s/ UpTime.*//')
cat > "$DIR/slurm.conf" <<CONF
ClusterName=derm-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
MinJobAge=3600
KillWait=5
DefMemPerCPU=2048
SchedulerParameters=sched_interval=2
NodeName=$host $node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! alive "$DIR/munged.pid"; then
    chmod 700 "$DIR/munge"
    [[ -f $DIR/munge/munge.key ]] || { dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none; chmod 400 "$DIR/munge/munge.key"; }
    munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
        --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munge/seed"
fi
export SLURM_CONF=$DIR/slurm.conf
alive "$DIR/slurmctld.pid" || slurmctld -f "$SLURM_CONF"
alive "$DIR/slurmd.pid" || slurmd -f "$SLURM_CONF"

for _ in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
        echo "slurm-local: up ($(sinfo -h -o '%N %c CPUs %m MB %t'))"
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.5
done
echo "slurm-local: the node did not come up within 30 s; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
exit 1
