#!/usr/bin/env bash
# tests/cluster/up.sh [STATE_DIR] -- bring up a private single-node SLURM 22.05 cluster for
# the SLURM tests (used by .ci/run and tests/conftest.py); install.sh installs the packages.
# munged + slurmctld + slurmd, without systemd and without cgroups.
#
# Everything (conf, munge key/socket, state, spool, logs, PID files) lives in
# STATE_DIR (default: a fresh mktemp -d). Idempotent: if the daemons recorded
# in STATE_DIR are alive and the node answers, it only re-prints the env line.
#
# Output (stdout, last line): export SLURM_CONF=STATE_DIR/slurm.conf PATH=STATE_DIR/bin:$PATH
# Also written to STATE_DIR/env.sh  (source it). STATE_DIR/bin holds wrappers
# for srun/sbatch/squeue/... that pin SLURM_CONF (see write_wrappers).
#
# Env knobs: SLURM_LAB_CTLD_PORT (6817), SLURM_LAB_SLURMD_PORT (6818),
#            SLURM_LAB_TIMEOUT (60 s per wait), SLURM_LAB_PARTITION (debug),
#            SLURM_LAB_MIN_JOB_AGE (300)
# Must run as root (munged is started as the 'munge' user).
set -euo pipefail

CTLD_PORT=${SLURM_LAB_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_LAB_SLURMD_PORT:-6818}
TIMEOUT=${SLURM_LAB_TIMEOUT:-60}
PARTITION=${SLURM_LAB_PARTITION:-debug}
MIN_JOB_AGE=${SLURM_LAB_MIN_JOB_AGE:-300}
NODE=localhost

die()  { echo "up.sh: ERROR: $*" >&2; exit 1; }
log()  { echo "up.sh: $*" >&2; }
tail_log() { [ -f "$1" ] && { echo "---- last lines of $1 ----" >&2; tail -n 20 "$1" >&2; } || true; }

[ "$(id -u)" = 0 ] || die "must run as root"
for b in munged slurmctld slurmd sinfo scontrol runuser; do
  command -v "$b" >/dev/null || die "'$b' not found (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge)"
done
id munge >/dev/null 2>&1 || die "user 'munge' missing (install package munge)"

T0=$(date +%s.%N)
if [ $# -ge 1 ] && [ -n "$1" ]; then STATE=$1; mkdir -p "$STATE"; else STATE=$(mktemp -d /tmp/slurm-lab-state.XXXXXX); fi
STATE=$(cd "$STATE" && pwd -P)
# munge user must traverse into STATE; munged also rejects group/world-writable dirs.
chmod 0755 "$STATE"
CONF=$STATE/slurm.conf
MUNGE_DIR=$STATE/munge
SOCK=$MUNGE_DIR/munge.socket.2
export SLURM_CONF=$CONF

# pid_alive PIDFILE COMM -> true if pidfile names a live process with that comm
pid_alive() {
  local f=$1 comm=$2 pid
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 < "$f"); [ -n "$pid" ] || return 1
  [ -r "/proc/$pid/comm" ] || return 1
  # Debian's binaries are slurmctld-wlm / slurmd-wlm via update-alternatives
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in "$comm"|"$comm"-wlm) ;; *) return 1;; esac
  # not a zombie
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
# wait_for SECONDS DESC CMD... : poll CMD every 0.5 s
wait_for() {
  local secs=$1 desc=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}
node_idle() { timeout 15 sinfo -h -n "$NODE" -o '%t' 2>/dev/null | grep -qxE '(idle|mix|alloc)'; }  # no suffix: '*'=not responding, '~' etc.
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# Client wrappers in STATE/bin that pin SLURM_CONF. Needed because
# snakemake-executor-plugin-slurm-jobstep (0.6.1) strips all SLURM_* vars
# (incl. SLURM_CONF) before its inner `srun`, which then fails with
# "fetch_config: DNS SRV lookup failed". PATH survives, so the wrapper wins.
write_wrappers() {
  local b
  mkdir -p "$STATE/bin"
  for b in srun sbatch squeue scontrol sinfo scancel sacct salloc; do
    [ -x "/usr/bin/$b" ] || continue
    printf '#!/bin/sh\nexport SLURM_CONF=%s\nexec /usr/bin/%s "$@"\n' "$CONF" "$b" > "$STATE/bin/$b"
    chmod 0755 "$STATE/bin/$b"
  done
}
write_env() {
  write_wrappers
  { printf 'export SLURM_CONF=%q\n' "$CONF"
    printf 'case ":$PATH:" in *:%q:*) ;; *) export PATH=%q:"$PATH";; esac\n' "$STATE/bin" "$STATE/bin"
  } > "$STATE/env.sh"
  echo "export SLURM_CONF=$CONF PATH=$STATE/bin:\$PATH   # or: source $STATE/env.sh"
}

# ---- idempotency: already up? -------------------------------------------
if pid_alive "$MUNGE_DIR/munged.pid" munged && pid_alive "$STATE/slurmctld.pid" slurmctld \
   && pid_alive "$STATE/slurmd.pid" slurmd && node_idle; then
  log "cluster in $STATE already running"
  write_env; exit 0
fi

# ---- fail early on port clashes (before starting anything) -------------------
if ! pid_alive "$STATE/slurmctld.pid" slurmctld && port_busy "$CTLD_PORT"; then
  die "TCP port $CTLD_PORT busy (another slurmctld?); set SLURM_LAB_CTLD_PORT"; fi
if ! pid_alive "$STATE/slurmd.pid" slurmd && port_busy "$SLURMD_PORT"; then
  die "TCP port $SLURMD_PORT busy (another slurmd?); set SLURM_LAB_SLURMD_PORT"; fi
trap 'rc=$?; [ $rc = 0 ] || echo "up.sh: failed; partial daemons may be running, run: $(dirname "$0")/down.sh $STATE" >&2' EXIT

# ---- directories ----------------------------------------------------------
mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log" "$MUNGE_DIR"
# munged requires the socket dir to be traversable (x) by all and writable only by munge
chown munge:munge "$MUNGE_DIR"; chmod 0755 "$MUNGE_DIR"

# ---- munge key (private to this cluster) ------------------------------------
if [ ! -s "$MUNGE_DIR/munge.key" ]; then
  dd if=/dev/urandom of="$MUNGE_DIR/munge.key" bs=1024 count=1 status=none
fi
chown munge:munge "$MUNGE_DIR/munge.key"; chmod 0400 "$MUNGE_DIR/munge.key"

# ---- slurm.conf ---------------------------------------------------------------
# Node hardware from `slurmd -C` (first line: NodeName=<host> CPUs=... RealMemory=...)
HW=$(slurmd -C | head -n1 | sed -E 's/^NodeName=[^ ]+ //') || die "slurmd -C failed"
[ -n "$HW" ] || die "could not parse slurmd -C output"
cat > "$CONF" <<EOF
# generated by up.sh $(date -Is)
ClusterName=lab
SlurmctldHost=$NODE
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no systemd / no cgroups
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
ReturnToService=2
# keep finished jobs visible to squeue for 5 min (snakemake --slurm-status-command squeue)
MinJobAge=$MIN_JOB_AGE
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$NODE $HW State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
# HW contains "UpTime=..." on some versions on a 2nd line only; guard anyway
sed -i -E 's/ UpTime=[^ ]*//' "$CONF"

# ---- munged ---------------------------------------------------------------
if pid_alive "$MUNGE_DIR/munged.pid" munged; then
  log "munged already running (pid $(cat "$MUNGE_DIR/munged.pid"))"
else
  rm -f "$SOCK" "$SOCK.lock" "$MUNGE_DIR/munged.pid"
  runuser -u munge -- munged \
      --socket="$SOCK" --key-file="$MUNGE_DIR/munge.key" \
      --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log" \
      --seed-file="$MUNGE_DIR/munged.seed" \
    || { tail_log "$MUNGE_DIR/munged.log"; die "munged failed to start"; }
  wait_for "$TIMEOUT" munged test -S "$SOCK" \
    || { tail_log "$MUNGE_DIR/munged.log"; die "munged socket $SOCK did not appear"; }
fi
if command -v munge >/dev/null && command -v unmunge >/dev/null; then
  munge -n -S "$SOCK" | unmunge -S "$SOCK" >/dev/null \
    || die "munge/unmunge self-test against $SOCK failed"
fi

# ---- slurmctld -------------------------------------------------------------
if pid_alive "$STATE/slurmctld.pid" slurmctld; then
  log "slurmctld already running (pid $(cat "$STATE/slurmctld.pid"))"
else
  rm -f "$STATE/slurmctld.pid"
  # -i: ignore unreadable state files on restart
  slurmctld -f "$CONF" -i \
    || { tail_log "$STATE/log/slurmctld.log"; die "slurmctld failed to start"; }
  wait_for "$TIMEOUT" slurmctld timeout 10 scontrol ping \
    || { tail_log "$STATE/log/slurmctld.log"; die "slurmctld did not answer 'scontrol ping' within ${TIMEOUT}s"; }
fi

# ---- slurmd ---------------------------------------------------------------------
if pid_alive "$STATE/slurmd.pid" slurmd; then
  log "slurmd already running (pid $(cat "$STATE/slurmd.pid"))"
else
  rm -f "$STATE/slurmd.pid"
  slurmd -f "$CONF" -N "$NODE" \
    || { tail_log "$STATE/log/slurmd.log"; die "slurmd failed to start"; }
fi

if ! wait_for "$TIMEOUT" node_idle node_idle; then
  # a node left DOWN/DRAIN from an earlier run: try to resume once
  scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
  wait_for 10 node_idle node_idle || {
    sinfo -N -l >&2 || true
    tail_log "$STATE/log/slurmd.log"; tail_log "$STATE/log/slurmctld.log"
    die "node $NODE not idle after ${TIMEOUT}s"; }
fi

log "cluster up in $STATE ($(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
write_env
