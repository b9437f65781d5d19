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
#   (PULUMI_TOOLCHAIN_IGNORE_PATH=1 does the same as --no-path.)
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/toolchain/
#        pulumi-<cli version>-<hash of our go.mod/go.sum files + build recipe>/bin
# A build happens in a temporary directory that is renamed into place once
# complete, so an interrupted build never leaves a half-filled cache entry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "toolchain: $*" >&2; }

check=0
ignore_path="${PULUMI_TOOLCHAIN_IGNORE_PATH:-0}"
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    --no-path) ignore_path=1 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown argument: $a"; exit 2 ;;
  esac
done

# 1. An ambient installation wins (e.g. a developer's own pulumi).
if [[ "$ignore_path" != 1 ]] && ambient="$(command -v pulumi 2>/dev/null)"; then
  ambient_dir="$(cd "$(dirname "$ambient")" && pwd)"
  if [[ -x "$ambient_dir/pulumi-language-nodejs" ]] || command -v pulumi-language-nodejs >/dev/null 2>&1; then
    log "using pulumi on PATH: $ambient_dir/pulumi ($("$ambient" version 2>/dev/null || echo '?'))"
    echo "$ambient_dir"
    exit 0
  fi
  log "ignoring $ambient: no pulumi-language-nodejs beside it or on PATH"
fi

# 2. The pinned build, keyed by what determines its content.
#    Bump RECIPE when the build commands below change.
RECIPE=2
modver() { awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) {print ($1 == m ? $2 : $3); exit}' "$1"; }
cli_version="$(modver "$here/cli/go.mod" github.com/pulumi/pulumi/pkg/v3)"
host_version="$(modver "$here/nodejs-host/go.mod" github.com/pulumi/pulumi/sdk/v3)"
[[ -n "$cli_version" && -n "$host_version" ]] || { log "cannot read pinned versions from go.mod files"; exit 1; }
key="$( { echo "recipe=$RECIPE"; cat "$here/cli/go.mod" "$here/cli/go.sum" "$here/nodejs-host/go.mod" "$here/nodejs-host/go.sum" "$here/plugin/pulumi-resource-pulumi-nodejs"; } | sha256sum | cut -c1-12)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/toolchain"
entry="$cache_root/pulumi-${cli_version}-${key}"
bin="$entry/bin"

complete() {
  [[ -x "$1/pulumi" && -x "$1/pulumi-language-nodejs" && -x "$1/pulumi-resource-pulumi-nodejs" &&
    -x "$1/pulumi-language-python" && -f "$1/pulumi-language-python-exec" ]]
}

if complete "$bin"; then
  log "cached: $bin"
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

# Holding the lock, no other build runs: leftovers of killed builds can go.
command -v flock >/dev/null && rm -rf "$cache_root"/.build-*
tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/bin"

export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
vpkg=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
t0=$(date +%s)
log "building pulumi ${cli_version} (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi); a cold build takes a while"
(cd "$here/cli" && go build -trimpath -ldflags "-s -w -X ${vpkg}=${cli_version}" \
  -o "$tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
t1=$(date +%s)
log "built pulumi in $((t1 - t0))s"
log "building pulumi-language-nodejs ${host_version} (github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs)"
(cd "$here/nodejs-host" && go build -trimpath -ldflags "-s -w -X ${vpkg}=${host_version}" \
  -o "$tmp/bin/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs)
t2=$(date +%s)
log "built pulumi-language-nodejs in $((t2 - t1))s"
# The Python host of the same sdk/v3 module (the last version that holds it, too); it runs its
# executor script, which must sit beside it, with the python3 first on PATH (or PULUMI_PYTHON_CMD).
log "building pulumi-language-python ${host_version} (github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python)"
(cd "$here/nodejs-host" && go build -trimpath -ldflags "-s -w -X ${vpkg}=${host_version}" \
  -o "$tmp/bin/pulumi-language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python)
sdk_dir="$(cd "$here/nodejs-host" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$tmp/bin/pulumi-language-python-exec"
t3=$(date +%s)
log "built pulumi-language-python in $((t3 - t2))s"
install -m 0755 "$here/plugin/pulumi-resource-pulumi-nodejs" "$tmp/bin/pulumi-resource-pulumi-nodejs"

got="$(PULUMI_SKIP_UPDATE_CHECK=true PULUMI_HOME="$tmp/home" "$tmp/bin/pulumi" version)"
[[ "$got" == "$cli_version" ]] || { log "built pulumi reports version '$got', expected '$cli_version'"; exit 1; }
rm -rf "$tmp/home"
{
  echo "pulumi=${cli_version}"
  echo "pulumi-language-nodejs=${host_version}"
  echo "pulumi-language-python=${host_version}"
  echo "go=$(go env GOVERSION)"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$((t3 - t0))"
} >"$tmp/BUILDINFO"

rm -rf "$entry.old"
[[ -e "$entry" ]] && mv "$entry" "$entry.old"   # an incomplete leftover from an older layout
mv -T "$tmp" "$entry"
trap - EXIT
rm -rf "$entry.old"
log "toolchain ready in $((t3 - t0))s: $bin"
echo "$bin"
