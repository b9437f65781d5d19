/**
 * The seed's algorithm as its README states it (the JupyterHub chart's 2018 pre-puller): create
 * the DaemonSet, list all nodes every 2 s until every schedulable node reports every image in
 * status.images, delete the DaemonSet.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { renderDaemonSet } from "../../components/rules/daemonset";
import type { PrePullInputs } from "../../components/rules/inputs";
import { parseImageReference, referenceSatisfies, tryParseImageReference } from "../../components/rules/references";
import { setTimeout as pause } from "node:timers/promises";
import type { PeerRun } from "./peer";

export async function seedPrePull(inputs: PrePullInputs, run: PeerRun): Promise<void> {
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(inputs.kubeconfig!);
    const core = kc.makeApiClient(lib.CoreV1Api);
    const apps = kc.makeApiClient(lib.AppsV1Api);
    const wanted = inputs.images.map((i) => parseImageReference(i));
    const name = `${inputs.ownerId}-seed`;
    const manifest = renderDaemonSet({ ...inputs, name });
    await apps.createNamespacedDaemonSet({ namespace: inputs.namespace, body: manifest as never });
    const deadline = Date.now() + inputs.timeoutSeconds * 1000;
    let done = false;
    // How long each list takes here (a Go client parses faster than client-node): recorded, not hidden.
    const listSeconds: number[] = [];
    while (!done && Date.now() < deadline) {
        const listStarted = Date.now();
        const listed = await core.listNode();
        listSeconds.push((Date.now() - listStarted) / 1000);
        const nodes = listed.items.filter((n) => !n.spec?.unschedulable);
        done = nodes.every((n) => {
            const names = (n.status?.images ?? []).flatMap((i) => i.names ?? []).map((x) => tryParseImageReference(x));
            return wanted.every((w) => names.some((r) => r !== undefined && referenceSatisfies(r, w)));
        });
        if (!done) await pause(2000);
    }
    if (done) run.detected();
    run.extra.lists = listSeconds.length;
    run.extra.listSecondsMean = listSeconds.reduce((a, b) => a + b, 0) / listSeconds.length;
    run.extra.listSecondsMax = Math.max(...listSeconds);
    await apps.deleteNamespacedDaemonSet({ name, namespace: inputs.namespace, propagationPolicy: "Foreground" });
    if (!done) throw new Error(`seed: not every node reported every image within ${inputs.timeoutSeconds} s`);
}
