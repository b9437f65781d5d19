/**
 * Adds JupyterHub user nodes to the local cluster (labelled and tainted the way the JupyterHub
 * chart expects, as the tests' addUserNode makes them), with realistic, varied pull times.
 *
 *   ts-node programs/demo/user-nodes.ts <kubeconfig> <count> <first-index>
 */
import { readFileSync } from "node:fs";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { SIM } from "../../harness/cluster";
import { addUserNode } from "../../harness/scenario";

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
        // Notebook images are large: 3 to 6 simulated seconds per image. Like a real kubelet, the
        // simulator reports Ready shortly after registering; addUserNode waits for that.
        await addUserNode({ core }, name, { [SIM.pullSeconds]: String(3 + (i % 4)) });
        console.log(`added ${name}`);
    }
}

main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
});
