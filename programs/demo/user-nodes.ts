/**
 * Adds JupyterHub user nodes to the local cluster: labelled and tainted the way the JupyterHub
 * chart expects, with realistic, varied pull times for the simulated kubelets.
 *
 *   ts-node programs/demo/user-nodes.ts <kubeconfig> <count> <first-index>
 */
import { readFileSync } from "node:fs";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

async function main(): Promise<void> {
    const [kubeconfigPath, countText = "3", firstText = "1"] = process.argv.slice(2);
    if (!kubeconfigPath) throw new Error("usage: user-nodes.ts <kubeconfig> [count] [first-index]");
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(readFileSync(kubeconfigPath, "utf8"));
    const core = kc.makeApiClient(lib.CoreV1Api);
    const first = Number(firstText);
    for (let i = first; i < first + Number(countText); i++) {
        const name = `user-node-${i}`;
        await core.createNode({
            body: {
                metadata: {
                    name,
                    labels: { "hub.jupyter.org/node-purpose": "user", "kubernetes.io/hostname": name },
                    // Notebook images are large: 3 to 6 simulated seconds per image.
                    annotations: { "simulator.prepuller.test/pull-seconds": String(3 + (i % 4)) },
                },
                spec: { taints: [{ key: "hub.jupyter.org/dedicated", value: "user", effect: "NoSchedule" }] },
            },
        });
        console.log(`added ${name}`);
    }
    // Like a real kubelet, the simulator reports Ready shortly after registering, and the
    // control plane then lifts the not-ready taint; until then user pods would not land there.
    for (let i = first; i < first + Number(countText); i++) {
        const name = `user-node-${i}`;
        for (let attempt = 0; ; attempt++) {
            const node = await core.readNode({ name });
            const ready = (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
            const tainted = (node.spec?.taints ?? []).some((t) => t.key === "node.kubernetes.io/not-ready");
            if (ready && !tainted) break;
            if (attempt > 150) throw new Error(`${name} did not become Ready`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
}

main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
});
