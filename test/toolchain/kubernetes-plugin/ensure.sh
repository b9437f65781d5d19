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
# the published sdk/v4 v4.24.0 instead (the build then points it at a trimmed copy of that
# module, see below). The build copies the module source, runs its
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
RECIPE=3

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

# The provider imports its own Go SDK (sdk/v4) for three things: the Chart v4 options types, the
# untyped args, and yaml/v2's RegisterResource, which the ConfigGroup/ConfigFile v2 and Chart v4
# components call for every object they create. That function switches over the 158 kinds to
# register each as its typed Go resource struct, so it imports all 60 resource packages of the
# SDK: 64 % of the plugin's compile work (920 of 1,430 compile-seconds measured cold). The type
# token it registers is the same string either way, and the engine sees only the token, the name
# and the inputs; so in a copy of sdk/v4 every kind registers as the SDK's own untyped
# CustomResource under its own token, and the other 54 packages are not compiled.
# test/e2e/kubernetes-plugin.test.ts deploys a ConfigGroup through the built plugin.
sdk_module=github.com/pulumi/pulumi-kubernetes/sdk/v4
sdk_version="$(awk -v m="$sdk_module" '$1 == "replace" && $2 == m {print $NF; exit}' "$here/go.mod")"
[[ -n "$sdk_version" ]] || { log "go.mod has no replace of $sdk_module with a version"; exit 1; }
(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "${sdk_module}@${sdk_version}") >"$tmp/sdk.json"
sdk_src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$tmp/sdk.json")"
[[ -d "$sdk_src" ]] || { log "could not download ${sdk_module}@${sdk_version}"; exit 1; }
cp -r "$sdk_src" "$tmp/sdk"
chmod -R u+w "$tmp/sdk"
kinds="$tmp/sdk/go/kubernetes/yaml/v2/kinds.go"
sed -i -E \
  -e 's/^([[:space:]]+)var res [a-z0-9]+\.[A-Za-z0-9]+$/\1var res apiextensions.CustomResource/' \
  -e '/^[[:space:]]+[a-z0-9]+ "github.com\/pulumi\/pulumi-kubernetes\/sdk\/v4\/go\/kubernetes\/[^"]+"$/d' \
  "$kinds"
typed="$(grep -c 'var res ' "$kinds")" untyped="$(grep -c 'var res apiextensions.CustomResource$' "$kinds")"
[[ "$typed" == "$untyped" && "$untyped" -gt 100 ]] ||
  { log "sdk/v4's yaml/v2 kinds.go is not shaped as expected ($untyped of $typed registrations rewritten)"; exit 1; }
(cd "$tmp/src" && go mod edit -replace "${sdk_module}=../sdk")
# -trimpath as in the build below: the 400 packages the generator compiles are then the build's
# own, taken from the build cache instead of compiled a second time (about 2 min on 2 cores).
long_step "generating the plugin's embedded schema (its go:generate step)" "2 min" \
  bash -c 'cd "$1/src/cmd/pulumi-resource-kubernetes" && VERSION="$2" go run -trimpath generate.go' _ "$tmp" "$PLUGIN_VERSION"
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
