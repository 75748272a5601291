#!/usr/bin/env bash
# tests/cluster/down.sh — stop the local test cluster started by up.sh.
#
# Stops, by PID, every process recorded in $NATOP_CLUSTER_DIR/pids (last
# started first: kube-controller-manager, kube-apiserver, etcd): SIGTERM, wait
# up to 10 s, then SIGKILL. A PID is only signalled while it still runs the
# recorded program (no PID-reuse accidents). Then verifies each one is gone,
# removes the etcd data directories and the pids file. Certificates, the
# kubeconfig and the logs stay for inspection; up.sh regenerates them.
#
# Succeeds when nothing is (or was) running. Exits 1 if a process survives.
#
# Environment: NATOP_CACHE_DIR, NATOP_CLUSTER_DIR (see up.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=down.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

case ${1:-} in
"") ;;
-h | --help)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit 0
	;;
*) die "unknown argument: $1" ;;
esac

if [[ ! -d $NATOP_CLUSTER_DIR ]]; then
	log "no cluster state in $NATOP_CLUSTER_DIR; nothing to stop"
	exit 0
fi
take_lock
if [[ ! -f $PIDS_FILE ]]; then
	rm -rf "$NATOP_CLUSTER_DIR"/etcd-data.*
	log "no cluster recorded in $PIDS_FILE; nothing to stop"
	exit 0
fi
if [[ -z $(recorded_alive) ]]; then
	log "none of the recorded processes is running; cleaning up"
fi
stop_recorded || die "some processes could not be stopped"
log "cluster stopped; etcd data removed"
