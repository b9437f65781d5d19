/**
 * The blocking pre-pull: the thin I/O layer around the pure parts. It watches Nodes, our Pods and
 * our DaemonSet's Warning events (./informers), creates the DaemonSet only when some eligible node
 * misses an image, waits until every eligible node holds every image (./waiting), and always
 * deletes the DaemonSet it created before returning (./cleanup). Every API request has a timeout,
 * retries stop at the deadline, and a run whose engine is gone stops (./watchdog).
 */
import { nextBatch } from "../rules/batches";
import {
    deleteCreatedDaemonSet,
    deleteOwnedDaemonSets,
    type CreatedDaemonSet,
    type Logger,
    type OwnedObjects,
} from "./cleanup";
import {
    daemonSetName,
    daemonSetSpecification,
    LABEL_COMPONENT,
    ownerSelector,
    renderDaemonSet,
} from "../rules/daemonset";
import type { SchedulingConstraints } from "../rules/eligibility";
import { watchObjects, type Cluster, type Watched } from "../cluster/informers";
import type { PrePullInputs } from "../rules/inputs";
import { callApi, loadClientLibrary, loadKubeConfig, requestOptions, statusCode } from "../cluster/kube";
import type { Event, Node, Pod } from "../rules/kubernetes-types";
import { projectEvent, projectNode, projectPod } from "../rules/projection";
import { evaluatePresence, unprovenAbsence } from "../rules/presence";
import { parseImageReference } from "../rules/references";
import { waitForPresence } from "./waiting";
import { watchEngine } from "./watchdog";

export type { Logger, OwnedObjects } from "./cleanup";

/** Presence is re-evaluated this long after a watched change (coalescing bursts of events). */
const EVENT_DEBOUNCE_MS = 100;

export interface PrePullResult {
    /** Eligible nodes covered, sorted. */
    nodes: string[];
    /** True when every eligible node already held every image: no DaemonSet was created. */
    skipped: boolean;
    durationSeconds: number;
    /** Eligible nodes that miss images (empty after a successful pre-pull). */
    missingNodes: Record<string, string[]>;
    /** When presence was decided (ISO 8601): refresh reads the kubelet's later reports against it. */
    decidedAt?: string;
}

export function connect(kubeconfig: string | undefined, context: string | undefined): Cluster {
    const lib = loadClientLibrary();
    const kc = loadKubeConfig(lib, kubeconfig, context);
    return { lib, kc, core: kc.makeApiClient(lib.CoreV1Api), apps: kc.makeApiClient(lib.AppsV1Api) };
}

function constraintsOf(inputs: PrePullInputs): SchedulingConstraints {
    return { nodeSelector: inputs.nodeSelector, tolerations: inputs.tolerations, affinity: inputs.affinity };
}

/** Runs the pre-pull. Throws on pull failures, timeouts and a vanished engine, after cleaning up. */
export async function prePull(inputs: PrePullInputs, log: Logger): Promise<PrePullResult> {
    const started = Date.now();
    const deadline = started + inputs.timeoutSeconds * 1000;
    const engine = watchEngine();
    let abandoned = false;
    const running = runPrePull(inputs, log, started, deadline, () => abandoned);
    try {
        return await Promise.race([running, engine.gone]);
    } catch (e) {
        if (!abandoned && engine.fired()) {
            // Nobody waits for this run any more: stop, delete what it created, and end the process.
            abandoned = true;
            log((e as Error).message);
            await running.catch(() => undefined);
            exitAbandonedProcess();
        }
        throw e;
    } finally {
        engine.stop();
    }
}

/** A provider process whose engine is gone serves nobody: it ends once its cleanup is done. */
function exitAbandonedProcess(): void {
    setTimeout(() => process.exit(1), 100);
}

async function runPrePull(
    inputs: PrePullInputs,
    log: Logger,
    started: number,
    deadline: number,
    abandoned: () => boolean,
): Promise<PrePullResult> {
    const cluster = connect(inputs.kubeconfig, inputs.context);
    const images = inputs.images.map((i) => parseImageReference(i));
    const constraints = constraintsOf(inputs);
    const namespace = inputs.namespace;
    const selector = ownerSelector(inputs.ownerId);
    const retry = { deadline };

    let wake: (() => void) | undefined;
    let debounce: NodeJS.Timeout | undefined;
    const onChange = () => {
        if (debounce) return;
        debounce = setTimeout(() => {
            debounce = undefined;
            wake?.();
        }, EVENT_DEBOUNCE_MS);
    };

    const nodes = await watchObjects<Node>(cluster, {
        path: "/api/v1/nodes",
        call: { verb: "list", resource: "nodes" },
        listPage: (page, options) => cluster.core.listNode(page, options),
        project: (node) => projectNode(node, images),
        onChange,
        deadline,
    });
    let pods: Watched<Pod> | undefined;
    let events: Watched<Event> | undefined;
    let created: CreatedDaemonSet | undefined;
    let cleanupDone = false;
    const cleanup = async () => {
        if (cleanupDone) return;
        cleanupDone = true;
        if (debounce) clearTimeout(debounce);
        await Promise.all([nodes.stop(), pods?.stop(), events?.stop()]);
        if (created) await deleteCreatedDaemonSet(cluster, created, log);
    };
    try {
        // A run killed half-way may have left a DaemonSet behind: remove it first.
        await deleteOwnedDaemonSets(cluster, inputs, log, true, retry);
        const initial = evaluatePresence(nodes.list(), [], images, constraints);
        if (Object.keys(initial.missing).length === 0) {
            if (initial.eligibleNodes.length === 0) {
                log("image-prepuller: no eligible nodes match the scheduling constraints; nothing to pull");
            } else {
                log(
                    `image-prepuller: all ${initial.eligibleNodes.length} eligible nodes already hold all ${images.length} images; skipping`,
                );
            }
            return {
                nodes: initial.eligibleNodes,
                skipped: true,
                durationSeconds: seconds(started),
                missingNodes: {},
                decidedAt: new Date().toISOString(),
            };
        }

        await checkPullSecretsExist(cluster, inputs, deadline);
        pods = await watchObjects<Pod>(cluster, {
            path: `/api/v1/namespaces/${namespace}/pods`,
            call: { verb: "list", resource: "pods", namespace },
            listPage: (page, options) =>
                cluster.core.listNamespacedPod({ namespace, labelSelector: selector, ...page }, options),
            labelSelector: selector,
            project: projectPod,
            onChange,
            deadline,
        });
        const name = daemonSetName(inputs.ownerId);
        const render = (nodeBatch: readonly string[] | undefined) =>
            renderDaemonSet({
                ...daemonSetSpecification(inputs),
                name,
                ownerId: inputs.ownerId,
                extraLabels: { [LABEL_COMPONENT]: "pre-pull" },
                nodeBatch,
            });
        const maxParallel = inputs.maxParallelNodes;
        let batch = maxParallel === undefined ? undefined : nextBatch([], Object.keys(initial.missing), maxParallel);
        created = await createDaemonSet(cluster, namespace, render(batch), deadline);
        log(
            `image-prepuller: pulling ${images.length} images on ${Object.keys(initial.missing).length} of ${initial.eligibleNodes.length} eligible nodes (DaemonSet ${namespace}/${name})` +
                (batch ? `; at most ${maxParallel} at once, starting with ${batch.join(", ")}` : ""),
        );
        events = await watchWarnings(cluster, namespace, onChange, deadline, log);

        // With maxParallelNodes, nodes that finished leave the batch and waiting ones join it.
        const daemonSet = created;
        const moveBatch =
            maxParallel === undefined
                ? undefined
                : async (missingNodes: readonly string[]) => {
                      const current = batch ?? [];
                      const next = nextBatch(current, missingNodes, maxParallel);
                      if (next.length === 0 || canonicalList(next) === canonicalList(current)) return;
                      await patchAffinity(cluster, daemonSet, render(next), deadline);
                      const added = next.filter((n) => !current.includes(n));
                      if (added.length > 0) log(`image-prepuller: now pulling on ${added.join(", ")}`);
                      batch = next;
                  };
        const report = await waitForPresence({
            inputs,
            images,
            constraints,
            nodes,
            pods,
            events,
            daemonSetUid: created.uid,
            daemonSetName: name,
            deadline,
            log,
            setWake: (w) => (wake = w),
            moveBatch,
            abandoned,
        });
        log(
            `image-prepuller: all ${report.eligibleNodes.length} eligible nodes hold all ${images.length} images after ${seconds(started).toFixed(1)}s`,
        );
        const decidedAt = new Date().toISOString();
        try {
            await cleanup();
        } catch (e) {
            // A missing permission is for the user to fix, not to leave behind unnoticed.
            if (statusCode(e) === 403) throw e;
            // Presence is decided: a DaemonSet that could not be deleted (an API that did not
            // answer) is left for the next run.
            log(
                `image-prepuller: warning: ${(e as Error).message}; the DaemonSet ${namespace}/${name} is removed by the next pulumi up or destroy`,
            );
        }
        return {
            nodes: report.eligibleNodes,
            skipped: false,
            durationSeconds: seconds(started),
            missingNodes: {},
            decidedAt,
        };
    } finally {
        await cleanup().catch((e: Error) => log(`image-prepuller: cleanup failed: ${e.message}`));
    }
}

async function createDaemonSet(
    cluster: Cluster,
    namespace: string,
    manifest: Record<string, unknown>,
    deadline: number,
): Promise<CreatedDaemonSet> {
    // A retry after a lost response (connection reset, timeout) finds the DaemonSet the first
    // attempt created: 409 on a retry means it exists, and a read tells its UID.
    const name = (manifest.metadata as { name: string }).name;
    let attempts = 0;
    const created = await callApi(
        { verb: "create", resource: "daemonsets", namespace },
        async () => {
            attempts++;
            try {
                return await cluster.apps.createNamespacedDaemonSet(
                    { namespace, body: manifest as never },
                    requestOptions(cluster.lib, { deadline }),
                );
            } catch (e) {
                if (attempts > 1 && statusCode(e) === 409) {
                    return cluster.apps.readNamespacedDaemonSet(
                        { name, namespace },
                        requestOptions(cluster.lib, { deadline }),
                    );
                }
                throw e;
            }
        },
        { deadline },
    );
    const uid = created.metadata?.uid;
    if (!uid) throw new Error(`image-prepuller: the API server returned DaemonSet ${namespace}/${name} without a UID`);
    return { namespace, name, uid };
}

/**
 * Warning events in the namespace: the DaemonSet's FailedCreate and our pods' FailedCreatePodSandBox
 * and the like (picked by UID). Optional: without `list events`, only the timeout tells.
 */
async function watchWarnings(
    cluster: Cluster,
    namespace: string,
    onChange: () => void,
    deadline: number,
    log: Logger,
): Promise<Watched<Event> | undefined> {
    const fieldSelector = "type=Warning";
    try {
        return await watchObjects<Event>(cluster, {
            path: `/api/v1/namespaces/${namespace}/events`,
            call: { verb: "list", resource: "events", namespace },
            listPage: (page, options) =>
                cluster.core.listNamespacedEvent({ namespace, fieldSelector, ...page }, options),
            fieldSelector,
            project: projectEvent,
            onChange,
            deadline,
        });
    } catch (e) {
        if (statusCode(e) !== 403) throw e;
        log(
            `image-prepuller: the credentials may not list events in namespace "${namespace}": pods the DaemonSet cannot create are reported only at the timeout (grant list and watch on events, see README, RBAC)`,
        );
        return undefined;
    }
}

function canonicalList(values: readonly string[]): string {
    return [...values].sort().join(",");
}

/** Moves the batch: only the node affinity changes (a merge patch replaces its term list). */
async function patchAffinity(
    cluster: Cluster,
    daemonSet: CreatedDaemonSet,
    manifest: Record<string, unknown>,
    deadline: number,
): Promise<void> {
    const template = (manifest.spec as { template: { spec: { affinity: unknown } } }).template;
    // The UID makes the patch fail rather than touch a DaemonSet another run created under the name.
    const body = {
        metadata: { uid: daemonSet.uid },
        spec: { template: { spec: { affinity: template.spec.affinity } } },
    };
    await callApi(
        { verb: "patch", resource: "daemonsets", namespace: daemonSet.namespace },
        () =>
            cluster.apps.patchNamespacedDaemonSet(
                { name: daemonSet.name, namespace: daemonSet.namespace, body },
                requestOptions(cluster.lib, { deadline, contentType: cluster.lib.PatchStrategy.MergePatch }),
            ),
        { deadline },
    );
}

async function checkPullSecretsExist(cluster: Cluster, inputs: PrePullInputs, deadline: number): Promise<void> {
    for (const name of inputs.imagePullSecrets) {
        try {
            await callApi(
                { verb: "get", resource: "secrets", namespace: inputs.namespace },
                () =>
                    cluster.core.readNamespacedSecret(
                        { name, namespace: inputs.namespace },
                        requestOptions(cluster.lib, { deadline }),
                    ),
                { deadline },
            );
        } catch (e) {
            const code = statusCode(e);
            if (code === 404) {
                throw new Error(
                    `imagePullSecrets: secret "${name}" does not exist in namespace "${inputs.namespace}"; create it or remove it from imagePullSecrets`,
                );
            }
            // Reading secrets is an optional permission: without it, the kubelet reports pull failures instead.
            if (code !== 403) throw e;
        }
    }
}

/** Removes everything an owner has (the delete of a resource, or a move to another namespace). */
export async function removeOwnedObjects(owned: OwnedObjects, log: Logger): Promise<void> {
    const cluster = connect(owned.kubeconfig, owned.context);
    await deleteOwnedDaemonSets(cluster, owned, log, false);
}

/** The kubelet's default --node-status-max-images. */
export const KUBELET_MAX_REPORTED_IMAGES = 50;

/**
 * For refresh: the eligible nodes now, and which of them the kubelets' reports prove to miss
 * images (see unprovenAbsence for what does not count as proof).
 */
export async function inspectPresence(
    inputs: PrePullInputs & Partial<Pick<PrePullResult, "nodes" | "decidedAt">>,
): Promise<{ nodes: string[]; missingNodes: Record<string, string[]> }> {
    const cluster = connect(inputs.kubeconfig, inputs.context);
    const images = inputs.images.map((i) => parseImageReference(i));
    const constraints = constraintsOf(inputs);
    const covered = inputs.nodes ?? [];
    const decidedAt = inputs.decidedAt ? new Date(inputs.decidedAt).getTime() : undefined;
    const eligible: string[] = [];
    const missingNodes: Record<string, string[]> = {};
    let token: string | undefined;
    do {
        const page = await callApi({ verb: "list", resource: "nodes" }, () =>
            cluster.core.listNode({ limit: 250, _continue: token }, requestOptions(cluster.lib)),
        );
        const report = evaluatePresence(page.items as Node[], [], images, constraints);
        eligible.push(...report.eligibleNodes);
        for (const [name, missing] of Object.entries(report.missing)) {
            const node = (page.items as Node[]).find((n) => n.metadata?.name === name)!;
            const proven = missing.filter(
                (image) =>
                    !unprovenAbsence(node, parseImageReference(image), {
                        maxReportedImages: KUBELET_MAX_REPORTED_IMAGES,
                        pulledAt: covered.includes(name) ? decidedAt : undefined,
                    }),
            );
            if (proven.length > 0) missingNodes[name] = proven;
        }
        token = page.metadata?._continue || undefined;
    } while (token);
    return { nodes: eligible.sort(), missingNodes };
}

function seconds(since: number): number {
    return Math.round((Date.now() - since) / 100) / 10;
}
