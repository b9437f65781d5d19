/**
 * One measured pre-pull in its own process (so its peak RSS and API traffic are its own):
 * `ours` runs the provider's create; `baseline` runs the seed's algorithm as its README states
 * it (create the DaemonSet, list all nodes every 2 s until every schedulable node reports every
 * image in status.images, delete the DaemonSet). Prints one JSON line.
 */
import * as diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { renderDaemonSet } from "../components/daemonset";
import { prePullProvider } from "../components/provider";
import type { PrePullInputs } from "../components/inputs";
import { parseImageReference, referenceSatisfies, tryParseImageReference } from "../components/references";

const sockets: Socket[] = [];
let requests = 0;
let measuring = false;
diagnostics.subscribe("net.client.socket", (message) => {
    if (measuring) sockets.push((message as { socket: Socket }).socket);
});
diagnostics.subscribe("undici:request:create", () => {
    if (measuring) requests++;
});

function apiBytes(): number {
    return sockets.reduce((sum, s) => sum + s.bytesRead + s.bytesWritten, 0);
}

async function ours(inputs: PrePullInputs): Promise<number> {
    let detectedAt = 0;
    const log = console.log;
    console.log = (line: string) => {
        if (/eligible nodes hold all/.test(line)) detectedAt = Date.now();
    };
    try {
        await prePullProvider.create(inputs);
    } finally {
        console.log = log;
    }
    return detectedAt;
}

async function baseline(inputs: PrePullInputs): Promise<number> {
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(inputs.kubeconfig!);
    const core = kc.makeApiClient(lib.CoreV1Api);
    const apps = kc.makeApiClient(lib.AppsV1Api);
    const wanted = inputs.images.map((i) => parseImageReference(i));
    const name = `${inputs.ownerId}-seed`;
    const manifest = renderDaemonSet({ ...inputs, name });
    await apps.createNamespacedDaemonSet({ namespace: inputs.namespace, body: manifest as never });
    let detectedAt = 0;
    for (;;) {
        const nodes = (await core.listNode()).items.filter((n) => !n.spec?.unschedulable);
        const done = nodes.every((n) => {
            const names = (n.status?.images ?? []).flatMap((i) => i.names ?? []).map((x) => tryParseImageReference(x));
            return wanted.every((w) => names.some((r) => r !== undefined && referenceSatisfies(r, w)));
        });
        if (done) {
            detectedAt = Date.now();
            break;
        }
        await new Promise((r) => setTimeout(r, 2000));
    }
    await apps.deleteNamespacedDaemonSet({ name, namespace: inputs.namespace, propagationPolicy: "Foreground" });
    return detectedAt;
}

async function main(): Promise<void> {
    const mode = process.argv[2];
    const inputs = JSON.parse(process.env.BENCH_INPUTS!) as PrePullInputs;
    const startedAt = Date.now();
    measuring = true;
    const detectedAt = mode === "baseline" ? await baseline(inputs) : await ours(inputs);
    const returnedAt = Date.now();
    measuring = false;
    const usage = process.resourceUsage();
    console.log(
        JSON.stringify({
            mode,
            startedAt,
            detectedAt,
            returnedAt,
            requests,
            apiBytes: apiBytes(),
            peakRssMb: Math.round(usage.maxRSS / 1024),
        }),
    );
    process.exit(0);
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
