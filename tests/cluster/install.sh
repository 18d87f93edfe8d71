#!/usr/bin/env bash
# tests/cluster/install.sh -- install a minimal SLURM (Debian's packages, a few MB) for the
# SLURM tests: controller, node daemon, client commands and munge. Root only; the daemons
# are not started here (up.sh starts private ones, without systemd).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install.sh: must run as root" >&2; exit 1; }
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
   && command -v munged >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
