#!/usr/bin/env bash
# Generates the Python SDK (sdk/python) from schema.json with ./main.go:
#
#   gen-sdk.sh              regenerate sdk/python in place
#   gen-sdk.sh --out DIR    write the SDK into DIR instead (the freshness test compares it)
#
# The generator binary is cached at ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/
# sdk-generate-<hash of go.mod, go.sum, main.go>/generate; it builds from the same pinned
# github.com/pulumi/pulumi/pkg/v3 as the test toolchain's CLI, so the Go build cache is shared.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
log() { echo "gen-sdk: $*" >&2; }

out="$repo/sdk/python"
while (( $# > 0 )); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    *) log "unknown argument: $1"; exit 2 ;;
  esac
done

key="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/sdk-generate-$key"
# One build at a time per key (two clones, or a test beside a manual run): the second waits on the
# lock and then finds the binary; a build killed halfway leaves only its own temporary file.
mkdir -p "$cache"
exec 9>"$cache.lock"
flock 9
if [[ ! -x "$cache/generate" ]]; then
  command -v go >/dev/null || { log "go is not installed (needed to build the SDK generator)"; exit 1; }
  log "building the SDK generator (github.com/pulumi/pulumi/pkg/v3/codegen/python, minutes when cold)"
  (cd "$here" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
    nice -n 10 go build -trimpath -o "$cache/generate.tmp.$$" .)
  mv "$cache/generate.tmp.$$" "$cache/generate"
fi
exec 9>&-

# Into a fresh directory first, so that files the generator no longer writes disappear.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$cache/generate" "$repo/schema.json" "$tmp/sdk"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp/sdk" "$out"
log "wrote $out"
