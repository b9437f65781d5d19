/**
 * The blocking pre-pull: the thin I/O layer around the pure parts. It watches Nodes and our
 * Pods with informers (one paged list, then watches) that cache compact projections, creates the DaemonSet only when some eligible
 * node misses an image, decides presence every poll interval and on every change, and always
 * removes what it created before returning.
 */
import { nextBatch } from "./batches";
import {
    daemonSetName,
    LABEL_COMPONENT,
    ownerSelector,
    renderDaemonSet,
    type DaemonSetSpecification,
} from "./daemonset";
import type { SchedulingConstraints } from "./eligibility";
import type { PrePullInputs } from "./inputs";
import {
    loadClientLibrary,
    loadKubeConfig,
    permissionError,
    statusCode,
    withRetry,
    type ClientLibrary,
    type KubeConfig,
} from "./kube";
import type { Node, Pod } from "./kubernetes-types";
import { projectNode, projectPod } from "./projection";
import { evaluatePresence, fatalProblems, problemKey, type ContainerProblem, type PresenceReport } from "./presence";
import { parseImageReference } from "./references";

/** How long a transient pull or start error may persist before the pre-pull fails. */
export const PROBLEM_TOLERANCE_SECONDS = 30;
/** Progress is printed at least this often while waiting. */
export const PROGRESS_INTERVAL_SECONDS = 10;
/** Presence is re-evaluated this long after a watched change (coalescing bursts of events). */
const EVENT_DEBOUNCE_MS = 100;
/** How long cleanup waits for the kubelets to remove pods before force-deleting them. */
const GRACEFUL_CLEANUP_SECONDS = 20;
const CLEANUP_DEADLINE_SECONDS = 60;

export interface PrePullResult {
    /** Eligible nodes covered, sorted. */
    nodes: string[];
    /** True when every eligible node already held every image: no DaemonSet was created. */
    skipped: boolean;
    durationSeconds: number;
    /** Eligible nodes that miss images (empty after a successful pre-pull). */
    missingNodes: Record<string, string[]>;
}

export type Logger = (line: string) => void;

/** What cleanup needs: tolerant of state written by earlier versions, so everything is optional. */
export interface OwnedObjects {
    namespace: string;
    ownerId: string;
    kubeconfig?: string;
    context?: string;
}

interface Cluster {
    lib: ClientLibrary;
    kc: KubeConfig;
    core: InstanceType<ClientLibrary["CoreV1Api"]>;
    apps: InstanceType<ClientLibrary["AppsV1Api"]>;
}

export function connect(kubeconfig: string | undefined, context: string | undefined): Cluster {
    const lib = loadClientLibrary();
    const kc = loadKubeConfig(lib, kubeconfig, context);
    return { lib, kc, core: kc.makeApiClient(lib.CoreV1Api), apps: kc.makeApiClient(lib.AppsV1Api) };
}

function constraintsOf(inputs: PrePullInputs): SchedulingConstraints {
    return { nodeSelector: inputs.nodeSelector, tolerations: inputs.tolerations, affinity: inputs.affinity };
}

/** The DaemonSet both modes render: the user's pod shape and scheduling. */
export function daemonSetSpecification(inputs: PrePullInputs): Omit<DaemonSetSpecification, "name" | "ownerId"> {
    return {
        namespace: inputs.namespace,
        images: inputs.images,
        helperImage: inputs.helperImage,
        pauseImage: inputs.pauseImage,
        nodeSelector: inputs.nodeSelector,
        tolerations: inputs.tolerations,
        affinity: inputs.affinity,
        imagePullSecrets: inputs.imagePullSecrets,
        priorityClassName: inputs.priorityClassName,
        daemonSetPatch: inputs.daemonSetPatch,
    };
}

interface Watched<T> {
    list(): readonly T[];
    /** An error that restarting the watch cannot fix (missing permission), if one happened. */
    fatalError(): Error | undefined;
    stop(): Promise<void>;
}

/** Informer errors come from its list (API errors carry `code`) or its watch (`statusCode`). */
function failedVerb(error: unknown): "list" | "watch" {
    return (error as { statusCode?: unknown })?.statusCode !== undefined ? "watch" : "list";
}

/** Lists are read in pages of this many objects, so a large cluster is never in memory whole. */
const LIST_PAGE_SIZE = 250;

interface ListPage<T> {
    items: T[];
    metadata?: { resourceVersion?: string; _continue?: string };
}

type WatchCallback = (phase: string, obj: unknown, raw: unknown) => void;

/**
 * Starts a client-node ListWatch (list, then watch from the list's resourceVersion) whose cache
 * holds `project(object)` instead of whole objects, waits for its first list, and keeps it
 * running through watch errors (a restarted apiserver, dropped connections) by restarting it
 * after a short pause.
 */
async function watchObjects<T extends { metadata?: { name?: string } }>(
    cluster: Cluster,
    path: string,
    listPage: (page: { limit: number; _continue?: string }) => Promise<ListPage<T>>,
    labelSelector: string | undefined,
    project: (obj: T) => T,
    onChange: () => void,
    describe: { resource: string; namespace?: string },
): Promise<Watched<T>> {
    const listProjected = async (): Promise<ListPage<T>> => {
        const items: T[] = [];
        let resourceVersion: string | undefined;
        let token: string | undefined;
        do {
            const page = await listPage({ limit: LIST_PAGE_SIZE, _continue: token });
            for (const item of page.items) items.push(project(item));
            resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
            token = page.metadata?._continue || undefined;
        } while (token);
        return { items, metadata: { resourceVersion } };
    };
    // The watch hands each event's object to the cache; projecting it first keeps the cache small.
    const watch = new cluster.lib.Watch(cluster.kc);
    const projectingWatch = {
        watch: (
            watchPath: string,
            query: Record<string, string | number | boolean | undefined>,
            callback: WatchCallback,
            done: (err: unknown) => void,
        ) =>
            watch.watch(
                watchPath,
                query,
                (phase: string, obj: unknown, raw: unknown) =>
                    callback(
                        phase,
                        phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? project(obj as T) : obj,
                        raw,
                    ),
                done,
            ),
    };
    const informer = new cluster.lib.ListWatch(
        path,
        projectingWatch as never,
        listProjected as never,
        false,
        labelSelector,
    );
    let stopped = false;
    let firstError: unknown;
    let synced = false;
    let fatal: Error | undefined;
    informer.on("add", onChange);
    informer.on("update", onChange);
    informer.on("delete", onChange);
    informer.on("error", (err: unknown) => {
        if (!synced) {
            firstError = err;
            return;
        }
        const code = statusCode(err);
        if (code === 401 || code === 403) {
            fatal = permissionError(err, failedVerb(err), describe.resource, describe.namespace);
            onChange();
            return;
        }
        if (!stopped) setTimeout(() => void (stopped ? undefined : informer.start()), 1000);
    });
    for (let attempt = 0; ; attempt++) {
        firstError = undefined;
        await informer.start();
        if (firstError === undefined) break;
        const code = statusCode(firstError);
        if (code === 401 || code === 403 || attempt >= 5) {
            await informer.stop();
            throw permissionError(firstError, failedVerb(firstError), describe.resource, describe.namespace);
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
    synced = true;
    return {
        list: () => informer.list() as unknown as readonly T[],
        fatalError: () => fatal,
        stop: async () => {
            stopped = true;
            await informer.stop();
        },
    };
}

/** Runs the pre-pull. Throws on pull failures and timeouts, after cleaning up. */
export async function prePull(inputs: PrePullInputs, log: Logger): Promise<PrePullResult> {
    const started = Date.now();
    const cluster = connect(inputs.kubeconfig, inputs.context);
    const images = inputs.images.map((i) => parseImageReference(i));
    const constraints = constraintsOf(inputs);
    const selector = ownerSelector(inputs.ownerId);
    const owned: OwnedObjects = { namespace: inputs.namespace, ownerId: inputs.ownerId };

    let wake: (() => void) | undefined;
    let debounce: NodeJS.Timeout | undefined;
    const onChange = () => {
        if (debounce) return;
        debounce = setTimeout(() => {
            debounce = undefined;
            wake?.();
        }, EVENT_DEBOUNCE_MS);
    };

    const nodes = await watchObjects<Node>(
        cluster,
        "/api/v1/nodes",
        (page) => cluster.core.listNode(page) as Promise<ListPage<Node>>,
        undefined,
        (node) => projectNode(node, images),
        onChange,
        { resource: "nodes" },
    );
    let pods: Watched<Pod> | undefined;
    let createdDaemonSet = false;
    try {
        // A run killed half-way may have left a DaemonSet behind: remove it first.
        await removeOwned(cluster, owned, log, false);
        const initial = evaluatePresence(nodes.list(), [], images, constraints);
        if (Object.keys(initial.missing).length === 0) {
            if (initial.eligibleNodes.length === 0) {
                log("image-prepuller: no eligible nodes match the scheduling constraints; nothing to pull");
            } else {
                log(
                    `image-prepuller: all ${initial.eligibleNodes.length} eligible nodes already hold all ${images.length} images; skipping`,
                );
            }
            return { nodes: initial.eligibleNodes, skipped: true, durationSeconds: seconds(started), missingNodes: {} };
        }

        await checkPullSecretsExist(cluster, inputs);
        pods = await watchObjects<Pod>(
            cluster,
            `/api/v1/namespaces/${inputs.namespace}/pods`,
            (page) =>
                cluster.core.listNamespacedPod({
                    namespace: inputs.namespace,
                    labelSelector: selector,
                    ...page,
                }) as Promise<ListPage<Pod>>,
            selector,
            projectPod,
            onChange,
            { resource: "pods", namespace: inputs.namespace },
        );
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
        const manifest = render(batch);
        createdDaemonSet = true;
        try {
            // A retry after a lost response (connection reset) finds the DaemonSet the first
            // attempt created: 409 on a retry is success, on the first attempt a real conflict.
            let attempts = 0;
            await withRetry(async () => {
                try {
                    attempts++;
                    await cluster.apps.createNamespacedDaemonSet({
                        namespace: inputs.namespace,
                        body: manifest as never,
                    });
                } catch (e) {
                    if (attempts > 1 && statusCode(e) === 409) return;
                    throw e;
                }
            });
        } catch (e) {
            throw permissionError(e, "create", "daemonsets", inputs.namespace);
        }
        log(
            `image-prepuller: pulling ${images.length} images on ${Object.keys(initial.missing).length} of ${initial.eligibleNodes.length} eligible nodes (DaemonSet ${inputs.namespace}/${name})` +
                (batch ? `; at most ${maxParallel} at once, starting with ${batch.join(", ")}` : ""),
        );

        // With maxParallelNodes, nodes that finished leave the batch and waiting ones join it.
        const moveBatch =
            maxParallel === undefined
                ? undefined
                : async (missingNodes: readonly string[]) => {
                      const current = batch ?? [];
                      const next = nextBatch(current, missingNodes, maxParallel);
                      if (next.length === 0 || canonicalList(next) === canonicalList(current)) return;
                      await patchAffinity(cluster, inputs.namespace, name, render(next));
                      const added = next.filter((n) => !current.includes(n));
                      if (added.length > 0) log(`image-prepuller: now pulling on ${added.join(", ")}`);
                      batch = next;
                  };
        const report = await waitForPresence(
            inputs,
            nodes,
            pods,
            images,
            constraints,
            started,
            log,
            (w) => (wake = w),
            moveBatch,
        );
        log(
            `image-prepuller: all ${report.eligibleNodes.length} eligible nodes hold all ${images.length} images after ${seconds(started).toFixed(1)}s`,
        );
        return { nodes: report.eligibleNodes, skipped: false, durationSeconds: seconds(started), missingNodes: {} };
    } finally {
        if (debounce) clearTimeout(debounce);
        await nodes.stop();
        // The pod watch stays open during cleanup: waiting on its cache costs no re-lists.
        try {
            if (createdDaemonSet) await removeOwned(cluster, owned, log, true, pods);
        } finally {
            await pods?.stop();
        }
    }
}

async function waitForPresence(
    inputs: PrePullInputs,
    nodes: Watched<Node>,
    pods: Watched<Pod>,
    images: ReturnType<typeof parseImageReference>[],
    constraints: SchedulingConstraints,
    started: number,
    log: Logger,
    setWake: (wake: () => void) => void,
    moveBatch: ((missingNodes: readonly string[]) => Promise<void>) | undefined,
): Promise<PresenceReport> {
    const deadline = started + inputs.timeoutSeconds * 1000;
    const firstSeen = new Map<string, number>();
    // A node that held every image once stays done for this run, even when its pod (the
    // evidence, if the kubelet's capped image list omits ours) leaves with the batch.
    const done = new Set<string>();
    let lastProgress = 0;
    let lastSummary = "";
    for (;;) {
        const now = Date.now();
        const watchFailure = nodes.fatalError() ?? pods.fatalError();
        if (watchFailure) throw watchFailure;
        const report = withoutDone(evaluatePresence(nodes.list(), pods.list(), images, constraints), done);
        const missingNodes = Object.keys(report.missing);
        if (missingNodes.length === 0) return report;
        await moveBatch?.(missingNodes);

        const currentKeys = new Set(report.problems.map(problemKey));
        for (const key of [...firstSeen.keys()]) if (!currentKeys.has(key)) firstSeen.delete(key);
        for (const key of currentKeys) if (!firstSeen.has(key)) firstSeen.set(key, now);
        const fatal = fatalProblems(report.problems, firstSeen, now, PROBLEM_TOLERANCE_SECONDS * 1000);
        if (fatal.length > 0) {
            throw new Error(describeFailures(fatal, inputs));
        }
        if (now >= deadline) {
            throw new Error(describeTimeout(report, inputs));
        }
        const summary = progressLine(report, images.length);
        if (
            now - lastProgress >= PROGRESS_INTERVAL_SECONDS * 1000 ||
            (summary !== lastSummary && now - lastProgress >= 2000)
        ) {
            log(summary);
            lastProgress = now;
            lastSummary = summary;
        }
        const waitMs = Math.min(inputs.pollIntervalSeconds * 1000, Math.max(0, deadline - now));
        await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            setWake(() => {
                clearTimeout(timer);
                resolve();
            });
        });
    }
}

/** Records newly complete nodes in `done` and drops every done node from the report. */
function withoutDone(report: PresenceReport, done: Set<string>): PresenceReport {
    for (const node of report.eligibleNodes)
        if (!Object.prototype.hasOwnProperty.call(report.missing, node)) done.add(node);
    const missing = Object.fromEntries(Object.entries(report.missing).filter(([node]) => !done.has(node)));
    return { ...report, missing, problems: report.problems.filter((p) => !done.has(p.node)) };
}

function canonicalList(values: readonly string[]): string {
    return [...values].sort().join(",");
}

/** Moves the batch: only the node affinity changes (a merge patch replaces its term list). */
async function patchAffinity(
    cluster: Cluster,
    namespace: string,
    name: string,
    manifest: Record<string, unknown>,
): Promise<void> {
    const template = (manifest.spec as { template: { spec: { affinity: unknown } } }).template;
    const body = { spec: { template: { spec: { affinity: template.spec.affinity } } } };
    try {
        await withRetry(() =>
            cluster.apps.patchNamespacedDaemonSet(
                { name, namespace, body },
                cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
            ),
        );
    } catch (e) {
        throw permissionError(e, "patch", "daemonsets", namespace);
    }
}

export function progressLine(report: PresenceReport, imageCount: number): string {
    const total = report.eligibleNodes.length;
    const missingNodes = Object.keys(report.missing).sort();
    const done = total - missingNodes.length;
    const sample = missingNodes
        .slice(0, 5)
        .map((n) => `${n} (${report.missing[n]!.length}/${imageCount} missing)`)
        .join(", ");
    const more = missingNodes.length > 5 ? ` and ${missingNodes.length - 5} more` : "";
    const problems = report.problems
        .slice(0, 3)
        .map((p) => `${p.node} ${p.image}: ${p.reason}`)
        .join("; ");
    return (
        `image-prepuller: ${done}/${total} nodes ready; waiting on ${sample}${more}` +
        (problems
            ? `; pull errors: ${problems}${report.problems.length > 3 ? ` (+${report.problems.length - 3})` : ""}`
            : "")
    );
}

export function describeFailures(
    problems: readonly ContainerProblem[],
    inputs: Pick<PrePullInputs, "namespace" | "ownerId">,
): string {
    const lines = problems.slice(0, 20).map((p) => `  node ${p.node}: image ${p.image}: ${p.reason}: ${p.message}`);
    const more = problems.length > 20 ? [`  ... and ${problems.length - 20} more`] : [];
    return [
        `image-prepuller: cannot pre-pull images (the DaemonSet ${inputs.namespace}/${daemonSetName(inputs.ownerId)} was removed):`,
        ...lines,
        ...more,
    ].join("\n");
}

export function describeTimeout(
    report: PresenceReport,
    inputs: Pick<PrePullInputs, "timeoutSeconds" | "namespace" | "ownerId">,
): string {
    const missing = Object.entries(report.missing).sort(([a], [b]) => a.localeCompare(b));
    return [
        `image-prepuller: timed out after ${inputs.timeoutSeconds}s; ${missing.length} of ${report.eligibleNodes.length} eligible nodes still miss images (the DaemonSet ${inputs.namespace}/${daemonSetName(inputs.ownerId)} was removed):`,
        ...missing.map(([node, images]) => `  node ${node}: ${images.join(", ")}`),
    ].join("\n");
}

async function checkPullSecretsExist(cluster: Cluster, inputs: PrePullInputs): Promise<void> {
    for (const name of inputs.imagePullSecrets) {
        try {
            await withRetry(() => cluster.core.readNamespacedSecret({ name, namespace: inputs.namespace }));
        } catch (e) {
            const code = statusCode(e);
            if (code === 404) {
                throw new Error(
                    `imagePullSecrets: secret "${name}" does not exist in namespace "${inputs.namespace}"; create it or remove it from imagePullSecrets`,
                );
            }
            // Reading secrets is an optional permission: without it, the kubelet reports pull failures instead.
            if (code !== 403) throw permissionError(e, "get", "secrets", inputs.namespace);
        }
    }
}

/**
 * Deletes every DaemonSet and pod this owner has in its namespace and waits until they are
 * gone: gracefully first (the kubelets stop the pods), then by force for pods whose node is gone.
 */
async function removeOwned(
    cluster: Cluster,
    owned: OwnedObjects,
    log: Logger,
    announce: boolean,
    watchedPods?: Watched<Pod>,
): Promise<void> {
    const selector = ownerSelector(owned.ownerId);
    const namespace = owned.namespace;
    let daemonSets: { metadata?: { name?: string } }[];
    try {
        daemonSets = (
            await withRetry(() => cluster.apps.listNamespacedDaemonSet({ namespace, labelSelector: selector }))
        ).items;
    } catch (e) {
        if (statusCode(e) === 404) return;
        throw permissionError(e, "list", "daemonsets", namespace);
    }
    for (const ds of daemonSets) {
        const name = ds.metadata?.name;
        if (!name) continue;
        try {
            await withRetry(() =>
                cluster.apps.deleteNamespacedDaemonSet({ name, namespace, propagationPolicy: "Background" }),
            );
            if (announce) log(`image-prepuller: deleted DaemonSet ${namespace}/${name}`);
            else log(`image-prepuller: removed DaemonSet ${namespace}/${name} left by an interrupted run`);
        } catch (e) {
            if (statusCode(e) !== 404) throw permissionError(e, "delete", "daemonsets", namespace);
        }
    }
    // The garbage collector deletes the pods of a deleted DaemonSet and the kubelets stop them.
    // Pods still there after a grace period (their node is gone or its kubelet is down) are
    // force-deleted, which needs the optional "delete pods" permission.
    const started = Date.now();
    let forbiddenToDelete = false;
    const listPods = async (): Promise<Pod[]> => {
        try {
            return (await withRetry(() => cluster.core.listNamespacedPod({ namespace, labelSelector: selector })))
                .items as Pod[];
        } catch (e) {
            throw permissionError(e, "list", "pods", namespace);
        }
    };
    const useWatch = () => watchedPods !== undefined && watchedPods.fatalError() === undefined;
    for (;;) {
        let pods: Pod[] = useWatch() ? [...watchedPods!.list()] : await listPods();
        // The watched cache says "gone": confirm with one list before declaring it.
        if (pods.length === 0 && useWatch()) pods = await listPods();
        if (pods.length === 0) return;
        const elapsed = seconds(started);
        if (elapsed > CLEANUP_DEADLINE_SECONDS) {
            const hint = forbiddenToDelete ? ' (grant RBAC verb "delete" on "pods" to let them be force-deleted)' : "";
            throw new Error(
                `image-prepuller: ${pods.length} pre-pull pods in namespace "${namespace}" (label ${selector}) were not removed within ${CLEANUP_DEADLINE_SECONDS}s${hint}; delete them by hand`,
            );
        }
        if (elapsed > GRACEFUL_CLEANUP_SECONDS && !forbiddenToDelete) {
            for (const pod of pods) {
                const name = pod.metadata?.name;
                if (!name) continue;
                try {
                    await withRetry(() => cluster.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }));
                } catch (e) {
                    const code = statusCode(e);
                    if (code === 403) forbiddenToDelete = true;
                    else if (code !== 404) throw permissionError(e, "delete", "pods", namespace);
                }
            }
        }
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** Removes what an owner left in the cluster (used by delete and by interrupted runs). */
export async function removeOwnedObjects(owned: OwnedObjects, log: Logger): Promise<void> {
    const cluster = connect(owned.kubeconfig, owned.context);
    await removeOwned(cluster, owned, log, true);
}

/** For refresh: eligible nodes now, and which of them miss images by their `status.images`. */
export async function inspectPresence(
    inputs: PrePullInputs,
): Promise<{ nodes: string[]; missingNodes: Record<string, string[]> }> {
    const cluster = connect(inputs.kubeconfig, inputs.context);
    let nodes: Node[];
    try {
        nodes = (await withRetry(() => cluster.core.listNode())).items as Node[];
    } catch (e) {
        throw permissionError(e, "list", "nodes");
    }
    const images = inputs.images.map((i) => parseImageReference(i));
    const report = evaluatePresence(nodes, [], images, constraintsOf(inputs));
    const missingNodes: Record<string, string[]> = {};
    for (const [node, missing] of Object.entries(report.missing)) {
        const reported = nodes.find((n) => n.metadata?.name === node);
        // A node listing the kubelet's maximum may hold more than it reports: not evidence of absence.
        const listFull = (reported?.status?.images?.length ?? 0) >= KUBELET_MAX_REPORTED_IMAGES;
        if (!listFull) missingNodes[node] = missing;
    }
    return { nodes: report.eligibleNodes, missingNodes };
}

/** The kubelet's default --node-status-max-images. */
export const KUBELET_MAX_REPORTED_IMAGES = 50;

function seconds(since: number): number {
    return Math.round((Date.now() - since) / 100) / 10;
}
