#!/usr/bin/env bash
# A single-node SLURM cluster from Debian packages, for tests/test_cluster.py (CI runs as root on Debian):
#   bash ci/slurm_cluster.sh start|stop|status
# start installs munge, slurmctld, slurmd, slurmdbd and MariaDB when missing (apt-get, root only), writes
# /etc/slurm/{slurm,slurmdbd}.conf, starts the daemons in the background (no systemd needed) and waits until the
# node is idle. Partitions: cpu (default) and gpu (24 h limit), both on this node, which declares one GPU as a
# GRES whose device file is /dev/null: SLURM allocates `--gpus=1` as on a GPU node, and the jobs, finding no CUDA, run
# on the CPU (device: auto). Idempotent; stop kills only the daemons whose PIDs start recorded under $STATE/pids.
set -Eeuo pipefail
trap 'echo "slurm_cluster: failed (line $LINENO): $BASH_COMMAND" >&2' ERR

STATE=${SLURM_CLUSTER_STATE:-/var/tmp/transferscope-slurm}
DB_PORT=${SLURM_CLUSTER_DB_PORT:-33071}
CLUSTER=transferscope
ACCOUNT=transferscope
CONF_DIR=/etc/slurm
MARK="# written by transferscope ci/slurm_cluster.sh"
HOST=$(hostname -s)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stop is the reverse
PKGS=(munge slurm-wlm slurmdbd mariadb-server mariadb-client)

log() { echo "slurm_cluster: $*"; }
has() { grep -qw -- "$1" <<<"$2"; }  # not `cmd | grep -q`: under pipefail grep's early exit can fail the pipe
die() { log "$*" >&2; exit 1; }

pid_of() {  # the recorded PID, only while that process is still the daemon we started
  local f=$STATE/pids/$1 pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -d /proc/$pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1"* ]] && echo "$pid"
}

wait_for() {  # wait_for SECONDS WHAT CMD...
  local n=$1 what=$2
  shift 2
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  for f in "$STATE"/*.log "$STATE"/*.out; do [[ -f $f ]] && { echo "== $f"; tail -n 15 "$f"; }; done >&2
  die "timed out after ${n}s waiting for $what"
}

install_packages() {
  local missing=0
  mkdir -p "$STATE"
  for c in munged mariadbd slurmdbd slurmctld slurmd sbatch sacct sacctmgr; do
    command -v "$c" >/dev/null || missing=1
  done
  ((missing)) || return 0
  command -v apt-get >/dev/null || die "SLURM packages missing and no apt-get to install them"
  log "installing ${PKGS[*]}"
  # Keep the packages' init scripts from starting daemons we would not track (and could not stop).
  local policy=/usr/sbin/policy-rc.d created=0 rc=0
  [[ -e $policy ]] || { printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1; }
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${PKGS[@]}"; } >"$STATE/apt.log" 2>&1 || rc=$?
  ((created)) && rm -f "$policy"
  ((rc == 0)) || { tail -n 20 "$STATE/apt.log" >&2; die "apt-get failed"; }
}

write_config() {
  for f in slurm.conf slurmdbd.conf gres.conf; do
    [[ ! -e $CONF_DIR/$f || $(head -n 1 "$CONF_DIR/$f") == "$MARK" ]] ||
      die "$CONF_DIR/$f exists and was not written by this script: refusing to replace a real cluster's configuration"
  done
  mkdir -p "$CONF_DIR" "$STATE"/{pids,ctld,slurmd,mysql}
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
  # Jobs ask for GBs (mem_mb) and memory is not a consumable resource here (CR_CPU): a smaller runner declares
  # 16 GB (config_overrides) rather than reject them. CPUs are the real count, so a profile `cores` above it fails
  # here as on a real node.
  ((mem >= 16000)) || mem=16000
  cat >"$CONF_DIR/slurm.conf" <<EOF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
MailProg=/bin/true
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=1-00:00:00 State=UP
EOF
  cat >"$CONF_DIR/gres.conf" <<EOF
$MARK
NodeName=$HOST Name=gpu File=/dev/null
EOF
  cat >"$CONF_DIR/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
LogFile=$STATE/slurmdbd.log
PidFile=$STATE/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$CONF_DIR/slurmdbd.conf"  # slurmdbd refuses a readable file (it holds the DB password)
}

launch() {  # launch NAME CMD...: background daemon in its own session, PID recorded
  local name=$1
  shift
  pid_of "$name" >/dev/null && return 0
  setsid "$@" >>"$STATE/$name.out" 2>&1 </dev/null &  # .out: stderr; the daemons log to $name.log
  echo $! >"$STATE/pids/$name"
  log "started $name (pid $!)"
}

sql() { mariadb --no-defaults -S "$STATE/mysqld.sock" -u root -e "$1"; }

start() {
  [[ $(id -u) == 0 ]] || die "needs root (installs packages, writes /etc/slurm, runs the daemons as root)"
  install_packages
  write_config
  # munge: a munged already serving the socket (system one) is used, not replaced.
  if ! { munge -n </dev/null | unmunge; } >/dev/null 2>&1; then
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    # setpriv execs (runuser would fork), so the recorded PID is munged's.
    launch munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground
    wait_for 15 munged bash -c 'munge -n </dev/null | unmunge'
  fi
  if [[ ! -d $STATE/mysql/mysql ]]; then
    mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" --skip-test-db \
      --auth-root-authentication-method=socket >"$STATE/mariadb-install.log" 2>&1
  fi
  # slurmdbd warns below these InnoDB values; TCP on 127.0.0.1 only.
  launch mariadbd mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$STATE/mysqld.sock" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$STATE/mariadbd.pid" --innodb-buffer-pool-size=128M \
    --innodb-log-file-size=64M --innodb-lock-wait-timeout=900
  wait_for 30 mariadbd mariadb-admin --no-defaults -S "$STATE/mysqld.sock" -u root ping
  sql "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
       CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
       GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  launch slurmdbd slurmdbd -D
  wait_for 30 slurmdbd sacctmgr -n -P list cluster
  has "$CLUSTER" "$(sacctmgr -n -P list cluster format=cluster)" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
  has "$ACCOUNT" "$(sacctmgr -n -P list account format=account)" ||
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=ci Organization=ci >/dev/null
  has "$ACCOUNT" "$(sacctmgr -n -P list user root format=defaultaccount)" ||
    sacctmgr -i add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null
  launch slurmctld slurmctld -D
  wait_for 30 slurmctld bash -c 'scontrol ping | grep -q UP'
  launch slurmd slurmd -D
  wait_for 60 "node $HOST idle" bash -c "sinfo -h -n $HOST -o %t | grep -qx idle || {
    scontrol update nodename=$HOST state=resume; false; }"
  status
}

stop() {
  # Jobs of this cluster would outlive slurmd (slurmstepd): cancel them first.
  if pid_of slurmctld >/dev/null; then
    timeout 15 scancel --full --quiet --user=root 2>/dev/null || true
  fi
  local i name pid
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[i]}
    pid=$(pid_of "$name") || { rm -f "$STATE/pids/$name"; continue; }
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do [[ -d /proc/$pid ]] || break; sleep 1; done
    [[ -d /proc/$pid ]] && kill -9 "$pid" 2>/dev/null || true
    rm -f "$STATE/pids/$name"
    log "stopped $name (pid $pid)"
  done
}

status() {
  local name pid up=0
  for name in "${DAEMONS[@]}"; do
    pid=$(pid_of "$name") && log "$name running (pid $pid)" || log "$name not running (none started by this script)"
  done
  timeout 15 sinfo -o '%P %a %D %t %c %m %N' 2>&1 && up=1
  ((up)) || log "no SLURM controller reachable"
  ((up))
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
