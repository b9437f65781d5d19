/**
 * What the bench sees from outside the measured process: when the DaemonSet controller created
 * each pre-pull pod (its pod-creation floor) and first wrote each DaemonSet's status, and the
 * apiserver's own request metrics. Runs in the parent process, so none of its traffic is counted
 * as a pre-pull's.
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

/** When a watcher saw a DaemonSet created and its status change (ms since the epoch). */
export interface DaemonSetTimes {
    createdAt?: number;
    /** The DaemonSet controller's first status write (until then, desired = ready = 0). */
    firstStatusAt?: number;
    /** The first status with every desired pod ready: when a status-reading awaiter could end. */
    allReadyAt?: number;
}

export interface Observed {
    podCreationFloorSeconds(daemonSet: string): number | undefined;
    daemonSetTimes(daemonSet: string): DaemonSetTimes;
    stop(): void;
}

/** Watches DaemonSets and Pods in `namespace` and remembers when each was first seen, and DaemonSet status. */
export async function observeCreations(lib: ClientLibrary, kc: k8s.KubeConfig, namespace: string): Promise<Observed> {
    const added: Added[] = [];
    const firstStatus = new Map<string, number>();
    const allReady = new Map<string, number>();
    const remember = (kind: Added["kind"]) => (obj: k8s.KubernetesObject) =>
        added.push({
            kind,
            name: obj.metadata?.name ?? "",
            owner: obj.metadata?.ownerReferences?.[0]?.name,
            at: Date.now(),
        });
    const statusChanged = (ds: k8s.V1DaemonSet) => {
        const name = ds.metadata?.name ?? "";
        const status = ds.status;
        if (!status || !status.observedGeneration) return;
        if (!firstStatus.has(name)) firstStatus.set(name, Date.now());
        const desired = status.desiredNumberScheduled;
        if (!allReady.has(name) && desired > 0 && status.numberReady === desired) allReady.set(name, Date.now());
    };
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
    daemonSets.on("update", statusChanged);
    pods.on("add", remember("Pod"));
    await Promise.all([daemonSets.start(), pods.start()]);
    const createdAt = (daemonSet: string) => added.find((a) => a.kind === "DaemonSet" && a.name === daemonSet)?.at;
    const since = (daemonSet: string, at: number | undefined) => {
        const created = createdAt(daemonSet);
        return created === undefined || at === undefined ? undefined : (at - created) / 1000;
    };
    return {
        podCreationFloorSeconds(daemonSet: string) {
            const pods = added.filter((a) => a.kind === "Pod" && a.owner === daemonSet).map((a) => a.at);
            return pods.length === 0 ? undefined : since(daemonSet, Math.max(...pods));
        },
        daemonSetTimes: (daemonSet: string) => ({
            createdAt: createdAt(daemonSet),
            firstStatusAt: firstStatus.get(daemonSet),
            allReadyAt: allReady.get(daemonSet),
        }),
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

/** A GET of an apiserver path, as text (its metrics, its version). */
async function getText(kc: k8s.KubeConfig, pathname: string): Promise<string> {
    const url = new URL(`${kc.getCurrentCluster()!.server}${pathname}`);
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
    return text;
}

export async function apiserverMetrics(kc: k8s.KubeConfig): Promise<Samples> {
    return parseSamples(await getText(kc, "/metrics"));
}

/** The apiserver's gitVersion (GET /version). */
export async function apiserverVersion(kc: k8s.KubeConfig): Promise<string> {
    return (JSON.parse(await getText(kc, "/version")) as { gitVersion: string }).gitVersion;
}

/**
 * Feature gates that change what the apiserver sends a client that lists and watches: gzip of
 * large responses, streaming lists (sendInitialEvents), lists served from the watch cache, and
 * the watch cache's own behaviour.
 */
export const FEATURE_GATES = [
    "APIResponseCompression",
    "WatchList",
    "ConsistentListFromCache",
    "ListFromCacheSnapshot",
    "WatchCacheInitializationPostStartHook",
    "SizeBasedListCostEstimate",
];

/** The named gates' state, from the apiserver's `kubernetes_feature_enabled` metric. */
export async function featureGates(kc: k8s.KubeConfig, names: readonly string[]): Promise<Record<string, boolean>> {
    const gates: Record<string, boolean> = {};
    for (const line of (await getText(kc, "/metrics")).split("\n")) {
        const match = /^kubernetes_feature_enabled\{[^}]*name="([^"]+)"[^}]*\} (\S+)$/.exec(line);
        if (match && names.includes(match[1]!)) gates[match[1]!] = Number(match[2]) === 1;
    }
    return gates;
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

/** The simulator's counters (test/cluster main.go, metricsURL in simulator.json). */
export interface SimulatorMetrics {
    /** When the last image pull ended on any node: the physical floor. */
    lastPullCompletedUnixNano: number;
    /** The last node-status write that changed a node's images. */
    lastImageRecordedUnixNano: number;
    pullsStarted: number;
    pullsCompleted: number;
}

export async function simulatorMetrics(metricsUrl: string): Promise<SimulatorMetrics> {
    const response = await fetch(metricsUrl);
    if (!response.ok) throw new Error(`GET ${metricsUrl}: HTTP ${response.status}`);
    return (await response.json()) as SimulatorMetrics;
}
