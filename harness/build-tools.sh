#!/usr/bin/env bash
# Builds (or finds) the Go-built tools a command needs, at the same time: while one build
# compiles, another downloads its modules, which on 2 cores saves minutes on a fresh machine.
#
#   build-tools.sh demo   the Pulumi CLI and Node.js host, the @pulumi/kubernetes plugin, localcluster
#   build-tools.sh ci     the same plus the Python host, the kubelet (the real node) and the
#                         Python example's virtualenv; the pinned CLI even if one is on PATH
#
# Each tool is cached outside the clone, keyed by version (see each script); a second run only
# says which cache it uses. Progress of every build goes to stderr, each line named by its tool.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
what="${1:-}"
case "$what" in
  demo) toolchain=(bash test/toolchain/ensure.sh) cluster=(bash test/cluster/cluster.sh build) ;;
  ci) toolchain=(bash test/toolchain/ensure.sh --no-path --python) cluster=(bash test/cluster/cluster.sh build --kubelet) ;;
  *) echo "usage: build-tools.sh demo|ci" >&2; exit 2 ;;
esac

pids=() names=()
start_tool() {
  local name="$1"
  shift
  "$@" >/dev/null &
  pids+=($!)
  names+=("$name")
}
stop_all() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap 'stop_all; exit 130' INT TERM HUP

t0=$SECONDS
start_tool "the Pulumi toolchain" "${toolchain[@]}"
start_tool "the @pulumi/kubernetes plugin" bash test/toolchain/kubernetes-plugin/ensure.sh
start_tool "the local cluster" "${cluster[@]}"
[[ "$what" == ci ]] && start_tool "the Python example's virtualenv" bash programs/jupyterhub-python/venv.sh

failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
if ((${#failed[@]} > 0)); then
  echo "build-tools: FAILED: ${failed[*]} (the output above says why)" >&2
  exit 1
fi
echo "build-tools: the tools for '$what' are ready ($((SECONDS - t0))s)" >&2
