/**
 * What the bench sees from outside the measured process: when the DaemonSet controller created
 * each pre-pull pod (its pod-creation floor), and the apiserver's own request metrics. Runs in
 * the parent process, so none of its traffic is counted as the provider's.
 */
import * as https from "node:https";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

type ClientLibrary = typeof k8s;

interface Added {
    kind: "DaemonSet" | "Pod";
    name: string;
    owner?: string;
    at: number;
}

/** Watches DaemonSets and Pods in `namespace` and remembers when each was first seen. */
export async function observeCreations(
    lib: ClientLibrary,
    kc: k8s.KubeConfig,
    namespace: string,
): Promise<{ podCreationFloorSeconds(daemonSet: string): number | undefined; stop(): void }> {
    const added: Added[] = [];
    const remember = (kind: Added["kind"]) => (obj: k8s.KubernetesObject) =>
        added.push({
            kind,
            name: obj.metadata?.name ?? "",
            owner: obj.metadata?.ownerReferences?.[0]?.name,
            at: Date.now(),
        });
    // Informers, not bare watches: they resume after the watch's idle timeout without a gap.
    const core = kc.makeApiClient(lib.CoreV1Api);
    const apps = kc.makeApiClient(lib.AppsV1Api);
    const daemonSets = lib.makeInformer(kc, `/apis/apps/v1/namespaces/${namespace}/daemonsets`, () =>
        apps.listNamespacedDaemonSet({ namespace }),
    );
    const pods = lib.makeInformer(kc, `/api/v1/namespaces/${namespace}/pods`, () =>
        core.listNamespacedPod({ namespace }),
    );
    daemonSets.on("add", remember("DaemonSet"));
    pods.on("add", remember("Pod"));
    await Promise.all([daemonSets.start(), pods.start()]);
    return {
        podCreationFloorSeconds(daemonSet: string) {
            const created = added.find((a) => a.kind === "DaemonSet" && a.name === daemonSet)?.at;
            const pods = added.filter((a) => a.kind === "Pod" && a.owner === daemonSet).map((a) => a.at);
            if (created === undefined || pods.length === 0) return undefined;
            return (Math.max(...pods) - created) / 1000;
        },
        stop: () => void Promise.all([daemonSets.stop(), pods.stop()]),
    };
}

/** Counter and histogram-sum samples from the apiserver's /metrics, keyed by name and labels. */
export type Samples = Record<string, number>;

const FAMILIES = [
    "apiserver_request_total",
    "apiserver_response_sizes_sum",
    "apiserver_watch_events_total",
    "apiserver_watch_events_sizes_sum",
    "apiserver_longrunning_requests",
];
const RESOURCES = ["nodes", "pods", "daemonsets", "secrets"];
const KINDS = ["Node", "Pod", "DaemonSet"];

export async function apiserverMetrics(kc: k8s.KubeConfig): Promise<Samples> {
    const url = new URL(`${kc.getCurrentCluster()!.server}/metrics`);
    const options: https.RequestOptions = { method: "GET", hostname: url.hostname, port: url.port, path: url.pathname };
    await kc.applyToHTTPSOptions(options);
    const text = await new Promise<string>((resolve, reject) => {
        https
            .get(options, (response) => {
                if (response.statusCode !== 200) reject(new Error(`GET /metrics: HTTP ${response.statusCode}`));
                let body = "";
                response.setEncoding("utf8");
                response.on("data", (chunk: string) => (body += chunk));
                response.on("end", () => resolve(body));
            })
            .on("error", reject);
    });
    return parseSamples(text);
}

/**
 * The Prometheus text format, reduced to the families and labels compared here (verb, resource,
 * kind); a line-level parse is all this needs, so no parser library.
 */
function parseSamples(text: string): Samples {
    const samples: Samples = {};
    for (const line of text.split("\n")) {
        const match = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
        if (!match || !FAMILIES.includes(match[1]!)) continue;
        const labels = Object.fromEntries(
            [...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]),
        );
        const about = labels.resource ?? labels.kind ?? "";
        if (!RESOURCES.includes(about) && !KINDS.includes(about)) continue;
        if (labels.subresource) continue;
        const key = `${match[1]} ${labels.verb ?? ""} ${about}`.replace(/ {2}/g, " ");
        samples[key] = (samples[key] ?? 0) + Number(match[3]);
    }
    return samples;
}

/** after - before, keeping only what changed. */
export function delta(before: Samples, after: Samples): Samples {
    const result: Samples = {};
    for (const [key, value] of Object.entries(after)) {
        const change = value - (before[key] ?? 0);
        if (change !== 0) result[key] = change;
    }
    return result;
}
