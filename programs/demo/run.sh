#!/usr/bin/env bash
# `npm run demo`: a local cluster with simulated nodes, then a real `pulumi up` of the example
# stack (programs/jupyterhub), run twice to show the fast path, then everything torn down.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

echo "== the Pulumi CLI, the @pulumi/kubernetes plugin and the local cluster (built from Go modules on first use, then cached), beside the npm install"
bash harness/build-tools.sh demo &
tools=$!
trap 'kill -TERM "$tools" 2>/dev/null' EXIT
bash harness/ensure-installed.sh
export PATH="$repo/node_modules/.bin:$PATH"
wait "$tools"
trap - EXIT
# shellcheck source=../../test/toolchain/env.sh
source test/toolchain/env.sh
pulumi version

work="$(mktemp -d -t prepuller-demo-XXXXXX)"
export PREPULLER_CLUSTER_DIR="$work/cluster"
export PULUMI_BACKEND_URL="file://$work/state"
mkdir -p "$work/state"
# The stack's settings file lands next to Pulumi.yaml; remove it afterwards unless it was there before.
[[ -e Pulumi.dev.yaml ]] && had_settings=1
cleanup() {
  set +e
  if [[ -n "${stack_ready:-}" ]]; then
    echo "== pulumi destroy"
    pulumi destroy --yes --stack dev --non-interactive >"$work/destroy.log" 2>&1 || cat "$work/destroy.log"
  fi
  bash test/cluster/cluster.sh down >/dev/null 2>&1
  rm -rf "$work"
  [[ -n "${had_settings:-}" ]] || rm -f Pulumi.dev.yaml
}
trap cleanup EXIT

echo "== local cluster: etcd, kube-apiserver, DaemonSet controller, scheduler, garbage collector, simulated kubelets"
kubeconfig="$(bash test/cluster/cluster.sh up --nodes 1 | tail -n1)"
ts-node -T programs/demo/user-nodes.ts "$kubeconfig" 3 1

echo "== pulumi up (the hub waits for the pre-puller)"
pulumi stack init dev --non-interactive >/dev/null
stack_ready=1
pulumi config set --secret kubeconfig --stack dev <"$kubeconfig"
pulumi config set namespace jhub --stack dev
start=$(date +%s)
pulumi up --yes --skip-preview --stack dev --non-interactive
first=$(( $(date +%s) - start ))

summary() {
  pulumi stack output --json --stack dev | node -e '
    const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(`   nodes:   ${o.nodes.length} (${o.nodes.join(", ")})`);
    console.log(`   images:  ${o.images.length} (${o.images.join(", ")})`);
    console.log(`   pre-pull: ${o.durationSeconds}s, skipped: ${o.skipped}`);
    const r = o.pullReport ?? { images: {}, slowestNodes: [] };
    for (const [image, p] of Object.entries(r.images))
      console.log(`   pulls of ${image}: ${p.nodes} nodes, p50 ${p.p50Seconds}s, max ${p.maxSeconds}s (${p.slowestNode})`);
    if (r.slowestNodes.length > 0)
      console.log(`   slowest nodes: ${r.slowestNodes.map((n) => `${n.node} ${n.seconds}s`).join(", ")}`);'
}
echo "== summary of the first run (pulumi up took ${first}s)"
summary

echo "== pulumi up again with nothing changed: the fast path (no cluster calls)"
start=$(date +%s)
pulumi up --yes --skip-preview --stack dev --non-interactive
echo "   second pulumi up took $(( $(date +%s) - start ))s"

echo "== a node joins: refresh sees the drift, the next up pulls onto it only"
ts-node -T programs/demo/user-nodes.ts "$kubeconfig" 1 4
pulumi refresh --yes --skip-preview --stack dev --non-interactive >/dev/null
# Refresh updates the resource's state (not the stack's outputs, which only `up` computes).
echo "   missing after refresh: $(pulumi stack export --stack dev | node -e '
  const state = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const prePull = state.deployment.resources.find((r) => r.type.endsWith("image-prepuller:PrePull"));
  console.log(JSON.stringify(prePull.outputs.missingNodes));')"
pulumi up --yes --skip-preview --stack dev --non-interactive >/dev/null
summary
