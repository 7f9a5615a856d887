#!/usr/bin/env bash
# Stops the daemons tests/slurm/start.sh started (by the pids it recorded), nothing else.
set -uo pipefail
DIR=${SLURM_LOCAL_DIR:-/tmp/derm-harness-slurm}
for name in slurmd slurmctld munged; do
    pidfile=$DIR/$name.pid
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
done
echo "slurm-local: stopped"
