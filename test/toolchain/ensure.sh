#!/usr/bin/env bash
# Provides the real Pulumi engine offline: the `pulumi` CLI, the Node.js and
# Python language hosts and the dynamic-provider plugin, in one bin directory.
#
#   ensure.sh            use an ambient pulumi (with pulumi-language-nodejs beside
#                        it or on PATH) or build/reuse the cached toolchain;
#                        the LAST line of stdout is the bin directory.
#   ensure.sh --check    exit 0 (and print the bin dir) only if nothing needs
#                        building; never builds.
#   ensure.sh --no-path  ignore any pulumi on PATH (always the pinned build).
#   ensure.sh --python   also the Python language host (only the Python example needs it).
#   (PULUMI_TOOLCHAIN_IGNORE_PATH=1 does the same as --no-path.)
#
# A pulumi on PATH fits when it is v3 at or above MIN_AMBIENT below (the @pulumi/pulumi the
# repository pins) and has pulumi-language-nodejs (and, with --python, pulumi-language-python)
# beside it or on PATH, as every Pulumi install does.
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/toolchain/
#        pulumi-<cli version>-<hash of our go.mod/go.sum files + build recipe>/bin
# A build happens in a temporary directory that is renamed into place once
# complete, so an interrupted build never leaves a half-filled cache entry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "toolchain: $*" >&2; }

check=0 python=0
ignore_path="${PULUMI_TOOLCHAIN_IGNORE_PATH:-0}"
MIN_AMBIENT=3.259.0
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    --no-path) ignore_path=1 ;;
    --python) python=1 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown argument: $a"; exit 2 ;;
  esac
done

# 1. An ambient installation that fits wins (e.g. a developer's own pulumi).
version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }
has_host() { [[ -x "$1/pulumi-language-$2" ]] || command -v "pulumi-language-$2" >/dev/null 2>&1; }
if [[ "$ignore_path" != 1 ]] && ambient="$(command -v pulumi 2>/dev/null)"; then
  ambient_dir="$(cd "$(dirname "$ambient")" && pwd)"
  ambient_version="$(PULUMI_SKIP_UPDATE_CHECK=true "$ambient" version 2>/dev/null | tr -d 'v' || true)"
  if [[ ! "$ambient_version" =~ ^3\.[0-9]+\.[0-9]+ ]] || ! version_at_least "$ambient_version" "$MIN_AMBIENT"; then
    log "ignoring $ambient: version '${ambient_version:-?}' (a v3 >= $MIN_AMBIENT fits)"
  elif ! has_host "$ambient_dir" nodejs; then
    log "ignoring $ambient: no pulumi-language-nodejs beside it or on PATH"
  elif [[ "$python" == 1 ]] && ! has_host "$ambient_dir" python; then
    log "ignoring $ambient: no pulumi-language-python beside it or on PATH"
  else
    log "using pulumi on PATH: $ambient_dir/pulumi (v$ambient_version); nothing to build (--no-path builds the pinned one)"
    echo "$ambient_dir"
    exit 0
  fi
fi

# 2. The pinned build, keyed by what determines its content.
#    Bump RECIPE when the build commands below change.
RECIPE=3
modver() { awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) {print ($1 == m ? $2 : $3); exit}' "$1"; }
cli_version="$(modver "$here/cli/go.mod" github.com/pulumi/pulumi/pkg/v3)"
host_version="$(modver "$here/nodejs-host/go.mod" github.com/pulumi/pulumi/sdk/v3)"
[[ -n "$cli_version" && -n "$host_version" ]] || { log "cannot read pinned versions from go.mod files"; exit 1; }
key="$( { echo "recipe=$RECIPE"; cat "$here/cli/go.mod" "$here/cli/go.sum" "$here/nodejs-host/go.mod" "$here/nodejs-host/go.sum" "$here/plugin/pulumi-resource-pulumi-nodejs"; } | sha256sum | cut -c1-12)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/toolchain"
entry="$cache_root/pulumi-${cli_version}-${key}"
bin="$entry/bin"

# The engine and Node.js host form one cache entry; the Python host is added to it on demand.
complete() {
  [[ -x "$1/pulumi" && -x "$1/pulumi-language-nodejs" && -x "$1/pulumi-resource-pulumi-nodejs" ]] &&
    { [[ "$python" == 0 ]] || [[ -x "$1/pulumi-language-python" && -f "$1/pulumi-language-python-exec" ]]; }
}

if complete "$bin"; then
  log "using the cached build: $bin"
  echo "$bin"
  exit 0
fi
if [[ "$check" == 1 ]]; then
  log "not cached: $bin"
  exit 1
fi

command -v go >/dev/null || { log "go is not installed (needed to build pulumi ${cli_version})"; exit 1; }
mkdir -p "$cache_root"

# One build at a time per cache; a second caller waits and then reuses the result.
exec 9>"$cache_root/.lock"
if command -v flock >/dev/null && ! flock -n 9; then
  log "another build of the toolchain is running; waiting for it"
  flock 9
fi
if complete "$bin"; then
  log "cached (built by a concurrent caller): $bin"
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
vpkg=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
# shellcheck source=../../harness/long-step.sh
source "$here/../../harness/long-step.sh"
export LONG_STEP_PREFIX=toolchain

# The Python language host of the same sdk/v3 module (the last version that holds it, too); it
# runs its executor script, which must sit beside it, with the python3 first on PATH (or
# PULUMI_PYTHON_CMD). Built into a temporary name and renamed, so a half-built host is never used.
add_python_host() {
  local into="$1"
  long_step "building pulumi-language-python ${host_version} (github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python), for the Python example" "1 min after the Node.js host" \
    bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w -X $2=$3" -o "$4/.pulumi-language-python.tmp" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python' \
    _ "$here/nodejs-host" "$vpkg" "$host_version" "$into"
  local sdk_dir
  sdk_dir="$(cd "$here/nodejs-host" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$into/pulumi-language-python-exec"
  mv -f "$into/.pulumi-language-python.tmp" "$into/pulumi-language-python"
  echo "pulumi-language-python=${host_version}" >>"$into/../BUILDINFO"
}

# Only the Python host is missing: add it to the finished entry.
if [[ -x "$bin/pulumi" && -x "$bin/pulumi-language-nodejs" && -x "$bin/pulumi-resource-pulumi-nodejs" ]]; then
  add_python_host "$bin"
  log "toolchain ready: $bin"
  echo "$bin"
  exit 0
fi

# Holding the lock, no other build of the CLI runs: leftovers of its killed builds can go (the
# kubernetes plugin builds beside it in .build-kubernetes-*, under a lock of its own).
command -v flock >/dev/null && rm -rf "$cache_root"/.build-pulumi-*
tmp="$(mktemp -d "$cache_root/.build-pulumi-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/bin"

t0=$(date +%s)
long_step "building pulumi ${cli_version} (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi), the engine the demo and tests run" "5 min" \
  bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w -X $2=$3" -o "$4/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi' \
  _ "$here/cli" "$vpkg" "$cli_version" "$tmp/bin"
long_step "building pulumi-language-nodejs ${host_version} (github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs), which runs TypeScript programs" "1 min after the CLI" \
  bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w -X $2=$3" -o "$4/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs' \
  _ "$here/nodejs-host" "$vpkg" "$host_version" "$tmp/bin"
t3=$(date +%s)
install -m 0755 "$here/plugin/pulumi-resource-pulumi-nodejs" "$tmp/bin/pulumi-resource-pulumi-nodejs"

got="$(PULUMI_SKIP_UPDATE_CHECK=true PULUMI_HOME="$tmp/home" "$tmp/bin/pulumi" version)"
[[ "$got" == "$cli_version" ]] || { log "built pulumi reports version '$got', expected '$cli_version'"; exit 1; }
rm -rf "$tmp/home"
{
  echo "pulumi=${cli_version}"
  echo "pulumi-language-nodejs=${host_version}"
  echo "go=$(go env GOVERSION)"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$((t3 - t0))"
} >"$tmp/BUILDINFO"

rm -rf "$entry.old"
[[ -e "$entry" ]] && mv "$entry" "$entry.old"   # an incomplete leftover from an older layout
mv -T "$tmp" "$entry"
trap - EXIT
rm -rf "$entry.old"
[[ "$python" == 1 ]] && add_python_host "$bin"
log "toolchain ready in $((t3 - t0))s: $bin"
echo "$bin"
