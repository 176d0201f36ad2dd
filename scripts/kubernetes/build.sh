#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager (Kubernetes 1.20) from Debian's `kubernetes` source package,
# once, into the git-ignored cache folder .cache/kubernetes/bin/.
#
# Usage: scripts/kubernetes/build.sh [--force]
#
# - A second run returns at once: the stamp file .cache/kubernetes/bin/STAMP records the Debian version that was built,
#   and nothing is done while it matches and both binaries are present. --force rebuilds anyway.
# - The Debian version to build is KUBERNETES_DEBIAN_VERSION (default below).
# - Missing apt packages are installed by name (sudo only when not root; `apt-get update` only if an install fails).
# - The source package is fetched with apt using a private copy of this machine's own apt sources rewritten to
#   deb-src, kept in the work folder: the machine's apt configuration, lists and caches are left untouched.
# - The build follows debian/rules (GOPATH layout, CGO disabled) plus one fix for Debian's Go 1.19: the vendored
#   github.com/modern-go/reflect2 v1.0.1 does not work with Go >= 1.18, so Debian's v1.0.2 replaces it.
# - The large work tree (~2 GB, including Go's build cache) is deleted after a successful build; after a failure it
#   stays in .cache/kubernetes/work for inspection (the next run starts it over).
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
cache_dir="$repo_root/.cache/kubernetes"
bin_dir="$cache_dir/bin"
stamp="$bin_dir/STAMP"
binaries=(kube-apiserver kube-controller-manager)
version=${KUBERNETES_DEBIAN_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}

force=false
case "${1:-}" in
  "") ;;
  --force) force=true ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

log() { echo "kubernetes/build: $*" >&2; }

# True when the cached binaries are the ones for $version.
up_to_date() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] || return 1
  local binary
  for binary in "${binaries[@]}"; do [ -x "$bin_dir/$binary" ] || return 1; done
}

# Fast path: nothing to do.
if ! $force && up_to_date; then
  exit 0
fi

# One build at a time (several test runners may start at once); the others wait and then find the binaries.
mkdir -p "$cache_dir"
exec 9>"$cache_dir/build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if ! $force && up_to_date; then
  exit 0
fi

started=$(date +%s)

# --- apt packages -----------------------------------------------------------------------------------------------------
source "$(dirname "$0")/../lib/apt.sh"
apt_install_missing golang-go rsync make dpkg-dev golang-github-modern-go-reflect2-dev

# --- fetch and unpack the source package --------------------------------------------------------------------------------
work="$cache_dir/work"
rm -rf "$work"
mkdir -p "$work/apt/sources.list.d" "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/download"
# As root, apt downloads as its sandbox user _apt, which must be able to write there.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$work/download"; fi

# The machine's own apt sources, rewritten from binary (deb) to source (deb-src) entries:
#  - deb822 files (*.sources): every `Types:` line becomes `Types: deb-src`;
#  - one-line files (sources.list, *.list): every `deb ...` line becomes `deb-src ...`.
# Files with other suffixes (e.g. *.disabled) are ignored, as apt ignores them.
: >"$work/apt/sources.list"
shopt -s nullglob
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$file" ] || continue
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$file" >>"$work/apt/sources.list"
done
for file in /etc/apt/sources.list.d/*.sources; do
  sed 's/^Types:.*/Types: deb-src/' "$file" >"$work/apt/sources.list.d/$(basename "$file")"
done
shopt -u nullglob

# Every apt call uses only the private sources, lists and cache.
apt_options=(
  -o "Dir::Etc::SourceList=$work/apt/sources.list"
  -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
  -o "Dir::State::Lists=$work/apt/lists"
  -o "Dir::Cache=$work/apt/cache"
)
log "fetching the source index"
apt-get "${apt_options[@]}" -qq update
log "fetching source package kubernetes=$version"
if ! (cd "$work/download" && apt-get "${apt_options[@]}" -qq source --download-only "kubernetes=$version"); then
  log "kubernetes=$version is not available; the sources list these versions (set KUBERNETES_DEBIAN_VERSION):"
  apt-cache "${apt_options[@]}" showsrc kubernetes | sed -n 's/^Version: /  /p' >&2
  exit 1
fi
dsc=("$work/download"/kubernetes_*.dsc)
# The files' hashes were checked by apt against the signed source index, so dpkg-source need not check the .dsc.
dpkg-source -x --no-check "${dsc[0]}" "$work/src" >/dev/null
rm -rf "$work/download"
src="$work/src"

# --- Go 1.19 fix: Debian's reflect2 v1.0.2 instead of the vendored v1.0.1 ------------------------------------------------
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
if grep -q 'github.com/modern-go/reflect2 v1.0.1' "$src/go.mod"; then
  log "replacing vendored github.com/modern-go/reflect2 v1.0.1 with Debian's v1.0.2"
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  cp -r "$reflect2" "$src/vendor/github.com/modern-go/reflect2"
  sed -i 's|github.com/modern-go/reflect2 v1.0.1|github.com/modern-go/reflect2 v1.0.2|g' \
    "$src/go.mod" "$src/vendor/modules.txt"
fi

# --- build, as debian/rules does ---------------------------------------------------------------------------------------
log "building ${binaries[*]} (takes about 5 minutes on 2 cores)"
mkdir -p "$src/.go/src/k8s.io" "$work/home"
ln -sfn ../../.. "$src/.go/src/k8s.io/kubernetes"
targets=()
for binary in "${binaries[@]}"; do targets+=("cmd/$binary"); done
if ! (cd "$src" && env GOPATH="$src/.go" CGO_ENABLED=0 HOME="$work/home" GOCACHE="$work/gocache" \
  make WHAT="${targets[*]}" >"$work/build.log" 2>&1); then
  tail -n 40 "$work/build.log" >&2
  log "build failed; the full log is $work/build.log"
  exit 1
fi

# --- install into the cache and clean up ---------------------------------------------------------------------------------
mkdir -p "$bin_dir"
for binary in "${binaries[@]}"; do
  install -m 0755 "$src/_output/local/bin/linux/amd64/$binary" "$bin_dir/$binary"
done
echo "$version" >"$stamp"
rm -rf "$work"

elapsed=$(($(date +%s) - started))
log "built ${binaries[*]} ($version) into $bin_dir in $((elapsed / 60))m$((elapsed % 60))s"
