#!/usr/bin/env bash
# Provides the @pulumi/kubernetes resource plugin, built from the Go module proxy, offline:
#
#   ensure.sh           build (or reuse) the cached pulumi-resource-kubernetes; the LAST line of
#                       stdout is the binary's path
#   ensure.sh --check   exit 0 (and print the path) only if nothing needs building
#   ensure.sh --install PULUMI_HOME
#                       also make it the plugin the CLI uses for @pulumi/kubernetes at
#                       PLUGIN_VERSION: $PULUMI_HOME/plugins/resource-kubernetes-v<version>/
#   ensure.sh --no-installed
#                       build (or reuse) the pinned build even where a plugin is installed
#
# A plugin already installed at PLUGIN_VERSION in the user's plugin cache
# ($PREPULLER_USER_PULUMI_HOME, else $PULUMI_HOME, else ~/.pulumi: plugins/resource-kubernetes-v<version>/,
# where `pulumi plugin install resource kubernetes <version>` puts it) is used as it is: nothing is built.
#
# The proxy refuses the tagged versions of github.com/pulumi/pulumi-kubernetes/provider/v4 but
# serves the pseudo-version below. Its go.mod replaces the sdk/v4 module with ../sdk (absent from
# a module download): go.mod and go.sum here are the module's own with that replace pointed at
# the published sdk/v4 v4.24.0 instead. The build copies the module source, runs its
# `go:generate` step (VERSION=... go run generate.go writes the embedded schema) and stamps the
# version, so the engine sees the version @pulumi/kubernetes asks for.
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/toolchain/kubernetes-<version>-<hash>/
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "kubernetes-plugin: $*" >&2; }

MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
PSEUDO_VERSION=v4.0.0-20260115033456-f47bc2d6f199
# The npm @pulumi/kubernetes release the repository pins: test/e2e/kubernetes-plugin.test.ts
# checks that its resource types are the ones this schema serves.
PLUGIN_VERSION=4.24.1
RECIPE=2

check=0 install_home="" use_installed=1
while (( $# > 0 )); do
  case "$1" in
    --check) check=1; shift ;;
    --no-installed) use_installed=0; shift ;;
    --install) install_home="$2"; shift 2 ;;
    *) log "unknown argument: $1"; exit 2 ;;
  esac
done

key="$( { echo "recipe=$RECIPE $MODULE@$PSEUDO_VERSION version=$PLUGIN_VERSION"; cat "$here/go.mod" "$here/go.sum"; } | sha256sum | cut -c1-12)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/toolchain"
entry="$cache_root/kubernetes-${PLUGIN_VERSION}-${key}"
bin="$entry/pulumi-resource-kubernetes"

install_into() {
  [[ -n "$install_home" ]] || return 0
  local dir="$install_home/plugins/resource-kubernetes-v${PLUGIN_VERSION}"
  mkdir -p "$dir"
  # The user's own plugin cache may be the one to install into: never link a file onto itself.
  [[ "$(readlink -f "$dir/pulumi-resource-kubernetes" 2>/dev/null)" == "$(readlink -f "$bin")" ]] && return 0
  ln -sfn "$bin" "$dir/pulumi-resource-kubernetes"
}

installed="${PREPULLER_USER_PULUMI_HOME:-${PULUMI_HOME:-$HOME/.pulumi}}/plugins/resource-kubernetes-v${PLUGIN_VERSION}/pulumi-resource-kubernetes"
if [[ "$use_installed" == 1 && -x "$installed" ]]; then
  bin="$(readlink -f "$installed")"
  log "using the installed plugin $installed (v${PLUGIN_VERSION}); nothing to build (--no-installed builds it)"
  install_into
  echo "$bin"
  exit 0
fi

if [[ -x "$bin" ]]; then
  log "using the cached build: $bin"
  install_into
  echo "$bin"
  exit 0
fi
if [[ "$check" == 1 ]]; then
  log "not cached: $bin"
  exit 1
fi
command -v go >/dev/null || { log "go is not installed (needed to build the kubernetes plugin)"; exit 1; }
mkdir -p "$cache_root"
exec 9>"$cache_root/.kubernetes.lock"
flock 9
if [[ -x "$bin" ]]; then
  install_into
  echo "$bin"
  exit 0
fi
rm -rf "$cache_root"/.build-kubernetes-*
tmp="$(mktemp -d "$cache_root/.build-kubernetes-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
t0=$(date +%s)
# shellcheck source=../../../harness/long-step.sh
source "$here/../../../harness/long-step.sh"
export LONG_STEP_PREFIX=kubernetes-plugin
download() {
  (cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "${MODULE}@${PSEUDO_VERSION}") >"$tmp/download.json"
}
long_step "downloading ${MODULE}@${PSEUDO_VERSION}, the @pulumi/kubernetes ${PLUGIN_VERSION} plugin's source" "30 s" download
src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$tmp/download.json")"
[[ -d "$src" ]] || { log "could not download ${MODULE}@${PSEUDO_VERSION}"; exit 1; }
cp -r "$src" "$tmp/src"
chmod -R u+w "$tmp/src"
cp "$here/go.mod" "$here/go.sum" "$tmp/src/"
long_step "generating the plugin's embedded schema (its go:generate step)" "2 min" \
  bash -c 'cd "$1/src/cmd/pulumi-resource-kubernetes" && VERSION="$2" go run generate.go' _ "$tmp" "$PLUGIN_VERSION"
mkdir -p "$tmp/out"
long_step "building pulumi-resource-kubernetes ${PLUGIN_VERSION}, which deploys the example stack's @pulumi/kubernetes resources" "9 min" \
  bash -c 'cd "$1/src" && go build -p 2 -trimpath -ldflags "-s -w -X $2/pkg/version.Version=$3" -o "$1/out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes' \
  _ "$tmp" "$MODULE" "$PLUGIN_VERSION"
cp "$tmp/src/cmd/pulumi-resource-kubernetes/schema.json" "$tmp/out/schema.json"
echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$(( $(date +%s) - t0 )) from=${MODULE}@${PSEUDO_VERSION}" >"$tmp/out/BUILDINFO"
rm -rf "$entry"
mv -T "$tmp/out" "$entry"
log "built in $(( $(date +%s) - t0 ))s: $bin"
install_into
echo "$bin"
