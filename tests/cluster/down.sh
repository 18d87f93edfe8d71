#!/usr/bin/env bash
# down.sh STATE_DIR [--purge] -- tear down the cluster started by up.sh STATE_DIR.
# Only PIDs recorded in STATE_DIR's PID files are signalled (and only if the
# process name matches), never anything by name. Idempotent.
# --purge additionally deletes STATE_DIR.
set -uo pipefail

die() { echo "down.sh: ERROR: $*" >&2; exit 1; }
log() { echo "down.sh: $*" >&2; }

STATE=${1:-}; PURGE=0
[ "${2:-}" = "--purge" ] && PURGE=1
[ -n "$STATE" ] || die "usage: down.sh STATE_DIR [--purge]"
[ -d "$STATE" ] || { log "no state dir $STATE, nothing to do"; exit 0; }
STATE=$(cd "$STATE" && pwd -P)
[ -f "$STATE/slurm.conf" ] || [ -d "$STATE/munge" ] || die "$STATE does not look like an up.sh state dir"
export SLURM_CONF=$STATE/slurm.conf

# prints pid if PIDFILE names a live process whose comm is COMM or COMM-wlm
live_pid() {
  local f=$1 comm=$2 pid c
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 < "$f"); [ -n "$pid" ] || return 1
  c=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  case "$c" in "$comm"|"$comm"-wlm) ;; *) return 1;; esac
  alive "$pid" || return 1
  echo "$pid"
}
# alive PID : exists and is not a zombie (PID 1 in some sandboxes reaps late)
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
# stop PIDFILE COMM : TERM, wait up to 15 s, then KILL
stop() {
  local f=$1 comm=$2 pid i
  pid=$(live_pid "$f" "$comm") || { log "$comm: not running"; rm -f "$f"; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 30); do alive "$pid" || break; sleep 0.5; done
  if alive "$pid"; then
    log "$comm (pid $pid) ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid" 2>/dev/null; sleep 0.5
  fi
  alive "$pid" && { log "$comm (pid $pid) still alive!"; return 1; }
  log "$comm (pid $pid) stopped"; rm -f "$f"
}

rc=0
# 1. cancel all jobs of *this* cluster (SLURM_CONF points at it) so no
#    slurmstepd / job processes outlive slurmd
if live_pid "$STATE/slurmctld.pid" slurmctld >/dev/null; then
  if [ -n "$(timeout 10 squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ]; then
    timeout 10 scancel --full --state=PENDING >/dev/null 2>&1
    timeout 10 scancel --full --state=RUNNING >/dev/null 2>&1
    timeout 10 scancel --full --state=SUSPENDED >/dev/null 2>&1
    for i in $(seq 1 40); do
      [ -z "$(timeout 10 squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ] && break; sleep 0.5
    done
    log "cancelled remaining jobs"
  fi
fi
# 2. daemons: slurmd, slurmctld, then munged
stop "$STATE/slurmd.pid"          slurmd    || rc=1
stop "$STATE/slurmctld.pid"       slurmctld || rc=1
stop "$STATE/munge/munged.pid"    munged    || rc=1
rm -f "$STATE/munge/munge.socket.2" "$STATE/munge/munge.socket.2.lock"

# 3. report leftover slurmstepd that still reference our spool dir (do not kill blindly)
for p in /proc/[0-9]*; do
  c=$(cat "$p/comm" 2>/dev/null) || continue
  case "$c" in slurmstepd*) ;; *) continue;; esac
  if ls -l "$p/cwd" "$p/fd" 2>/dev/null | grep -q "$STATE"; then
    log "WARNING: leftover slurmstepd pid ${p#/proc/} uses $STATE"; rc=1
  fi
done

if [ $rc = 0 ] && [ $PURGE = 1 ]; then rm -rf "$STATE"; log "removed $STATE"; fi
exit $rc
