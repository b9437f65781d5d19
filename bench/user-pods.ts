/**
 * The seed's headline: how fast a user's pod starts after a pre-pull. One pod per node, pinned by
 * hostname and placed by the scheduler, with one of the pre-pulled images (node i gets image
 * i mod K); scheduled-to-running is timed from watch receive times (the API's condition times are
 * whole seconds): when the pod is first seen bound to its node, and first seen with its container
 * running.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

export const USER_POD_LABEL = "bench.prepuller/user-pods";

export interface UserPodsInputs {
    kubeconfig: string;
    namespace: string;
    /** Names this round's pods and labels them. */
    round: string;
    nodes: string[];
    images: string[];
    timeoutSeconds: number;
}

export interface Percentiles {
    p50: number;
    p99: number;
    max: number;
}

export interface UserPodStart {
    pods: number;
    running: number;
    /** Bound to running: the kubelet's part, what the pre-pull is for. */
    scheduledToRunning: Percentiles;
    /** Created to running: what a user waits, including the scheduler's queue. */
    createdToRunning: Percentiles;
}

/** Nearest-rank percentiles of milliseconds, in seconds. */
export function percentiles(valuesMs: number[]): Percentiles {
    const sorted = [...valuesMs].sort((a, b) => a - b);
    const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
    if (sorted.length === 0) return { p50: NaN, p99: NaN, max: NaN };
    return { p50: rank(0.5) / 1000, p99: rank(0.99) / 1000, max: sorted.at(-1)! / 1000 };
}

interface Timeline {
    created?: number;
    scheduled?: number;
    running?: number;
}

export async function startUserPods(inputs: UserPodsInputs): Promise<UserPodStart> {
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(inputs.kubeconfig);
    const core = kc.makeApiClient(lib.CoreV1Api);
    const { namespace, round } = inputs;
    const selector = `${USER_POD_LABEL}=${round}`;
    const timelines = new Map<string, Timeline>();
    let running = 0;
    let allRunning: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (allRunning = resolve));
    const seen = (pod: k8s.V1Pod) => {
        const at = Date.now();
        const timeline = timelines.get(pod.metadata!.name!) ?? {};
        timelines.set(pod.metadata!.name!, timeline);
        if (pod.spec?.nodeName && timeline.scheduled === undefined) timeline.scheduled = at;
        if (timeline.running === undefined && pod.status?.containerStatuses?.some((c) => c.state?.running)) {
            timeline.running = at;
            if (++running === inputs.nodes.length) allRunning();
        }
    };
    const informer = lib.makeInformer(
        kc,
        `/api/v1/namespaces/${namespace}/pods`,
        () => core.listNamespacedPod({ namespace, labelSelector: selector }),
        selector,
    );
    informer.on("add", seen);
    informer.on("update", seen);
    informer.on("error", () => setTimeout(() => void informer.start(), 1000));
    await informer.start();

    const podFor = (node: string, index: number): k8s.V1Pod => ({
        metadata: { name: `user-${round}-${index}`, labels: { [USER_POD_LABEL]: round } },
        spec: {
            nodeSelector: { "kubernetes.io/hostname": node },
            containers: [
                {
                    name: "notebook",
                    image: inputs.images[index % inputs.images.length],
                    imagePullPolicy: "IfNotPresent",
                    resources: { requests: { cpu: "10m", memory: "64Mi" } },
                },
            ],
            terminationGracePeriodSeconds: 0,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
        },
    });
    // As a hub spawning many users at once would: many creations in flight.
    const queue = inputs.nodes.map((node, index) => ({ node, index }));
    const create = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
            const pod = podFor(next.node, next.index);
            const created = Date.now();
            await core.createNamespacedPod({ namespace, body: pod });
            const timeline = timelines.get(pod.metadata!.name!) ?? {};
            timeline.created = created;
            timelines.set(pod.metadata!.name!, timeline);
        }
    };
    await Promise.all(Array.from({ length: 16 }, create));
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, inputs.timeoutSeconds * 1000))]);
    await informer.stop();

    // A pod that never ran counts as infinitely slow (null in JSON), so that misses are not hidden.
    const all = [...timelines.values()];
    const since = (from: (t: Timeline) => number | undefined) =>
        all.map((t) => (t.running === undefined ? Infinity : t.running - (from(t) ?? t.running)));
    return {
        pods: inputs.nodes.length,
        running: all.filter((t) => t.running !== undefined).length,
        scheduledToRunning: percentiles(since((t) => t.scheduled)),
        createdToRunning: percentiles(since((t) => t.created)),
    };
}
