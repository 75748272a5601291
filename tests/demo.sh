#!/usr/bin/env bash
# `make demo`: natop end to end on this machine, with no cloud account and no
# cluster. Builds what is missing, starts a local control plane and the cloud
# emulator, installs the CRDs and deploy/ (natop's RBAC), runs the operator
# with its ServiceAccount's token (exactly the chart's permissions), applies
# deploy/samples/, waits until every sample is Ready, then keeps running until
# Ctrl-C and stops everything it started.
#
#   bash tests/demo.sh                   # interactive: Ctrl-C to stop
#   bash tests/demo.sh --exit-when-ready # stop once every sample is Ready
#   bash tests/demo.sh --timeout 600     # seconds to wait for Ready (default 300)
#
# State and logs: $NATOP_DEMO_DIR (default ~/.cache/natop/demo).
set -euo pipefail

exit_when_ready=0
timeout=300
while [[ $# -gt 0 ]]; do
	case "$1" in
	--exit-when-ready) exit_when_ready=1 ;;
	--timeout)
		shift
		[[ "${1:-}" =~ ^[0-9]+$ ]] || { echo "demo: --timeout needs a number of seconds" >&2; exit 2; }
		timeout=$1
		;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown argument $1 (try --help)" >&2
		exit 2
		;;
	esac
	shift
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}"
export NATOP_CACHE_DIR="$cache"
demo="${NATOP_DEMO_DIR:-$cache/demo}"
export NATOP_CLUSTER_DIR="$demo/cluster"
# The demo runs on the newest Kubernetes natop is tested on.
export NATOP_KUBE_VERSION=newest
mkdir -p "$demo"
started=$(date +%s)
step() { printf '\n==> [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() {
	printf '\ndemo: %s\n' "$*" >&2
	exit 1
}

# Everything started here is recorded and stopped on exit, whatever the exit.
pids=()
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	step "stopping everything the demo started"
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	bash tests/cluster/down.sh >/dev/null 2>&1 || true
	echo "stopped (logs kept in $demo)"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in cargo python3 sed awk; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed"
done

step "building natop (cargo build; the first build takes a few minutes)"
cargo build --quiet --bin natop
natop="${CARGO_TARGET_DIR:-$root/target}/debug/natop"
[[ -x $natop ]] || fail "no binary at $natop"

step "local control plane: Kubernetes, the newest version natop is tested on (a first build from Go modules takes about 20 minutes on 2 cores, then it is reused)"
bash tests/cluster/build.sh
# A demo that was killed may have left its control plane behind.
bash tests/cluster/down.sh >/dev/null 2>&1 || true
bash tests/cluster/up.sh | tail -n 1 >/dev/null
export KUBECONFIG="$NATOP_CLUSTER_DIR/kubeconfig"
# kubectl of the same version as the control plane.
export PATH="$NATOP_CLUSTER_DIR/bin:$PATH"
echo "control plane ready: Kubernetes $(sed -n 's/^KUBE_VERSION=//p' "$NATOP_CLUSTER_DIR/cluster.env"), KUBECONFIG=$KUBECONFIG"

step "starting the cloud emulator (gateways take a minute to create in the cloud; the emulator runs 20x faster)"
# Emptied before the emulator starts, so the loop below can read it at once.
: >"$demo/emulator.log"
"$natop" emulator --listen 127.0.0.1:0 --speed 20 >"$demo/emulator.log" 2>&1 &
pids+=($!)
endpoint=""
for _ in $(seq 1 300); do
	endpoint="$(sed -n 's#^natop emulator listening on \(http://[^ ]*\)$#\1#p' "$demo/emulator.log" | head -n 1)"
	[[ -n $endpoint ]] && break
	kill -0 "${pids[-1]}" 2>/dev/null || fail "the emulator stopped: $(tail -n 5 "$demo/emulator.log")"
	sleep 0.1
done
[[ -n $endpoint ]] || fail "the emulator did not start within 30 s (log: $demo/emulator.log)"
echo "emulator: $endpoint"

step "installing the CRDs and deploy/ (namespace natop-system, ServiceAccount, least-privilege RBAC)"
kubectl apply --server-side -k deploy/crds >/dev/null
for crd in $(kubectl get crd -o name | grep 'natop.dev$'); do
	kubectl wait --for=condition=Established --timeout=60s "$crd" >/dev/null
done
kubectl apply --server-side -k deploy/ >/dev/null
echo "(the Deployment's pod never starts here: this control plane has no kubelet;"
echo " natop runs below as a local process with that ServiceAccount's token)"

token="$(kubectl -n natop-system create token natop --duration=24h)"
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
sa_kubeconfig="$demo/natop-serviceaccount.kubeconfig"
umask 077
cat >"$sa_kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: demo
    cluster:
      server: $server
      certificate-authority-data: $ca
users:
  - name: natop
    user:
      token: $token
contexts:
  - name: natop
    context: {cluster: demo, user: natop, namespace: natop-system}
current-context: natop
EOF
umask 022

step "starting natop (as ServiceAccount natop-system/natop)"
metrics_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
POD_NAMESPACE=natop-system "$natop" run \
	--kubeconfig "$sa_kubeconfig" \
	--metrics-address "127.0.0.1:$metrics_port" \
	--secret-namespace natop-system \
	--drift-interval 1m \
	>"$demo/natop.log" 2>&1 &
pids+=($!)
operator_pid=${pids[-1]}
echo "natop: metrics on http://127.0.0.1:$metrics_port/metrics, log $demo/natop.log"

step "applying deploy/samples/ (the emulator's endpoint put into the ProviderConfig)"
samples="$demo/samples"
rm -rf "$samples"
mkdir -p "$samples"
for file in deploy/samples/*.yaml; do
	sed "s#http://127.0.0.1:8787/#$endpoint#" "$file" >"$samples/$(basename "$file")"
done
kubectl apply --server-side -f "$samples" >/dev/null
expected="$(cat deploy/samples/*.yaml | grep -c '^apiVersion: natop.dev/')"

step "waiting until all $expected samples are Ready (at most ${timeout}s)"
listing() {
	kubectl get natop -A --no-headers \
		-o custom-columns='KIND:.kind,NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,REASON:.status.conditions[?(@.type=="Ready")].reason' \
		2>/dev/null || true
}
deadline=$(($(date +%s) + timeout))
last=""
while true; do
	kill -0 "$operator_pid" 2>/dev/null || fail "natop stopped: $(tail -n 20 "$demo/natop.log")"
	table="$(listing)"
	ready="$(awk '$3 == "True"' <<<"$table" | wc -l)"
	summary="$(awk '{printf "%s/%s=%s  ", $1, $2, ($3 == "True" ? "Ready" : $4)}' <<<"$table")"
	if [[ $summary != "$last" ]]; then
		printf '[%ss] %s/%s Ready  %s\n' "$(($(date +%s) - started))" "$ready" "$expected" "$summary"
		last=$summary
	fi
	[[ $ready -ge $expected ]] && break
	if [[ $(date +%s) -ge $deadline ]]; then
		kubectl get natop -A
		tail -n 30 "$demo/natop.log" >&2
		fail "not every sample was Ready within ${timeout}s"
	fi
	sleep 1
done

cat <<EOF

==> every sample is Ready ($(($(date +%s) - started))s).

    export KUBECONFIG=$KUBECONFIG
    kubectl get natop -A                       # every natop object
    kubectl -n natop-demo describe natgateway edge
    kubectl -n natop-demo get forwardentries -o wide
    kubectl get events -n natop-demo --sort-by=.lastTimestamp
    curl -s http://127.0.0.1:$metrics_port/metrics | grep natop_cloud_calls
    curl -s ${endpoint}_emulator/state          # what the emulated cloud holds

Try: kubectl -n natop-demo delete forwardentry ssh, or edit a sample and apply it.
Logs: $demo/natop.log, $demo/emulator.log
EOF

if [[ $exit_when_ready == 1 ]]; then
	echo "ready: --exit-when-ready given, stopping"
	exit 0
fi
echo "natop keeps running; press Ctrl-C to stop everything."
while kill -0 "$operator_pid" 2>/dev/null; do
	sleep 1
done
fail "natop stopped: $(tail -n 20 "$demo/natop.log")"
