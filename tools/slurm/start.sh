#!/usr/bin/env bash
# Starts a throw-away single-node Slurm on 127.0.0.1 under DIR: its own munge key and munged, its own
# slurm.conf, slurmctld and slurmd (no cgroups: proctrack/linuxproc, task/none), and prints the path
# of that slurm.conf on the last line (clients find the cluster with SLURM_CONF=that path).
# Usage: tools/slurm/start.sh DIR [CPUS]   (stop with tools/slurm/stop.sh DIR)
# The daemons' pids are in DIR/*.pid; nothing is started outside DIR, nothing listens beyond loopback.
set -euo pipefail
DIR=$(mkdir -p "${1:?usage: start.sh DIR [CPUS]}" && cd "$1" && pwd)
CPUS=${2:-4}
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || { echo "$b not found: install the Debian packages munge slurmctld slurmd slurm-client (bash tools/setup.sh --test)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "tools/slurm/start.sh runs slurmd, which needs root" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/tmp"
chmod 700 "$DIR/munge"
head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
chmod 400 "$DIR/munge/munge.key"
SOCKET=$DIR/munge/munge.socket.2
# --force: the temp folder's parents are world-writable (sticky /tmp), which munged otherwise refuses.
munged --force --foreground --socket="$SOCKET" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munge/munged.pid" \
  --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" >"$DIR/munge/out.log" 2>&1 &
echo $! >"$DIR/munged.pid"
for _ in $(seq 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || { cat "$DIR/munge/munged.log" "$DIR/munge/out.log" >&2; exit 3; }

HOST=$(hostname -s)
cat >"$DIR/slurm.conf" <<CONF
ClusterName=iccltest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
TmpFS=$DIR/tmp
SlurmctldPidFile=$DIR/state/slurmctld.pid
SlurmdPidFile=$DIR/spool/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
ReturnToService=2
# SIGTERM, then SIGKILL 5 s later (scancel, time limit); finished jobs stay known to scontrol for 10 min.
KillWait=5
MinJobAge=600
NodeName=iccl1 NodeAddr=127.0.0.1 NodeHostname=$HOST CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=iccl1 Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$DIR/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$DIR/slurmctld.out" 2>&1 &
echo $! >"$DIR/slurmctld.pid"
slurmd -D -N iccl1 -f "$SLURM_CONF" >"$DIR/slurmd.out" 2>&1 &
echo $! >"$DIR/slurmd.pid"
# Ready when the node takes jobs.
for _ in $(seq 300); do
  state=$(sinfo -h -n iccl1 -o %T 2>/dev/null || true)
  case "$state" in idle*|mixed*|allocated*) echo "$SLURM_CONF"; exit 0 ;; esac
  sleep 0.1
done
echo "slurm did not come up (node state: ${state:-none})" >&2
tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" "$DIR/slurmctld.out" "$DIR/slurmd.out" >&2 2>/dev/null || true
exit 4
