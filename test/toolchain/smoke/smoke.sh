#!/usr/bin/env bash
# End-to-end smoke test of the offline Pulumi engine: CLI + Node.js language
# host + dynamic-provider plugin, file:// backend, TypeScript program.
# Exits non-zero on the first failure. Keeps its temp dir on failure
# (SMOKE_KEEP=1 keeps it always).
#
#   bash test/toolchain/smoke/smoke.sh [--no-automation]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
automation=1
[[ "${1:-}" == "--no-automation" ]] && automation=0

bin="$(bash "$here/../ensure.sh" | tail -n1)"
work="$(mktemp -d "${TMPDIR:-/tmp}/prepuller-smoke.XXXXXX")"
ok=0
cleanup() { if [[ $ok == 1 && "${SMOKE_KEEP:-0}" != 1 ]]; then rm -rf "$work"; else echo "smoke: work dir kept: $work" >&2; fi; }
trap cleanup EXIT

export PREPULLER_PULUMI_HOME="$work/home"
# shellcheck source=../env.sh
source "$here/../env.sh" "$bin"
unset PULUMI_BACKEND_URL PULUMI_ACCESS_TOKEN

# The program is copied out of the tree (stack init writes Pulumi.<stack>.yaml)
# and finds @pulumi/pulumi through a node_modules symlink to the repo's.
mkdir -p "$work/prog" "$work/state"
cp "$here/Pulumi.yaml" "$here/package.json" "$here/tsconfig.json" "$here/index.ts" "$work/prog/"
ln -s "$repo/node_modules" "$work/prog/node_modules"
cd "$work/prog"

step() { echo "smoke: \$ $*" >&2; }
run() { # run CMD... ; output to $work/last.log and stderr
  step "$@"
  local t0=$SECONDS
  if ! timeout 600 "$@" >"$work/last.log" 2>&1; then
    cat "$work/last.log" >&2; echo "smoke: FAILED: $*" >&2; exit 1
  fi
  cat "$work/last.log" >&2
  echo "smoke: ok in $((SECONDS - t0))s: $*" >&2
}
expect() { # expect PATTERN DESCRIPTION
  grep -q -- "$1" "$work/last.log" || { echo "smoke: FAILED: $2 (no '$1' in output)" >&2; exit 1; }
}

run node --version; expect '^v2[4-9]\.' "node from node_modules/.bin is Node >= 24"
run pulumi version
run pulumi login "file://$work/state"
run pulumi stack init dev
run pulumi config set message hello
run pulumi preview
expect 'echo' "preview lists the dynamic resource"
run pulumi up --yes
expect 'SMOKE-CREATE-LOG message=hello' "console.log of the dynamic provider's create() reaches the CLI output"
expect 'created' "up creates the resource"
run pulumi stack output message; expect '^hello$' "stack output"
run pulumi up --yes --expect-no-changes
run pulumi stack export --file "$work/state.json"
if grep -q 'smoke-secret-value-42' "$work/state.json"; then
  echo "smoke: FAILED: the secret input is in plaintext in pulumi stack export" >&2; exit 1
fi
grep -q '"ciphertext"' "$work/state.json" || { echo "smoke: FAILED: no encrypted value in the exported state" >&2; exit 1; }
run pulumi destroy --yes
expect 'deleted' "destroy deletes the resource"
run pulumi stack rm --yes dev

if [[ $automation == 1 ]]; then
  run node "$here/automation.js" "$work/prog" "$work/state"
  expect 'AUTOMATION-OK' "Automation API run"
fi
ok=1
echo "smoke: OK in ${SECONDS}s (pulumi $(pulumi version), bin $bin)" >&2
