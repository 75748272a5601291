#!/usr/bin/env bash
# tests/cluster/up.sh — start a local Kubernetes control plane for natop's
# tests, benchmark and demo: etcd, kube-apiserver and kube-controller-manager,
# all listening on 127.0.0.1 only, on free ports. The version is the newest
# natop is tested on unless NATOP_KUBE_VERSION picks another (common.sh).
#
#   eval "$(tests/cluster/up.sh)"      # or: tests/cluster/up.sh --reuse
#   ... run tests with $KUBECONFIG ...
#   tests/cluster/down.sh
#
# What it does:
#   - runs build.sh for the version first (a no-op when the binaries are
#     cached; kubectl of the same version is in $NATOP_CLUSTER_DIR/bin);
#   - refuses to start when a cluster recorded in $NATOP_CLUSTER_DIR/pids is
#     still running; with --reuse it checks that one is ready and reuses it;
#   - generates, with openssl, a CA, a serving certificate (SAN IP:127.0.0.1,
#     DNS:localhost) and a service-account key pair, and a static token file
#     with an admin token (group system:masters) and a token for the
#     controller-manager (user system:kube-controller-manager);
#   - starts etcd (fresh data directory each start), kube-apiserver
#     (--authorization-mode=RBAC, flags of /work/shared/docs/test-cluster.md)
#     and kube-controller-manager (controllers garbagecollector, namespace,
#     serviceaccount, serviceaccount-token and clusterrole-aggregation, with
#     its own kubeconfig and service-account credentials), records each
#     PID in $NATOP_CLUSTER_DIR/pids, waits for the apiserver's /readyz (60 s
#     time-out) and the controller-manager's /healthz;
#   - writes the admin kubeconfig (bearer token) to $NATOP_CLUSTER_DIR/kubeconfig
#     and ports/URLs to $NATOP_CLUSTER_DIR/cluster.env;
#   - on failure stops what it started, prints the tail of the logs, exits 1.
#
# Progress goes to stderr; stdout gets exactly one line, the last one:
#   export KUBECONFIG=<path>
#
# Environment:
#   NATOP_CACHE_DIR    cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/natop)
#   NATOP_CLUSTER_DIR  state directory (default $NATOP_CACHE_DIR/cluster)
#   NATOP_KUBE_VERSION the Kubernetes version (default: the newest tested)
#   NATOP_CLUSTER_READY_TIMEOUT  seconds to wait for /readyz (default 60)
#   NATOP_CLUSTER_CONTROLLERS    kube-controller-manager --controllers list
#
# Notes: the garbage collector discovers new resource types (CRDs) every 30 s,
# so owner-reference cascades of a freshly created CRD's objects can take up
# to ~30 s; no kubelet or scheduler runs, so Pods never start.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=up.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

KUBE_VERSION=$(selected_kube_version)
KUBE_BIN_DIR=$(kube_dir "$KUBE_VERSION")/bin
READY_TIMEOUT=${NATOP_CLUSTER_READY_TIMEOUT:-60}
# clusterrole-aggregation fills the built-in admin/edit/view ClusterRoles
# (empty without it) and any role aggregated through labels.
CONTROLLERS=${NATOP_CLUSTER_CONTROLLERS:-garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation}
KUBECONFIG_PATH=$NATOP_CLUSTER_DIR/kubeconfig
PKI=$NATOP_CLUSTER_DIR/pki
LOGS=$NATOP_CLUSTER_DIR/logs

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	echo "Usage: $0 [--reuse]"
}

reuse=0
for arg in "$@"; do
	case $arg in
	--reuse) reuse=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $arg (usage: $0 [--reuse])" ;;
	esac
done

# curl against the apiserver with the admin token of the recorded cluster.
api_get() { # URL-PATH
	curl -sS --fail --max-time 5 --cacert "$PKI/ca.crt" \
		-H "Authorization: Bearer $(cat "$PKI/admin.token")" "$API_URL$1"
}

# ------------------------------------------------------- existing cluster? --
take_lock
running=$(recorded_alive)
if [[ -n $running ]]; then
	if ((reuse)); then
		[[ $(grep -c . "$PIDS_FILE") -eq $(grep -c . <<<"$running") ]] ||
			die "the recorded cluster is only partly running ($(xargs <<<"$running")); run $HERE/down.sh"
		[[ -f $NATOP_CLUSTER_DIR/cluster.env && -f $KUBECONFIG_PATH ]] ||
			die "a cluster is recorded as running but $NATOP_CLUSTER_DIR/cluster.env or kubeconfig is missing; run down.sh"
		# shellcheck source=/dev/null
		source "$NATOP_CLUSTER_DIR/cluster.env"
		if [[ $(api_get /readyz 2>/dev/null) == ok ]]; then
			log "reusing the running cluster at $API_URL (pids: $(awk '{print $1"="$2}' <<<"$running" | xargs))"
			printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_PATH"
			exit 0
		fi
		die "the recorded cluster is running but $API_URL/readyz is not ok; run $HERE/down.sh"
	fi
	die "a cluster recorded in $PIDS_FILE is still running ($(xargs <<<"$running")); run $HERE/down.sh first, or pass --reuse"
fi
if [[ -f $PIDS_FILE ]]; then
	log "clearing the state of a cluster that is no longer running"
	stop_recorded || die "could not clean up the previous cluster"
fi

# ------------------------------------------------------------------ build --
"$HERE/build.sh" "$KUBE_VERSION" >&2 || die "build.sh failed"
APISERVER=$KUBE_BIN_DIR/kube-apiserver
CONTROLLER_MANAGER=$KUBE_BIN_DIR/kube-controller-manager
ETCD=$(etcd_dir)/bin/etcd
# kubectl of the same version, for whoever uses this cluster.
mkdir -p "$NATOP_CLUSTER_DIR/bin"
ln -sfn "$KUBE_BIN_DIR/kubectl" "$NATOP_CLUSTER_DIR/bin/kubectl"
for tool in openssl curl python3 flock setsid base64; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# ------------------------------------------------------------ start-up ----
t0=${EPOCHREALTIME/[.,]/}
elapsed() { # seconds since t0, one decimal
	local d=$(((${EPOCHREALTIME/[.,]/} - t0) / 100000))
	printf '%d.%d' $((d / 10)) $((d % 10))
}

started_ok=0
on_exit() {
	local rc=$?
	((started_ok)) && return 0
	trap - INT TERM
	log "start-up failed; stopping what was started"
	local f
	for f in "$LOGS"/etcd.log "$LOGS"/kube-apiserver.log "$LOGS"/kube-controller-manager.log; do
		[[ -s $f ]] || continue
		printf '\n===== last 25 lines of %s =====\n' "$f" >&2
		tail -n 25 "$f" >&2
	done
	echo >&2
	stop_recorded || log "some processes could not be stopped; see $PIDS_FILE"
	log "start-up failed; logs are in $LOGS"
	((rc)) || rc=1
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Free TCP ports on 127.0.0.1: bind port 0 for all of them at once, then release.
read -r ETCD_PORT ETCD_PEER_PORT API_PORT CM_PORT < <(python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
' 4) || die "could not pick free ports"
API_URL=https://127.0.0.1:$API_PORT
ETCD_URL=http://127.0.0.1:$ETCD_PORT

# --- certificates and tokens (fresh each start) -----------------------------
rm -rf "$PKI"
mkdir -p "$PKI" "$LOGS"
chmod 700 "$PKI"
(
	cd "$PKI" &&
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 \
			-keyout ca.key -out ca.crt -subj "/CN=natop-test-ca" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" &&
		openssl req -new -newkey rsa:2048 -nodes -sha256 \
			-keyout serving.key -out serving.csr -subj "/CN=127.0.0.1" &&
		printf '%s\n' "basicConstraints=CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" \
			"subjectAltName=IP:127.0.0.1,DNS:localhost" >serving.ext &&
		openssl x509 -req -sha256 -days 365 -in serving.csr -CA ca.crt -CAkey ca.key \
			-set_serial "0x$(openssl rand -hex 16)" -extfile serving.ext -out serving.crt &&
		openssl genrsa -out sa.key 2048 &&
		openssl rsa -in sa.key -pubout -out sa.pub &&
		openssl rand -hex 32 >admin.token &&
		openssl rand -hex 32 >controller-manager.token
) 2>"$LOGS/openssl.log" || die "openssl failed: $(cat "$LOGS/openssl.log")"
{
	printf '%s,natop-admin,natop-admin,"system:masters"\n' "$(cat "$PKI/admin.token")"
	printf '%s,system:kube-controller-manager,system:kube-controller-manager\n' \
		"$(cat "$PKI/controller-manager.token")"
} >"$PKI/tokens.csv"
chmod 600 "$PKI"/*

write_kubeconfig() { # PATH USER TOKEN-FILE
	local ca_data
	ca_data=$(base64 -w0 <"$PKI/ca.crt")
	(
		umask 077
		cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: natop-test
  cluster:
    server: $API_URL
    certificate-authority-data: $ca_data
users:
- name: $2
  user:
    token: $(cat "$3")
contexts:
- name: natop-test
  context:
    cluster: natop-test
    user: $2
    namespace: default
current-context: natop-test
EOF
	)
}
write_kubeconfig "$KUBECONFIG_PATH" natop-admin "$PKI/admin.token"
write_kubeconfig "$NATOP_CLUSTER_DIR/controller-manager.kubeconfig" \
	system:kube-controller-manager "$PKI/controller-manager.token"

# --- processes ---------------------------------------------------------------
: >"$PIDS_FILE"
# start NAME CMD...: runs CMD in its own session (so that a Ctrl-C on the
# caller's terminal does not reach it), logs to logs/NAME.log, records its PID.
start() {
	local name=$1
	shift
	[[ -f $LOGS/$name.log ]] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev"
	setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
	local pid=$! i
	printf '%s %s\n' "$name" "$pid" >>"$PIDS_FILE"
	# Until the fork has become NAME (through setsid's exec) the process
	# shows another name, which the checks below would take for NAME having
	# exited: wait for the exec (or the process's end, which they report).
	for ((i = 0; i < 100; i++)); do
		pid_alive "$pid" "$(basename "$1")" && break
		[[ -e /proc/$pid ]] || break
		sleep 0.05
	done
	log "started $name (pid $pid) — log: $LOGS/$name.log"
}

# wait_for NAME PROCESS-NAME PID TIMEOUT CMD...: polls CMD until it succeeds.
wait_for() {
	local what=$1 name=$2 pid=$3 timeout=$4 deadline
	shift 4
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		pid_alive "$pid" "$name" || die "$name exited while waiting for $what"
		((SECONDS < deadline)) || die "$what not ready within $timeout s"
		sleep 0.2
	done
}
check_output() { # EXPECTED CMD...: CMD succeeds and prints EXPECTED
	local expected=$1 out
	shift
	out=$("$@") && [[ $out == "$expected" ]]
}

check_contains() { # EXPECTED CMD...: CMD succeeds and its output contains EXPECTED
	local expected=$1 out
	shift
	out=$("$@") && [[ $out == *"$expected"* ]]
}

ETCD_DATA=$(mktemp -d "$NATOP_CLUSTER_DIR/etcd-data.XXXXXX")
start etcd "$ETCD" \
	--name natop-test \
	--data-dir "$ETCD_DATA" \
	--listen-client-urls "$ETCD_URL" \
	--advertise-client-urls "$ETCD_URL" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "natop-test=http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster-state new \
	--logger zap --log-outputs stderr
etcd_pid=$(awk '$1 == "etcd" { print $2 }' "$PIDS_FILE")
wait_for "etcd $ETCD_URL/health" etcd "$etcd_pid" "$READY_TIMEOUT" \
	check_contains '"health":"true"' curl -sS --max-time 2 "$ETCD_URL/health"
log "etcd healthy on $ETCD_URL after $(elapsed) s"

start kube-apiserver "$APISERVER" \
	--bind-address=127.0.0.1 \
	--advertise-address=127.0.0.1 \
	--secure-port="$API_PORT" \
	--etcd-servers="$ETCD_URL" \
	--cert-dir="$PKI" \
	--tls-cert-file="$PKI/serving.crt" \
	--tls-private-key-file="$PKI/serving.key" \
	--client-ca-file="$PKI/ca.crt" \
	--token-auth-file="$PKI/tokens.csv" \
	--authorization-mode=RBAC \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$PKI/sa.pub" \
	--service-account-signing-key-file="$PKI/sa.key" \
	--service-cluster-ip-range=10.0.0.0/24 \
	--disable-admission-plugins=ServiceAccount \
	--endpoint-reconciler-type=none \
	--allow-privileged=true
api_pid=$(awk '$1 == "kube-apiserver" { print $2 }' "$PIDS_FILE")
wait_for "kube-apiserver $API_URL/readyz" kube-apiserver "$api_pid" "$READY_TIMEOUT" \
	check_output ok api_get /readyz
log "kube-apiserver ready on $API_URL after $(elapsed) s"

start kube-controller-manager "$CONTROLLER_MANAGER" \
	--kubeconfig="$NATOP_CLUSTER_DIR/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 \
	--secure-port="$CM_PORT" \
	--cert-dir="$PKI" \
	--tls-cert-file="$PKI/serving.crt" \
	--tls-private-key-file="$PKI/serving.key" \
	--controllers="$CONTROLLERS" \
	--use-service-account-credentials=true \
	--root-ca-file="$PKI/ca.crt" \
	--service-account-private-key-file="$PKI/sa.key" \
	--leader-elect=false
cm_pid=$(awk '$1 == "kube-controller-manager" { print $2 }' "$PIDS_FILE")
CM_URL=https://127.0.0.1:$CM_PORT
wait_for "kube-controller-manager $CM_URL/healthz" kube-controller-manager "$cm_pid" "$READY_TIMEOUT" \
	check_output ok curl -sS --fail --max-time 2 --cacert "$PKI/ca.crt" "$CM_URL/healthz"
log "kube-controller-manager healthy on $CM_URL after $(elapsed) s"

cat >"$NATOP_CLUSTER_DIR/cluster.env" <<EOF
# written by tests/cluster/up.sh — the running test cluster
API_URL=$API_URL
ETCD_URL=$ETCD_URL
CM_URL=$CM_URL
KUBECONFIG_PATH=$KUBECONFIG_PATH
KUBE_VERSION=$KUBE_VERSION
KUBECTL=$NATOP_CLUSTER_DIR/bin/kubectl
CA_FILE=$PKI/ca.crt
ADMIN_TOKEN_FILE=$PKI/admin.token
ETCD_DATA=$ETCD_DATA
EOF
started_ok=1
log "cluster up in $(elapsed) s: $API_URL (Kubernetes $KUBE_VERSION); state in $NATOP_CLUSTER_DIR; stop with $HERE/down.sh"
printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_PATH"
