/** Helpers for integration scenarios: each scenario gets its own nodes (selected by a label) and namespace. */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { prePullProvider } from "../components/pulumi/provider";
import type { PrePullInputs } from "../components/rules/inputs";
import type { PrePullResult } from "../components/run/prepull";
import { LABEL_MANAGED_BY, MANAGER } from "../components/rules/daemonset";
import { SIM, type TestCluster } from "./cluster";
import { parseImageReference } from "../components/rules/references";

export const SCENARIO_LABEL = "test.prepuller/scenario";

export interface Scenario {
    id: string;
    namespace: string;
    nodeSelector: Record<string, string>;
}

export async function newScenario(cluster: TestCluster, title: string): Promise<Scenario> {
    const id = `${title
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .slice(0, 30)}-${randomBytes(3).toString("hex")}`;
    await cluster.core.createNamespace({ body: { metadata: { name: id } } });
    return { id, namespace: id, nodeSelector: { [SCENARIO_LABEL]: id } };
}

export interface NodeSpec {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    taints?: k8s.V1Taint[];
    unschedulable?: boolean;
    /** Wait until the simulator reports the node Ready (default true). */
    waitReady?: boolean;
}

export async function addNode(
    cluster: TestCluster,
    scenario: Scenario,
    name: string,
    spec: NodeSpec = {},
): Promise<string> {
    const fullName = `${scenario.id}-${name}`;
    await cluster.core.createNode({
        body: {
            metadata: {
                name: fullName,
                labels: { ...scenario.nodeSelector, "kubernetes.io/hostname": fullName, ...spec.labels },
                annotations: spec.annotations,
            },
            spec: { taints: spec.taints, unschedulable: spec.unschedulable },
        },
    });
    if (spec.waitReady !== false) await waitNodeReady(cluster, fullName);
    return fullName;
}

/** A JupyterHub user node (the example stack's label and taint), adopted by the simulator and Ready. */
export async function addUserNode(
    cluster: Pick<TestCluster, "core">,
    name: string,
    annotations: Record<string, string>,
    labels: Record<string, string> = {},
): Promise<void> {
    await cluster.core.createNode({
        body: {
            metadata: {
                name,
                labels: { "hub.jupyter.org/node-purpose": "user", "kubernetes.io/hostname": name, ...labels },
                annotations,
            },
            spec: { taints: [{ key: "hub.jupyter.org/dedicated", value: "user", effect: "NoSchedule" }] },
        },
    });
    await waitNodeReady(cluster, name);
}

export async function waitNodeReady(cluster: Pick<TestCluster, "core">, name: string): Promise<void> {
    await waitFor(() => isNodeReady(cluster, name), `node ${name} Ready`, 30_000);
}

/** Ready, and rid of the not-ready taint a kubelet registers with (user pods avoid it too). */
async function isNodeReady(cluster: Pick<TestCluster, "core">, name: string): Promise<boolean> {
    const node = await cluster.core.readNode({ name });
    const ready = (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
    return ready && !(node.spec?.taints ?? []).some((t) => t.key === "node.kubernetes.io/not-ready");
}

/**
 * Gives a node's container runtime these images (the simulator's preloaded-images annotation),
 * and waits until the kubelet reports them: every one, or as many as its 50-image cap shows.
 * A kubelet writes status.images from its runtime, so a status written by anyone else would be
 * overwritten at its next sync. The node should carry FAST_STATUS, or this waits up to 40 s.
 */
export async function seedImages(
    cluster: Pick<TestCluster, "core">,
    node: string,
    images: { names: string[]; sizeBytes: number }[],
): Promise<void> {
    const current = await cluster.core.readNode({ name: node });
    const before = current.metadata?.annotations?.[SIM.preloadedImages];
    const entries = images.map((i) => `${i.names[0]}=${i.sizeBytes}`);
    await cluster.core.patchNode(
        {
            name: node,
            body: {
                metadata: { annotations: { [SIM.preloadedImages]: [before, ...entries].filter(Boolean).join(",") } },
            },
        },
        setMergePatch(),
    );
    const wanted = images.map((i) => parseImageReference(i.names[0]!).normalized);
    await waitFor(
        async () => {
            const entries = (await cluster.core.readNode({ name: node })).status?.images ?? [];
            const listed = entries.flatMap((i) => i.names ?? []);
            const shown = wanted.filter((w) => listed.includes(w)).length;
            // At the cap, the smaller seeded images may stay cut; the largest one always shows.
            const largest =
                wanted[images.reduce((best, img, i) => (img.sizeBytes > images[best]!.sizeBytes ? i : best), 0)]!;
            return (
                shown === wanted.length ||
                (entries.length >= KUBELET_NODE_STATUS_MAX_IMAGES && listed.includes(largest))
            );
        },
        `${node} to report ${wanted.length} seeded images`,
        60_000,
    );
}

/** The kubelet's default nodeStatusMaxImages. */
const KUBELET_NODE_STATUS_MAX_IMAGES = 50;

function setMergePatch() {
    const lib = require("@kubernetes/client-node") as typeof k8s;
    return lib.setHeaderOptions("Content-Type", lib.PatchStrategy.MergePatch);
}

/** Every name the node's status.images lists (RepoDigests and RepoTags, as the kubelet writes them). */
export async function nodeImages(cluster: Pick<TestCluster, "core">, node: string): Promise<string[]> {
    const current = await cluster.core.readNode({ name: node });
    return (current.status?.images ?? []).flatMap((i) => i.names ?? []);
}

/**
 * The times of the status writes a node gets in `ms` while nothing about it changes, read every
 * 200 ms: the writes that move its Ready condition's heartbeat (a kubelet's
 * nodeStatusReportFrequency writes). Fails if a write changed anything but heartbeat times.
 */
export async function unchangedStatusWrites(
    cluster: Pick<TestCluster, "core">,
    node: string,
    ms: number,
): Promise<number[]> {
    const ready = (n: k8s.V1Node) => n.status?.conditions?.find((c) => c.type === "Ready");
    const withoutHeartbeats = (n: k8s.V1Node) =>
        JSON.stringify({
            ...n.status,
            conditions: n.status?.conditions?.map((c) => ({ ...c, lastHeartbeatTime: undefined })),
        });
    let last = await cluster.core.readNode({ name: node });
    const writes: number[] = [];
    const until = Date.now() + ms;
    while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        const now = await cluster.core.readNode({ name: node });
        const beat = String(ready(now)?.lastHeartbeatTime);
        if (beat !== String(ready(last)?.lastHeartbeatTime)) {
            assert.equal(withoutHeartbeats(now), withoutHeartbeats(last), `${node}: only the heartbeat times changed`);
            writes.push(new Date(beat).getTime());
        }
        last = now;
    }
    return writes;
}

export async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await condition().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function checkedInputs(cluster: TestCluster, news: Record<string, unknown>): Promise<PrePullInputs> {
    const { inputs, failures } = await prePullProvider.check!({}, { kubeconfig: cluster.kubeconfig, ...news });
    assert.deepEqual(failures, [], "check failed");
    return inputs as PrePullInputs;
}

export async function create(
    cluster: TestCluster,
    news: Record<string, unknown>,
): Promise<PrePullResult & PrePullInputs> {
    const inputs = await checkedInputs(cluster, news);
    const result = await prePullProvider.create(inputs);
    return result.outs as PrePullResult & PrePullInputs;
}

/** Every DaemonSet and pod this library created in the namespace (by its managed-by label). */
export async function leftovers(cluster: TestCluster, namespace: string): Promise<string[]> {
    const selector = `${LABEL_MANAGED_BY}=${MANAGER}`;
    const ds = await cluster.apps.listNamespacedDaemonSet({ namespace, labelSelector: selector });
    const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: selector });
    return [
        ...ds.items.map((d) => `daemonset/${d.metadata?.name}`),
        ...pods.items.map((p) => `pod/${p.metadata?.name}`),
    ];
}

/**
 * With admin rights, deletes every DaemonSet and pod of ours in the namespace. Collection deletes
 * by label: the garbage collector may remove a DaemonSet's pods at the same moment, and a
 * per-name delete of a pod it already removed would fail with 404.
 */
export async function removeAllOurs(cluster: TestCluster, namespace: string): Promise<void> {
    const labelSelector = `${LABEL_MANAGED_BY}=${MANAGER}`;
    await cluster.apps.deleteCollectionNamespacedDaemonSet({ namespace, labelSelector });
    await cluster.core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 });
}

/**
 * Nothing of ours remains: no DaemonSet at once (create and delete return after deleting it), and
 * no pod after the garbage collector has had its time (it deletes a deleted DaemonSet's pods).
 */
export async function assertNothingLeft(cluster: TestCluster, namespace: string, podsWithinMs = 60_000): Promise<void> {
    const now = await leftovers(cluster, namespace);
    assert.deepEqual(
        now.filter((o) => o.startsWith("daemonset/")),
        [],
        `DaemonSets of ours remain in ${namespace}`,
    );
    const deadline = Date.now() + podsWithinMs;
    let left = now;
    while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        left = await leftovers(cluster, namespace);
    }
    assert.deepEqual(left, [], `objects of ours remain in ${namespace} after ${podsWithinMs / 1000}s`);
}

export interface WatchedEvent<T = k8s.KubernetesObject> {
    type: string;
    obj: T;
    /** When this process received it (ms since the epoch). */
    at: number;
}

/**
 * Records every watch event on `paths` (a watch, not a poll) until `stop()`. With `fromNow`, the
 * watches start at the current resourceVersion, so only changes made from now on are recorded
 * (the apiserver's resourceVersions come from one etcd revision counter, valid for every path);
 * without it, objects that already exist arrive first as ADDED.
 */
export async function recordEvents<T = k8s.KubernetesObject>(
    cluster: TestCluster,
    paths: string[],
    options: { fromNow?: boolean } = {},
): Promise<{ events: WatchedEvent<T>[]; stop: () => void }> {
    const events: WatchedEvent<T>[] = [];
    const aborts: (() => void)[] = [];
    const query = options.fromNow
        ? { resourceVersion: (await cluster.core.listNamespace({ limit: 1 })).metadata!.resourceVersion! }
        : {};
    for (const p of paths) {
        const watch = new cluster.lib.Watch(cluster.kc);
        const request = await watch.watch(
            p,
            query,
            (type: string, obj: T) => events.push({ type, obj, at: Date.now() }),
            () => undefined,
        );
        aborts.push(() => request.abort());
    }
    return { events, stop: () => aborts.forEach((a) => a()) };
}

/** Runs `body` while recording the watch events on `path`, and a moment after for late ones. */
export async function recordWhile<T, R>(
    cluster: TestCluster,
    path: string,
    body: () => Promise<R>,
): Promise<{ result: R; events: WatchedEvent<T>[] }> {
    const recording = await recordEvents<T>(cluster, [path]);
    try {
        const result = await body();
        await new Promise((r) => setTimeout(r, 300));
        return { result, events: recording.events };
    } finally {
        recording.stop();
    }
}

/** Every DaemonSet that appears in a namespace while `body` runs. */
export async function watchDaemonSets<T>(
    cluster: TestCluster,
    namespace: string,
    body: () => Promise<T>,
): Promise<{ result: T; seen: string[] }> {
    const { result, events } = await recordWhile<k8s.V1DaemonSet, T>(
        cluster,
        `/apis/apps/v1/namespaces/${namespace}/daemonsets`,
        body,
    );
    return { result, seen: events.filter((e) => e.type === "ADDED").map((e) => e.obj.metadata?.name ?? "?") };
}

/**
 * Asserts, from the watch events of a `pulumi up`, that the hub Deployment (or the dependent
 * named `dependent`) was created only after every user node finished pulling every image: by the
 * kubelet's own timestamps (one-second resolution) and by the order in which the watch saw the events.
 */
export function assertHubAfterPulls(
    events: readonly WatchedEvent<k8s.KubernetesObject & { status?: unknown; spec?: unknown }>[],
    namespace: string,
    nodes: readonly string[],
    imageCount: number,
    dependent = "hub",
): void {
    const inNamespace = events.filter((e) => e.obj.metadata?.namespace === namespace);
    const hubAdded = inNamespace.find((e) => e.type === "ADDED" && e.obj.metadata?.name === dependent);
    assert.ok(hubAdded, `the ${dependent} Deployment was never created`);
    const hubCreated = new Date(String(hubAdded.obj.metadata?.creationTimestamp)).getTime();
    const ours = inNamespace.filter((e) => e.obj.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGER);
    const pullFinished = new Map<string, number>();
    for (const e of ours) {
        const pod = e.obj as k8s.V1Pod;
        const node = pod.spec?.nodeName;
        const pulls = (pod.status?.initContainerStatuses ?? []).filter((c) => c.name.startsWith("pull-"));
        if (!node || pulls.length !== imageCount || !pulls.every((c) => c.state?.terminated)) continue;
        const done = Math.max(...pulls.map((c) => new Date(String(c.state!.terminated!.finishedAt)).getTime()));
        pullFinished.set(node, Math.max(pullFinished.get(node) ?? 0, done));
    }
    assert.deepEqual([...pullFinished.keys()].sort(), [...nodes].sort(), "not every user node finished pulling");
    for (const [node, finished] of pullFinished) {
        assert.ok(
            hubCreated >= Math.floor(finished / 1000) * 1000,
            `${dependent} created before ${node} finished pulling`,
        );
    }
    const lastPullSeen = Math.max(...ours.map((e) => e.at));
    assert.ok(hubAdded.at >= lastPullSeen, `${dependent} appeared before the last pre-pull pod event`);
}

/** A `kubernetes.io/dockerconfigjson` Secret `regcred` in `namespace` holding `auths` (registry -> credentials). */
export async function createPullSecret(
    cluster: Pick<TestCluster, "core">,
    namespace: string,
    auths: Record<string, { username: string; password: string; auth?: string }>,
): Promise<void> {
    await cluster.core.createNamespacedSecret({
        namespace,
        body: {
            metadata: { name: "regcred" },
            type: "kubernetes.io/dockerconfigjson",
            stringData: { ".dockerconfigjson": JSON.stringify({ auths }) },
        },
    });
}

/** Sets (or, with null, removes) annotations of a node: how tests steer the simulator mid-run. */
export async function annotateNode(
    cluster: Pick<TestCluster, "core" | "lib">,
    node: string,
    annotations: Record<string, string | null>,
): Promise<void> {
    await cluster.core.patchNode(
        { name: node, body: { metadata: { annotations } } },
        cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
    );
}
