/**
 * The blocking pre-pull: the thin I/O layer around the pure parts. One ClusterClient per run
 * watches Nodes and this run's Pods (as Table rows, reading an object in full only where a row
 * cannot tell enough) and this run's Warning events; the DaemonSet is created only when
 * some eligible node misses an image; the wait loop (./waiting) decides until every eligible
 * node holds every image; and the DaemonSet this run created is always deleted before it returns
 * (./cleanup). The run's deadline and its abandonment (./watchdog: the engine is gone) are one
 * AbortSignal that every request, retry and wait of the run ends with.
 */
import { ClusterClient } from "../cluster/client";
import { statusCode } from "../cluster/errors";
import type { Watched } from "../cluster/watch";
import { nextBatch } from "../rules/batches";
import {
    daemonSetName,
    daemonSetSpecification,
    describeDaemonSets,
    LABEL_COMPONENT,
    pullGroups,
    renderDaemonSet,
    runSelector,
} from "../rules/daemonset";
import type { PrePullInputs } from "../rules/inputs";
import { evaluatePresence } from "../rules/presence";
import { describePullReport, withEventSizes } from "../rules/pull-report";
import { parseImageReference } from "../rules/references";
import type { PodTemplate } from "../rules/rows";
import {
    cleanupClient,
    deleteCreatedDaemonSet,
    deleteOwnedDaemonSets,
    type CreatedDaemonSet,
    type OwnedObjects,
} from "./cleanup";
import { checkPullSecretsExist, createDaemonSet, anyDaemonSetGone, Placement } from "./pullers";
import { imageSizeReader } from "./image-sizes";
import { watchWarnings } from "./event-watch";
import { watchNodes } from "./node-watch";
import { watchPods, type OwnDaemonSet } from "./pod-watch";
import { constraintsOf, nodesToKeepOut } from "../rules/eligibility";
import { OPERATION_BUDGET_SECONDS, type Logger, type PrePullResult } from "./shared";
import { systemClock } from "./clock";
import { waitForPresence } from "./waiting";
import { watchEngine } from "./watchdog";
import { changeSignal } from "./change-signal";
import { holdV8 } from "./v8-hold";

export type { OwnedObjects } from "./cleanup";
export type { Logger } from "./shared";
export { inspectPresence, KUBELET_MAX_REPORTED_IMAGES } from "./refresh";
export type { PrePullResult } from "./shared";

/**
 * Presence is re-evaluated at once after a watched change, then at most this often while changes
 * keep coming (coalescing bursts of events).
 */
const EVENT_COOLING_MS = 100;
/** Runs the pre-pull. Throws on pull failures, timeouts and a vanished engine, after cleaning up. */
export async function prePull(inputs: PrePullInputs, log: Logger): Promise<PrePullResult> {
    const engine = watchEngine();
    const releaseV8 = holdV8();
    const abandon = new AbortController();
    const signal = AbortSignal.any([AbortSignal.timeout(inputs.timeoutSeconds * 1000), abandon.signal]);
    const running = runPrePull(inputs, log, signal);
    try {
        return await Promise.race([running, engine.gone]);
    } catch (e) {
        if (!abandon.signal.aborted && engine.fired()) {
            // Nobody waits for this run any more: stop, delete what it created, and end the process.
            abandon.abort(new Error("the engine is gone"));
            log((e as Error).message);
            await running.catch(() => undefined);
            exitAbandonedProcess();
        }
        throw e;
    } finally {
        engine.stop();
        releaseV8();
    }
}

/** A provider process whose engine is gone serves nobody: it ends once its cleanup is done. */
function exitAbandonedProcess(): void {
    setTimeout(() => process.exit(1), 100);
}

async function runPrePull(inputs: PrePullInputs, log: Logger, signal: AbortSignal): Promise<PrePullResult> {
    const started = Date.now();
    const cluster = ClusterClient.connect(inputs.kubeconfig, inputs.context, signal);
    const images = inputs.images.map((i) => parseImageReference(i));
    const constraints = constraintsOf(inputs);
    const namespace = inputs.namespace;
    const changes = changeSignal(EVENT_COOLING_MS, systemClock);
    const watches: Watched<unknown>[] = [];
    const created: CreatedDaemonSet[] = [];
    let cleanupDone = false;
    const cleanup = async () => {
        if (cleanupDone) return;
        cleanupDone = true;
        changes.stop();
        await Promise.all(watches.map((w) => w.stop()));
        const client = cleanupClient(cluster);
        for (const daemonSet of created) await deleteCreatedDaemonSet(client, daemonSet, log);
    };
    try {
        const nodes = await watchNodes(cluster, images, constraints, changes.notify);
        watches.push(nodes);
        // A run killed half-way may have left a DaemonSet behind: remove it first.
        await deleteOwnedDaemonSets(cluster, inputs, log, true);
        const initial = evaluatePresence(nodes.list(), [], images, constraints);
        const missing = Object.keys(initial.missing);
        if (missing.length === 0) {
            log(
                initial.eligibleNodes.length === 0
                    ? "image-prepuller: no eligible nodes match the scheduling constraints; nothing to pull"
                    : `image-prepuller: all ${initial.eligibleNodes.length} eligible nodes already hold all ${images.length} images; skipping`,
            );
            const decidedAt = new Date().toISOString();
            return {
                nodes: initial.eligibleNodes,
                skipped: true,
                durationSeconds: seconds(started),
                missingNodes: {},
                decidedAt,
                droppedNodes: {},
                skippedNodes: {},
            };
        }

        // One DaemonSet per pull group (parallelPulls): each node gets one pod of each. The run's
        // label tells its pods from those of any earlier run.
        const groups = pullGroups(inputs.images, inputs.parallelPulls);
        const run = `r${Date.now().toString(36)}`;
        const render = (group: number, nodeBatch: readonly string[] | undefined, keepOut: readonly string[]) =>
            renderDaemonSet({
                ...daemonSetSpecification(inputs),
                images: groups[group]!,
                name: daemonSetName(inputs.ownerId, group),
                ownerId: inputs.ownerId,
                extraLabels: { [LABEL_COMPONENT]: "pre-pull" },
                nodeBatch,
                keepOut,
                group: groups.length > 1 ? group : undefined,
                run,
            });
        const maxParallel = inputs.maxParallelNodes;
        const batch = maxParallel === undefined ? undefined : nextBatch([], missing, maxParallel);
        const keepOut = batch === undefined ? nodesToKeepOut(nodes.list(), constraints) : [];
        await checkPullSecretsExist(cluster, inputs, render(0, batch, keepOut), log);
        const pods = await watchPods(cluster, namespace, runSelector(inputs.ownerId, run), changes.notify, (node) =>
            nodes.refresh(node),
        );
        watches.push(pods);
        const daemonSetNames = groups.map((_, group) => daemonSetName(inputs.ownerId, group));
        const events = await watchWarnings(
            cluster,
            namespace,
            daemonSetNames,
            (pod) => pods.namedByWarning(pod),
            changes.notify,
            log,
        );
        if (events) watches.push(events);
        const own: OwnDaemonSet[] = [];
        for (let group = 0; group < groups.length; group++) {
            const manifest = render(group, batch, keepOut);
            const daemonSet = await createDaemonSet(cluster, namespace, manifest);
            created.push(daemonSet);
            own.push({ name: daemonSet.name, uid: daemonSet.uid, template: podTemplateOf(manifest) });
            pods.own(own);
        }
        const names = describeDaemonSets(
            namespace,
            created.map((d) => d.name),
        );
        log(
            `image-prepuller: pulling ${images.length} images on ${missing.length} of ${initial.eligibleNodes.length} eligible nodes (${names})` +
                (groups.length > 1
                    ? `; ${groups.length} pods per node pull at once (parallelPulls), ${groups.map((g) => g.length).join("+")} images`
                    : "") +
                (batch ? `; at most ${maxParallel} at once, starting with ${batch.join(", ")}` : ""),
        );

        const sizes = imageSizeReader(cluster, namespace, images);
        const report = await waitForPresence({
            inputs,
            images,
            constraints,
            nodes,
            pods: {
                ...pods,
                list: () => {
                    const listed = pods.list();
                    sizes.look(listed);
                    return listed;
                },
            },
            events,
            daemonSets: created,
            log,
            clock: systemClock,
            signal,
            changes,
            daemonSetGone: () => anyDaemonSetGone(cluster, created),
            placement: new Placement(
                cluster,
                created,
                (nodeBatch, nodesKeptOut) => render(0, nodeBatch, nodesKeptOut),
                maxParallel,
                batch,
                keepOut,
                log,
            ),
        });
        log(
            `image-prepuller: all ${report.eligibleNodes.length} eligible nodes hold all ${images.length} images after ${seconds(started).toFixed(1)}s` +
                notCovered("left before holding them", report.droppedNodes) +
                notCovered("skipped, their pre-pull pod could not be scheduled", report.skippedNodes),
        );
        // Sizes no node listed yet (a fresh pull): the kubelet's Pulled events, read while waiting.
        const unsized = Object.entries(report.pullReport.images)
            .filter(([, entry]) => entry.sizeBytes === undefined)
            .map(([image]) => image);
        if (unsized.length > 0) withEventSizes(report.pullReport, await sizes.settle(pods.list(), unsized), images);
        const pulls = describePullReport(report.pullReport);
        if (pulls) log(`image-prepuller: ${pulls}`);
        const decidedAt = new Date().toISOString();
        try {
            await cleanup();
        } catch (e) {
            // A missing permission is for the user to fix, not to leave behind unnoticed.
            if (statusCode(e) === 403) throw e;
            // Presence is decided: a DaemonSet that could not be deleted (an API that did not
            // answer) is left for the next run.
            log(
                `image-prepuller: warning: ${(e as Error).message}; the ${names} ${created.length === 1 ? "is" : "are"} removed by the next pulumi up or destroy`,
            );
        }
        return {
            nodes: report.eligibleNodes,
            skipped: false,
            durationSeconds: seconds(started),
            missingNodes: {},
            decidedAt,
            droppedNodes: report.droppedNodes,
            skippedNodes: report.skippedNodes,
            pullReport: report.pullReport,
        };
    } finally {
        await cleanup().catch((e: Error) => log(`image-prepuller: cleanup failed: ${e.message}`));
    }
}

/** The containers of the pods a rendered DaemonSet makes. */
function podTemplateOf(manifest: Record<string, unknown>): PodTemplate {
    const spec = (manifest.spec as { template: { spec: Partial<PodTemplate> } }).template.spec;
    const containers = (list: PodTemplate["containers"] | undefined) =>
        (list ?? []).map((c) => ({ name: c.name, image: c.image }));
    return { initContainers: containers(spec.initContainers), containers: containers(spec.containers) };
}

/** Removes everything an owner has (the delete of a resource, or a move to another namespace). */
export async function removeOwnedObjects(owned: OwnedObjects, log: Logger): Promise<void> {
    let cluster: ClusterClient;
    try {
        cluster = ClusterClient.connect(
            owned.kubeconfig,
            owned.context,
            AbortSignal.timeout(OPERATION_BUDGET_SECONDS * 1000),
        );
    } catch (e) {
        // A stored kubeconfig that no longer loads (a path that is gone) reaches no cluster.
        throw Object.assign(e as Error, { unreachable: true });
    }
    await deleteOwnedDaemonSets(cluster, owned, log, false);
}

/** "; 2 nodes left before holding them: a (cordoned), b (deleted)", or "" for none. */
function notCovered(what: string, nodes: Record<string, string>): string {
    const entries = Object.entries(nodes);
    if (entries.length === 0) return "";
    const list = entries.map(([node, reason]) => `${node} (${reason})`).join(", ");
    return `; ${entries.length} node${entries.length === 1 ? "" : "s"} ${what}: ${list}`;
}

export function seconds(since: number): number {
    return Math.round((Date.now() - since) / 100) / 10;
}
