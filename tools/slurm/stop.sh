#!/usr/bin/env bash
# Stops the cluster tools/slurm/start.sh DIR started: cancels its jobs, then ends slurmd, slurmctld
# and munged by the pids it wrote, and removes DIR.
set -uo pipefail
DIR=${1:?usage: stop.sh DIR}
export SLURM_CONF=$DIR/slurm.conf
if [ -f "$SLURM_CONF" ] && [ -f "$DIR/slurmctld.pid" ]; then
  scancel --full --quiet --user="$(id -un)" 2>/dev/null
  for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
fi
for d in slurmd slurmctld munged; do
  pid=$(cat "$DIR/$d.pid" 2>/dev/null) || continue
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
done
rm -rf "$DIR"
