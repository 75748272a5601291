# shellcheck shell=bash
# tests/cluster/common.sh — helpers shared by up.sh and down.sh (sourced, not run).
#
# State directory layout (${NATOP_CLUSTER_DIR}):
#   pids                         "<name> <pid>" per started process, in start order
#   kubeconfig                   admin kubeconfig (bearer token, group system:masters)
#   controller-manager.kubeconfig
#   cluster.env                  ports, URLs and paths of the running cluster (shell syntax)
#   pki/                         CA, serving cert, service-account key pair, token file
#   logs/                        etcd.log, kube-apiserver.log, kube-controller-manager.log
#   etcd-data.XXXXXX/            etcd data, a fresh directory per start
#   .lock                        flock(1) lock serialising up.sh / down.sh

NATOP_CACHE_DIR=${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}
NATOP_CLUSTER_DIR=${NATOP_CLUSTER_DIR:-$NATOP_CACHE_DIR/cluster}
PIDS_FILE=$NATOP_CLUSTER_DIR/pids
LOCK_FILE=$NATOP_CLUSTER_DIR/.lock
STOP_TIMEOUT=10 # seconds between TERM and KILL

# The Kubernetes versions natop is tested on, newest first: the newest patch
# release of the newest minor the Go module proxy serves that builds with the
# machine's Go, and of the oldest minor natop supports (k8s-openapi 0.29
# covers 1.33 to 1.37). The whole suite runs on the newest; a compatibility
# pass runs on the oldest. NATOP_KUBE_VERSION picks one (a version, or
# `newest` / `oldest`); the default is the newest.
KUBE_VERSIONS=(v1.37.2 v1.33.13)
KUBE_NEWEST=${KUBE_VERSIONS[0]}
KUBE_OLDEST=${KUBE_VERSIONS[${#KUBE_VERSIONS[@]} - 1]}
ETCD_VERSION=v3.6.16
KUBE_BINARIES=(kube-apiserver kube-controller-manager kubectl)

known_kube_version() { # VERSION
	local v
	for v in "${KUBE_VERSIONS[@]}"; do
		[[ $v == "$1" ]] && return 0
	done
	return 1
}

# Prints the version NATOP_KUBE_VERSION selects (default: the newest).
selected_kube_version() {
	local v=${NATOP_KUBE_VERSION:-newest}
	case $v in
	newest) v=$KUBE_NEWEST ;;
	oldest) v=$KUBE_OLDEST ;;
	1.*) v=v$v ;;
	esac
	known_kube_version "$v" || die "NATOP_KUBE_VERSION=$NATOP_KUBE_VERSION is not one of ${KUBE_VERSIONS[*]} (or newest, oldest)"
	printf '%s' "$v"
}

kube_dir() { printf '%s/kube-%s' "$NATOP_CACHE_DIR" "$1"; }
etcd_dir() { printf '%s/etcd-%s' "$NATOP_CACHE_DIR" "$ETCD_VERSION"; }

log() { printf '[%s] %s\n' "${LOG_TAG:-cluster}" "$*" >&2; }
die() {
	printf '[%s] ERROR: %s\n' "${LOG_TAG:-cluster}" "$*" >&2
	exit 1
}

# Serialises up.sh and down.sh on one state directory. Uses fd 9, which must
# be closed (9>&-) for long-running children so they do not hold the lock.
take_lock() {
	mkdir -p "$NATOP_CLUSTER_DIR"
	exec 9>"$LOCK_FILE"
	if ! flock -n 9; then
		log "waiting for another up.sh/down.sh on $NATOP_CLUSTER_DIR"
		flock -w 120 9 || die "could not lock $LOCK_FILE within 120 s"
	fi
}

# pid_alive PID NAME: PID exists, is not a zombie, and runs NAME (guards
# against PID reuse; /proc/PID/comm is truncated to 15 characters).
pid_alive() {
	local pid=$1 name=$2 stat comm
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]] || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[[ $comm == "${name:0:15}" ]]
}

# Prints "<name> <pid>" for each recorded process that is still running.
recorded_alive() {
	[[ -f $PIDS_FILE ]] || return 0
	local name pid
	while read -r name pid _; do
		if pid_alive "$pid" "$name"; then
			printf '%s %s\n' "$name" "$pid"
		fi
	done <"$PIDS_FILE"
}

# stop_pid NAME PID: TERM, wait up to STOP_TIMEOUT s, then KILL; fails if it survives.
stop_pid() {
	local name=$1 pid=$2 i
	pid_alive "$pid" "$name" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		pid_alive "$pid" "$name" || {
			log "stopped $name (pid $pid)"
			return 0
		}
		sleep 0.1
	done
	log "$name (pid $pid) still running after ${STOP_TIMEOUT} s: sending KILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pid_alive "$pid" "$name" || {
			log "killed $name (pid $pid)"
			return 0
		}
		sleep 0.1
	done
	log "$name (pid $pid) survived KILL"
	return 1
}

# Stops every recorded process (last started first), verifies that none is
# left, removes the etcd data and the pids file.
stop_recorded() {
	local -a entries=() pids=()
	local name pid failed=0 i
	if [[ -f $PIDS_FILE ]]; then
		mapfile -t entries <"$PIDS_FILE"
	fi
	for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
		read -r name pid _ <<<"${entries[i]}"
		[[ -n ${name:-} && -n ${pid:-} ]] || continue
		pids+=("$pid")
		stop_pid "$name" "$pid" || failed=1
	done
	if [[ -n $(recorded_alive) ]] || ((failed)); then
		log "still running:"
		recorded_alive >&2
		return 1
	fi
	# The processes were orphaned when up.sh exited, so init reaps them; give
	# it a moment so that no <defunct> entry lingers (some minimal inits are
	# slow to reap). Zombies hold no ports or memory, so this is not fatal.
	for ((i = 0; i < 50; i++)); do
		for pid in "${pids[@]}"; do
			[[ -e /proc/$pid ]] && break
			pid=""
		done
		[[ -z ${pid:-} ]] && break
		sleep 0.1
	done
	rm -rf "$NATOP_CLUSTER_DIR"/etcd-data.*
	rm -f "$PIDS_FILE" "$NATOP_CLUSTER_DIR/cluster.env"
}
