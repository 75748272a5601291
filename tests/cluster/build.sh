#!/usr/bin/env bash
# tests/cluster/build.sh — build (once per machine and version) the control
# plane natop's tests, benchmark and demo run on: kube-apiserver,
# kube-controller-manager and kubectl of one Kubernetes version, and etcd.
#
# No package registry ships these binaries, so they are built from the Go
# module proxy with the machine's Go:
#
#   - Kubernetes: k8s.io/kubernetes requires its staging modules (k8s.io/api,
#     k8s.io/apiserver, ...) at v0.0.0 and replaces them with ./staging/...;
#     a dependency's replace directives are ignored, so `go install
#     k8s.io/kubernetes/cmd/kube-apiserver@v1.X.Y` cannot work. The script
#     writes a wrapper module of ours (tests/cluster/wrapper.sh) whose go.mod
#     requires k8s.io/kubernetes v1.X.Y, replaces each staging module named in
#     THAT VERSION'S OWN go.mod by its published v0.X.Y, and lists the three
#     commands as tools; `go mod tidy` then records every checksum (verified
#     against sum.golang.org) and `go build` builds them, version-stamped.
#   - etcd: the same for go.etcd.io/etcd/server/v3 (its main package is the
#     module root), built once and shared by every Kubernetes version.
#
# Layout under ${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}:
#   kube-v1.X.Y/bin/{kube-apiserver,kube-controller-manager,kubectl}
#   kube-v1.X.Y/module/{go.mod,go.sum}   the wrapper module, kept for inspection
#   kube-v1.X.Y/BUILD-INFO
#   etcd-v3.6.Z/bin/etcd, etcd-v3.6.Z/module/, etcd-v3.6.Z/BUILD-INFO
#   go/mod, go/build                     Go's module and build caches
#
# A warm run checks that each cached binary reports its version and prints
# "reusing ..."; a cold build prints a progress line every 30 s. A cold build
# of one Kubernetes version takes 15-25 minutes on 2 cores (the module
# download is a few hundred MB); the second version reuses most of the
# module cache.
#
# Environment:
#   NATOP_CACHE_DIR      cache root (see above)
#   NATOP_KUBE_VERSION   the version to build when none is given (default: the
#                        newest, see common.sh)
#
# Usage: tests/cluster/build.sh [VERSION...] [--all]
#   VERSION is one of the versions natop tests on (common.sh); --all builds
#   every one of them. Progress on stdout; non-zero exit on failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=build.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"
# shellcheck source-path=SCRIPTDIR source=wrapper.sh
source "$HERE/wrapper.sh"

log() { printf '[build.sh] %s\n' "$*"; }

export GOMODCACHE=$NATOP_CACHE_DIR/go/mod
export GOCACHE=$NATOP_CACHE_DIR/go/build
export GOFLAGS="-modcacherw -buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOPROXY=${GOPROXY:-https://proxy.golang.org}

# ------------------------------------------------------------ prerequisites --

# Run-time tools of up.sh (openssl, curl) from Debian when missing.
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo "$@"
	else
		die "need root to run: $*"
	fi
}
ensure_packages() {
	local -a missing=()
	local tool
	for tool in openssl curl; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	((${#missing[@]})) || return 0
	log "installing Debian packages: ${missing[*]}"
	local -a cmd=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ca-certificates)
	if ! as_root "${cmd[@]}"; then
		as_root apt-get update -q || die "apt-get update failed"
		as_root "${cmd[@]}" || die "apt-get install ${missing[*]} failed"
	fi
}

# The machine's Go must be at least the go directive of the module we build.
check_go() { # GO-DIRECTIVE
	command -v go >/dev/null 2>&1 || die "go is not installed (Go $1 or later is needed to build the control plane)"
	local have
	have=$(go env GOVERSION)
	have=${have#go}
	if [[ $(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n1) != "$1" ]]; then
		die "Go $have is older than the go $1 the module requires"
	fi
}

# ------------------------------------------------------------------ building --

# go_build_with_progress LABEL LOG GO-ARGS...: runs `go build -v` in the
# background, printing every 30 s how many packages were compiled so far.
go_build_with_progress() {
	local label=$1 logf=$2 start=$SECONDS pid
	shift 2
	go build -v "$@" >"$logf" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in {1..30}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		kill -0 "$pid" 2>/dev/null || break
		log "building $label: $(($(wc -l <"$logf"))) packages compiled, $((SECONDS - start)) s"
	done
	if ! wait "$pid"; then
		tail -n 40 "$logf" >&2
		die "building $label failed (log: $logf)"
	fi
	log "built $label in $((SECONDS - start)) s ($(($(wc -l <"$logf"))) packages compiled)"
}

# Prints what a binary says its version is (etcd and the Kubernetes ones differ).
reported_version() { # BINARY
	local b=$1 out
	case ${b##*/} in
	etcd) out=$("$b" --version 2>/dev/null | awk '/^etcd Version:/ { print "v" $3 }') ;;
	kubectl) out=$("$b" version --client -o json 2>/dev/null | awk -F'"' '/"gitVersion"/ { print $4; exit }') ;;
	*) out=$("$b" --version 2>/dev/null | awk '{ print $2 }') ;;
	esac
	printf '%s' "${out:-(does not run)}"
}

cached_ok() { # DIR VERSION BINARY...
	local dir=$1 version=$2 b
	shift 2
	for b in "$@"; do
		[[ -x $dir/bin/$b && $(reported_version "$dir/bin/$b") == "$version" ]] || return 1
	done
}

build_etcd() {
	local dir
	dir=$(etcd_dir)
	if cached_ok "$dir" "$ETCD_VERSION" etcd; then
		log "reusing etcd $ETCD_VERSION from $dir/bin/etcd"
		return 0
	fi
	local start=$SECONDS
	log "building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3 (once per machine)"
	rm -rf "$dir/bin" "$dir/module"
	mkdir -p "$dir/bin" "$dir/module"
	write_etcd_module "$dir/module" "$ETCD_VERSION"
	check_go "$(awk '$1 == "go" { print $2; exit }' "$dir/module/go.mod")"
	log "resolving etcd's modules (go mod tidy)"
	(cd "$dir/module" && go mod tidy) || die "go mod tidy failed for etcd $ETCD_VERSION"
	(cd "$dir/module" && go_build_with_progress "etcd $ETCD_VERSION" "$dir/build.log" \
		-trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3)
	[[ $(reported_version "$dir/bin/etcd") == "$ETCD_VERSION" ]] ||
		die "the built etcd reports $(reported_version "$dir/bin/etcd"), not $ETCD_VERSION"
	printf 'etcd %s built %s with %s in %d s\n' "$ETCD_VERSION" "$(date -u +%FT%TZ)" \
		"$(go env GOVERSION)" $((SECONDS - start)) >"$dir/BUILD-INFO"
}

build_kube() { # VERSION
	local version=$1 dir
	dir=$(kube_dir "$version")
	if cached_ok "$dir" "$version" "${KUBE_BINARIES[@]}"; then
		log "reusing Kubernetes $version (kube-apiserver, kube-controller-manager, kubectl) from $dir/bin"
		return 0
	fi
	local start=$SECONDS
	log "building Kubernetes $version from k8s.io/kubernetes (once per machine and version)"
	rm -rf "$dir/bin" "$dir/module"
	mkdir -p "$dir/bin" "$dir/module"
	log "deriving the wrapper module from k8s.io/kubernetes@$version's go.mod"
	write_kube_module "$dir/module" "$version"
	check_go "$(awk '$1 == "go" { print $2; exit }' "$dir/module/go.mod")"
	log "resolving modules (go mod tidy; a first download is a few hundred MB)"
	(cd "$dir/module" && go mod tidy) || die "go mod tidy failed for Kubernetes $version"
	local minor=${version#v1.}
	minor=${minor%%.*}
	local ldflags="-s -w" pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	local -a targets=()
	for pkg in "${KUBE_BINARIES[@]}"; do
		targets+=("k8s.io/kubernetes/cmd/$pkg")
	done
	(cd "$dir/module" && go_build_with_progress "Kubernetes $version" "$dir/build.log" \
		-trimpath -ldflags "$ldflags" -o "$dir/bin/" "${targets[@]}")
	for pkg in "${KUBE_BINARIES[@]}"; do
		[[ $(reported_version "$dir/bin/$pkg") == "$version" ]] ||
			die "the built $pkg reports $(reported_version "$dir/bin/$pkg"), not $version"
	done
	printf 'Kubernetes %s built %s with %s in %d s\n' "$version" "$(date -u +%FT%TZ)" \
		"$(go env GOVERSION)" $((SECONDS - start)) >"$dir/BUILD-INFO"
}

# ---------------------------------------------------------------------- main --

versions=()
for arg in "$@"; do
	case $arg in
	--all) versions+=("${KUBE_VERSIONS[@]}") ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	v1.*) versions+=("$arg") ;;
	*) die "unknown argument: $arg" ;;
	esac
done
((${#versions[@]})) || versions=("$(selected_kube_version)")
for v in "${versions[@]}"; do
	known_kube_version "$v" || die "Kubernetes $v is not one natop tests on (${KUBE_VERSIONS[*]})"
done

# What is built already needs neither the build tools nor the lock (a build
# of another version may hold it): only what is missing waits for it.
all_cached=1
cached_ok "$(etcd_dir)" "$ETCD_VERSION" etcd || all_cached=0
for v in "${versions[@]}"; do
	cached_ok "$(kube_dir "$v")" "$v" "${KUBE_BINARIES[@]}" || all_cached=0
done
if ! ((all_cached)); then
	ensure_packages
	mkdir -p "$NATOP_CACHE_DIR"
	# One build at a time per cache (a second caller waits for the first).
	exec 8>"$NATOP_CACHE_DIR/.build.lock"
	if ! flock -n 8; then
		log "another build.sh is building in $NATOP_CACHE_DIR; waiting for it"
		flock -w 5400 8 || die "timed out waiting for the other build"
	fi
fi
build_etcd
for v in "${versions[@]}"; do
	build_kube "$v"
done
