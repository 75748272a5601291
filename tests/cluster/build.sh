#!/usr/bin/env bash
# tests/cluster/build.sh — build (once per machine) the kube-apiserver and
# kube-controller-manager used by natop's integration tests.
#
# No package registry ships a kube-apiserver, so this script builds Kubernetes
# v1.20.2 from Debian bookworm's `kubernetes` *source* package
# (1.20.5+really1.20.2-1.1+deb12u1), as described in
# /work/shared/docs/test-cluster.md:
#
#   1. installs the Debian packages it needs (only those that are missing, so
#      a warm run never touches apt): etcd-server, openssl, curl,
#      ca-certificates (run time); golang-go, make, rsync, jq, patch, xz-utils
#      (build time, only when a build is needed); kubernetes-client for
#      kubectl when no kubectl is on PATH and bookworm has it;
#   2. downloads the source package through a PRIVATE apt state under the
#      cache directory (a sources file repeating the machine's Debian entries
#      with `Types: deb deb-src`); the machine's apt configuration is not
#      modified;
#   3. unpacks the orig tarball, applies debian/patches/series, replaces
#      vendor/github.com/modern-go/reflect2 and vendor/github.com/json-iterator/go
#      with Debian's golang-github-modern-go-reflect2-dev (1.0.2) and
#      golang-github-json-iterator-go-dev (1.1.12) sources (reflect2 1.0.1
#      crashes the apiserver under Go >= 1.18 on the first custom resource
#      write);
#   4. builds in GOPATH mode (GO111MODULE=off GOPROXY=off CGO_ENABLED=0) with
#      `make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"`, installs
#      the two binaries into
#        ${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}/kube-v1.20.2/bin/
#      and deletes the ~2 GB build tree (only the binaries, the .dsc and a
#      BUILD-INFO file are kept).
#
# When both binaries are already cached and report v1.20.2 the script only
# prints "reusing cached kube-apiserver v1.20.2 from <path>" and exits.
# A version mismatch triggers a rebuild.
#
# A cold build takes ~5 minutes on 2 cores and ~2.3 GB of temporary disk.
#
# Environment:
#   NATOP_CACHE_DIR         cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/natop)
#   NATOP_KUBE_DEB_VERSION  Debian source version (default 1.20.5+really1.20.2-1.1+deb12u1)
#   NATOP_KEEP_BUILD_TREE=1 keep the build tree (for debugging a failed build)
#
# Usage: tests/cluster/build.sh        (stdout: progress; non-zero exit on failure)
set -euo pipefail

readonly KUBE_VERSION=v1.20.2
readonly KUBE_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56 # tag v1.20.2
readonly DEB_SRC_PKG=kubernetes
readonly DEB_SRC_VERSION=${NATOP_KUBE_DEB_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}
readonly REFLECT2_DEB=golang-github-modern-go-reflect2-dev
readonly JSONITER_DEB=golang-github-json-iterator-go-dev
readonly BINARIES=(kube-apiserver kube-controller-manager)
readonly RUNTIME_PACKAGES=(etcd-server openssl curl ca-certificates)
readonly BUILD_PACKAGES=(golang-go make rsync jq patch xz-utils)

CACHE_DIR=${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}
KUBE_DIR=$CACHE_DIR/kube-$KUBE_VERSION
BIN_DIR=$KUBE_DIR/bin
WORK_DIR=$KUBE_DIR/work
readonly CACHE_DIR KUBE_DIR BIN_DIR WORK_DIR

log() { printf '[build.sh] %s\n' "$*"; }
warn() { printf '[build.sh] warning: %s\n' "$*" >&2; }
die() {
	printf '[build.sh] ERROR: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- packages --

# Prints the packages among "$@" that are not installed (one dpkg-query call).
missing_packages() {
	local installed
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
		awk '$2 == "installed" { print $1 }') || true
	local p
	for p in "$@"; do
		grep -qxF -- "$p" <<<"$installed" || printf '%s\n' "$p"
	done
}

as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo "$@"
	else
		die "need root to run: $* (run it yourself, or make passwordless sudo available)"
	fi
}

apt_install() {
	log "installing Debian packages: $*"
	local -a cmd=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@")
	if ! as_root "${cmd[@]}"; then
		# The package lists may be empty (fresh container) or stale: refresh once.
		log "apt-get install failed; running apt-get update and retrying"
		as_root apt-get update -q || die "apt-get update failed"
		as_root "${cmd[@]}" || die "apt-get install $* failed"
	fi
}

ensure_packages() {
	local -a missing
	mapfile -t missing < <(missing_packages "$@")
	if ((${#missing[@]})); then
		apt_install "${missing[@]}"
	fi
}

ensure_kubectl() {
	if command -v kubectl >/dev/null 2>&1; then
		return 0 # do not replace a kubectl that is already there
	fi
	local candidate
	candidate=$(apt-cache policy kubernetes-client 2>/dev/null | awk '/Candidate:/ { print $2 }')
	if [[ -n $candidate && $candidate != "(none)" ]]; then
		apt_install kubernetes-client
	else
		log "kubectl: kubernetes-client is not available from apt here; skipping kubectl"
	fi
}

# --------------------------------------------------------------- the cache --

# Succeeds when both binaries are cached and report $KUBE_VERSION.
cached_binaries_ok() { # [quiet]
	local b v
	for b in "${BINARIES[@]}"; do
		[[ -x $BIN_DIR/$b ]] || return 1
	done
	for b in "${BINARIES[@]}"; do
		v=$("$BIN_DIR/$b" --version 2>/dev/null) || v="(failed to run)"
		if [[ $v != "Kubernetes $KUBE_VERSION" ]]; then
			[[ ${1:-} == quiet ]] ||
				log "cached $b reports '$v', expected 'Kubernetes $KUBE_VERSION': rebuilding"
			return 1
		fi
	done
}

report_reuse() {
	log "reusing cached kube-apiserver $KUBE_VERSION from $BIN_DIR/kube-apiserver"
}

# ----------------------------------------------------------------- the build --

build_pid=""
cleanup() {
	local rc=$?
	if [[ -n $build_pid ]] && kill -0 "$build_pid" 2>/dev/null; then
		warn "stopping the build (process group $build_pid)"
		kill -TERM -- "-$build_pid" 2>/dev/null || true
		wait "$build_pid" 2>/dev/null || true
	fi
	if [[ -d $WORK_DIR ]]; then
		if [[ ${NATOP_KEEP_BUILD_TREE:-0} == 1 ]]; then
			warn "keeping the build tree $WORK_DIR (NATOP_KEEP_BUILD_TREE=1)"
		else
			chmod -R u+w "$WORK_DIR" 2>/dev/null || true
			rm -rf "$WORK_DIR"
		fi
	fi
	exit "$rc"
}

# Writes a sources file (deb822) for the private apt state: the machine's
# Debian entries (from /etc/apt/sources.list and /etc/apt/sources.list.d/*.list
# and *.sources), with `Types: deb deb-src`. Third-party repositories are left out.
write_private_sources() {
	local out=$1
	python3 - "$out" <<'PY'
import glob, re, sys

DEBIAN_COMPONENTS = {"main", "contrib", "non-free", "non-free-firmware"}

def is_debian(uris, components):
    # Debian mirrors (deb.debian.org, security.debian.org, ftp.xx.debian.org,
    # snapshot.debian.org, or a mirror/proxy serving .../debian[-security]),
    # with only Debian's archive components.
    return (any(re.search(r"debian\.org|/debian(-security|-ports)?/?$", u) for u in uris)
            and bool(components) and set(components) <= DEBIAN_COMPONENTS)

stanzas = []

def add(uris, suites, components, extra):
    if is_debian(uris, components):
        st = {"Types": "deb deb-src", "URIs": " ".join(uris), "Suites": " ".join(suites),
              "Components": " ".join(components)}
        st.update(extra)
        if st not in stanzas:
            stanzas.append(st)

# deb822 *.sources
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    text = open(path, encoding="utf-8").read()
    for block in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
                continue
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip()] = value.strip()
        if not fields or fields.get("Enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("Types", "").split():
            continue
        extra = {k: v for k, v in fields.items()
                 if k not in ("Types", "URIs", "Suites", "Components", "Enabled")}
        add(fields.get("URIs", "").split(), fields.get("Suites", "").split(),
            fields.get("Components", "").split(), extra)

# one-line *.list
OPTION_KEYS = {"signed-by": "Signed-By", "arch": "Architectures", "trusted": "Trusted"}
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        extra = {}
        for opt in (m.group(1) or "").split():
            k, _, v = opt.partition("=")
            if k in OPTION_KEYS:
                extra[OPTION_KEYS[k]] = v.replace(",", " ")
        add([m.group(2)], [m.group(3)], m.group(4).split(), extra)

if not stanzas:
    sys.exit("no Debian entries found in /etc/apt/sources.list{,.d/*.list,.d/*.sources}")
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("\n\n".join("\n".join(k + ":" + ("" if v.startswith("\n") else " ") + v
                                  for k, v in st.items()) for st in stanzas) + "\n")
PY
}

# Runs "$@" with output to $1's log; on failure prints the log tail and dies.
run_logged() {
	local logfile=$1 what=$2
	shift 2
	if ! "$@" >"$logfile" 2>&1; then
		tail -n 40 "$logfile" >&2 || true
		die "$what failed (full log above / in $logfile)"
	fi
}

build() {
	local start=$SECONDS
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	ensure_packages "${BUILD_PACKAGES[@]}"
	command -v python3 >/dev/null 2>&1 || ensure_packages python3

	local go=/usr/lib/go/bin/go
	[[ -x $go ]] || go=$(command -v go) || die "no go toolchain found after installing golang-go"
	log "using $("$go" version)"

	rm -rf "$WORK_DIR"
	local apt_dir=$WORK_DIR/apt src_dir=$WORK_DIR/src debs_dir=$WORK_DIR/debs
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
		"$src_dir" "$debs_dir" "$WORK_DIR/debx" "$BIN_DIR"

	# --- private apt state -------------------------------------------------
	write_private_sources "$apt_dir/sources.list.d/debian.sources" ||
		die "could not derive Debian apt sources from /etc/apt"
	log "private apt sources ($apt_dir/sources.list.d/debian.sources):"
	sed 's/^/    /' "$apt_dir/sources.list.d/debian.sources"
	local -a apt_opts=(
		-o Dir::Etc::SourceList=/dev/null
		-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::Cache=$apt_dir/cache"
	)
	# apt drops privileges to _apt for downloads, and _apt cannot write into a
	# private directory under $HOME: download as the invoking user instead.
	if [[ $EUID -eq 0 ]]; then
		apt_opts+=(-o APT::Sandbox::User=root)
	fi

	log "apt-get update (private state in $apt_dir)"
	run_logged "$WORK_DIR/apt-update.log" "apt-get update (private state)" \
		apt-get "${apt_opts[@]}" -q update

	log "apt-get source --download-only $DEB_SRC_PKG=$DEB_SRC_VERSION"
	(cd "$src_dir" && run_logged "$WORK_DIR/apt-source.log" "apt-get source $DEB_SRC_PKG=$DEB_SRC_VERSION" \
		apt-get "${apt_opts[@]}" -q source --download-only "$DEB_SRC_PKG=$DEB_SRC_VERSION")

	log "apt-get download $REFLECT2_DEB $JSONITER_DEB"
	(cd "$debs_dir" && run_logged "$WORK_DIR/apt-download.log" "apt-get download" \
		apt-get "${apt_opts[@]}" -q download "$REFLECT2_DEB" "$JSONITER_DEB")

	# --- unpack and patch ----------------------------------------------------
	local upstream_version=${DEB_SRC_VERSION%-*}
	local orig=$src_dir/${DEB_SRC_PKG}_${upstream_version}.orig.tar.gz
	local debian_tar=$src_dir/${DEB_SRC_PKG}_${DEB_SRC_VERSION}.debian.tar.xz
	[[ -f $orig ]] || die "missing $orig after apt-get source"
	[[ -f $debian_tar ]] || die "missing $debian_tar after apt-get source"

	local gopath=$WORK_DIR/gopath
	local tree=$gopath/src/k8s.io/kubernetes
	mkdir -p "$gopath/src/k8s.io" "$WORK_DIR/unpack"
	log "unpacking $(basename "$orig") ($(du -h "$orig" | cut -f1))"
	tar -xzf "$orig" -C "$WORK_DIR/unpack"
	local top
	top=$(find "$WORK_DIR/unpack" -mindepth 1 -maxdepth 1 -type d)
	[[ $(wc -l <<<"$top") -eq 1 && -f $top/Makefile ]] || die "unexpected layout of $orig"
	mv "$top" "$tree"
	tar -xJf "$debian_tar" -C "$tree"

	local series=$tree/debian/patches/series p n=0
	if [[ -f $series ]]; then
		while read -r p _; do
			[[ -z $p || $p == \#* ]] && continue
			log "applying debian/patches/$p"
			patch -d "$tree" -p1 --forward --batch --quiet <"$tree/debian/patches/$p" ||
				die "patch $p does not apply"
			n=$((n + 1))
		done <"$series"
	fi
	log "applied $n Debian patch(es)"

	# --- reflect2 / json-iterator from Debian --------------------------------
	local deb
	for deb in "$debs_dir"/*.deb; do
		dpkg-deb -x "$deb" "$WORK_DIR/debx"
	done
	local gocode=$WORK_DIR/debx/usr/share/gocode/src mod pkg
	for mod in github.com/modern-go/reflect2 github.com/json-iterator/go; do
		pkg=$REFLECT2_DEB
		[[ $mod == */json-iterator/* ]] && pkg=$JSONITER_DEB
		[[ -d $gocode/$mod ]] || die "$gocode/$mod missing from the Debian packages"
		rm -rf "${tree:?}/vendor/$mod"
		mkdir -p "$tree/vendor/$mod"
		# Only the package itself (top-level files), as `go mod vendor` had it.
		find "$gocode/$mod" -mindepth 1 -maxdepth 1 -type f ! -name '*_test.go' \
			-exec cp -t "$tree/vendor/$mod/" {} +
		log "vendor/$mod <- $(cd "$debs_dir" && echo "$pkg"_*.deb)"
	done

	# --- build -----------------------------------------------------------------
	local version_file=$WORK_DIR/kube-version.env
	cat >"$version_file" <<EOF
KUBE_GIT_COMMIT='$KUBE_COMMIT'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_VERSION='$KUBE_VERSION'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='20'
EOF
	local build_log=$WORK_DIR/make.log
	log "building ${BINARIES[*]} (GOPATH mode; takes ~5 min on 2 cores; log: $build_log)"
	local build_start=$SECONDS
	set -m # own process group, so that an interrupt can stop the whole build
	(
		cd "$tree"
		unset GOFLAGS GOROOT GOBIN
		PATH="${go%/*}:$PATH"
		export PATH GOPATH="$gopath" GOCACHE="$WORK_DIR/gocache" \
			GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
			KUBE_GIT_VERSION_FILE="$version_file" KUBE_GIT_VERSION="$KUBE_VERSION" \
			KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean \
			KUBE_GIT_COMMIT="$KUBE_COMMIT"
		exec make WHAT="${BINARIES[*]/#/cmd/}"
	) </dev/null >"$build_log" 2>&1 &
	build_pid=$!
	set +m
	local last_report=$SECONDS line
	while kill -0 "$build_pid" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last_report >= 30)); then
			last_report=$SECONDS
			line=$(tail -n 1 "$build_log" 2>/dev/null | cut -c1-100)
			log "still building: $((SECONDS - build_start)) s elapsed${line:+ — $line}"
		fi
	done
	local rc=0
	wait "$build_pid" || rc=$?
	build_pid=""
	if ((rc != 0)); then
		tail -n 60 "$build_log" >&2 || true
		die "make failed with exit code $rc after $((SECONDS - build_start)) s (set NATOP_KEEP_BUILD_TREE=1 to keep $WORK_DIR)"
	fi
	local build_secs=$((SECONDS - build_start))
	log "make finished in $build_secs s"

	# --- install ----------------------------------------------------------------
	local b out v
	for b in "${BINARIES[@]}"; do
		out=$tree/_output/local/bin/linux/$("$go" env GOARCH)/$b
		[[ -x $out ]] || out=$tree/_output/bin/$b
		[[ -x $out ]] || die "build produced no $b"
		v=$("$out" --version) || die "$out --version failed"
		[[ $v == "Kubernetes $KUBE_VERSION" ]] || die "$b reports '$v', expected 'Kubernetes $KUBE_VERSION'"
		cp "$out" "$BIN_DIR/.$b.new"
		chmod 0755 "$BIN_DIR/.$b.new"
		mv -f "$BIN_DIR/.$b.new" "$BIN_DIR/$b"
	done
	# Keep the (tiny) .dsc as a record of what was built; drop the 34 MB tarball.
	mkdir -p "$KUBE_DIR/source"
	cp "$src_dir"/*.dsc "$KUBE_DIR/source/"
	{
		echo "kubernetes $KUBE_VERSION built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $build_secs s"
		echo "source package: $DEB_SRC_PKG $DEB_SRC_VERSION"
		echo "patches: $(grep -v '^#' "$series" 2>/dev/null | xargs)"
		echo "vendor replacements: $(cd "$debs_dir" && echo *.deb)"
		echo "toolchain: $("$go" version)"
		echo "flags: GO111MODULE=off GOPROXY=off CGO_ENABLED=0 make WHAT=\"${BINARIES[*]/#/cmd/}\""
	} >"$KUBE_DIR/BUILD-INFO"

	log "installed into $BIN_DIR:"
	for b in "${BINARIES[@]}"; do
		printf '    %s (%s)\n' "$BIN_DIR/$b" "$(du -h "$BIN_DIR/$b" | cut -f1)"
	done
	log "removing the build tree ($(du -sh "$WORK_DIR" 2>/dev/null | cut -f1))"
	# (the EXIT trap removes $WORK_DIR)
	log "done in $((SECONDS - start)) s; cache uses $(du -sh "$KUBE_DIR" --exclude=work 2>/dev/null | cut -f1)"
}

main() {
	ensure_packages "${RUNTIME_PACKAGES[@]}"
	ensure_kubectl

	if cached_binaries_ok; then
		report_reuse
		return 0
	fi

	mkdir -p "$KUBE_DIR"
	# One build at a time per cache directory.
	exec 9>"$KUBE_DIR/.build.lock"
	if ! flock -n 9; then
		log "another build.sh is building in $KUBE_DIR; waiting for it"
		flock 9
	fi
	if cached_binaries_ok quiet; then # built meanwhile by someone else
		report_reuse
		return 0
	fi
	build
}

main "$@"
