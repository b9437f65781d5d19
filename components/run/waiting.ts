/**
 * The wait loop of a pre-pull: decides presence every poll interval and on every watched change,
 * moves the batch (maxParallelNodes), prints progress, and fails early on problems that persist:
 * pull and start errors of our pods, pods the DaemonSet controller cannot create, pods the
 * scheduler cannot place. Also the messages those failures and a timeout produce.
 *
 * It takes its clock, its inputs and the run's AbortSignal as arguments and does no I/O of its
 * own, so its decisions are unit-tested with a fake clock (test/unit/run/waiting.test.ts).
 */
import { describeDaemonSets, ownPods } from "../rules/daemonset";
import { pullReport, pullTimings, type PullReport, type PullTiming } from "../rules/pull-report";
import { ineligibilityReason, nodesToKeepOut, type SchedulingConstraints } from "../rules/eligibility";
import type { Watched } from "../cluster/watch";
import type { PrePullInputs } from "../rules/inputs";
import type { Event, Node, Pod } from "../rules/wire";
import { presenceEvaluator, problemKey, type ContainerProblem, type PresenceReport } from "../rules/presence";
import {
    containerHint,
    creationProblems,
    isRateLimit,
    podEventProblems,
    targetNode,
    unschedulablePods,
    type PodProblem,
} from "../rules/problems";
import type { ChangeSignal } from "./change-signal";
import type { Clock } from "./clock";
import type { Logger } from "./shared";
import type { ImageReference } from "../rules/references";

/** How long a transient problem may persist before the pre-pull fails. */
export const PROBLEM_TOLERANCE_SECONDS = 30;
/**
 * A FailedCreate event counts for this long after it was written (first seen, or updated: the
 * controller bumps its count on every failed retry). A failure that persists keeps renewing it
 * (the controller retries with a back-off that stays below 20 s for the first 30 s), while one
 * that cleared, such as a webhook that refused the first pod, stops counting before the
 * tolerance runs out, however long the event itself lives (about an hour).
 */
export const FAILED_CREATE_RECENT_SECONDS = PROBLEM_TOLERANCE_SECONDS;
/** How often the loop reads the DaemonSet back: one deleted by someone else ends the run then. */
export const DAEMONSET_CHECK_SECONDS = 10;
/** Progress is printed at least this often while waiting. */
export const PROGRESS_INTERVAL_SECONDS = 10;

/** Why a run's signal fired: its timeout (a TimeoutError, as AbortSignal.timeout gives), or not. */
export function isTimeoutReason(reason: unknown): boolean {
    return (reason as { name?: unknown } | undefined)?.name === "TimeoutError";
}

function abandoned(): Error {
    return new Error("image-prepuller: the pre-pull was abandoned");
}

/** The watched objects the loop reads: nodes, our pods, Warning events of the namespace. */
export type WatchedList<T> = Pick<Watched<T>, "list" | "fatalError" | "trouble">;

export interface WaitContext {
    inputs: Pick<PrePullInputs, "namespace" | "timeoutSeconds" | "pollIntervalSeconds" | "unschedulableNodes">;
    images: readonly ImageReference[];
    constraints: SchedulingConstraints;
    nodes: WatchedList<Node>;
    /** Our pods; `byNode`, where the watch keeps it, saves the loop grouping them at every change. */
    pods: WatchedList<Pod> & { byNode?: () => ReadonlyMap<string, readonly Pod[]> };
    /** Warning events in the namespace (ours are picked by UID); undefined when the credentials may not read events. */
    events?: WatchedList<Event>;
    /** The DaemonSets this run created: one, or one per pull group (parallelPulls). */
    daemonSets: readonly { uid: string; name: string }[];
    log: Logger;
    /** The time, and sleeping until the poll interval ends or a change comes. */
    clock: Pick<Clock, "now" | "sleep">;
    /** The run's signal: its timeout, or nobody waiting for it any more (see isTimeoutReason). */
    signal: AbortSignal;
    /**
     * The watched changes: `next()` resolves at the next one (the loop then decides at once, not
     * at the next poll); `awake()` is told after every wait, however it ended.
     */
    changes: Pick<ChangeSignal, "next" | "awake">;
    /**
     * Reads the DaemonSets back: which is gone and why ("jhub/prepull-x was deleted", "... is being
     * deleted", "... was replaced by another of the same name"), or undefined while all are there
     * (or the reads failed).
     */
    daemonSetGone?: () => Promise<string | undefined>;
    /**
     * Keeps where the DaemonSet runs current: the batch of maxParallelNodes, or the nodes it must
     * be kept off (given as `keepOut` every round). `current()` is the batch, undefined without one.
     */
    placement?: {
        move(missingNodes: readonly string[], keepOut: readonly string[]): Promise<void>;
        current(): readonly string[] | undefined;
    };
}

/** A problem of either kind, keyed for how long it has persisted. */
interface TrackedProblem {
    key: string;
    permanent: boolean;
    describe: string;
    /** The node whose pod the scheduler cannot place (unschedulableNodes decides what that does). */
    unschedulableNode?: string;
    /** A registry's pull rate limit: waited out (until the timeout), never failed after the tolerance. */
    rateLimited?: boolean;
}

function containerProblem(p: ContainerProblem, nodes: readonly Node[]): TrackedProblem {
    const labels = nodes.find((n) => n.metadata?.name === p.node)?.metadata?.labels;
    const rateLimited = isRateLimit(p.message);
    return {
        key: `container\u0000${problemKey(p)}`,
        permanent: p.permanent && !rateLimited,
        rateLimited,
        describe: `node ${p.node}: container ${p.container} (image ${p.image}): ${p.reason}: ${p.message}${containerHint(p, labels)}`,
    };
}

function podProblem(p: PodProblem): TrackedProblem {
    return {
        key: `pod\u0000${p.node ?? ""}\u0000${p.reason}`,
        permanent: false,
        unschedulableNode: p.reason === "Unschedulable" ? p.node : undefined,
        describe: !p.node
            ? `the DaemonSet cannot create pre-pull pods: ${p.reason}: ${p.message}`
            : p.reason === "Unschedulable"
              ? `node ${p.node}: the pre-pull pod cannot be scheduled: ${p.message}`
              : `node ${p.node}: the pre-pull pod cannot start: ${p.reason}: ${p.message}`,
    };
}

/** What the wait decided: presence on every eligible node, and the nodes that left before holding the images. */
export interface WaitResult extends PresenceReport {
    /** Node name to why it left: cordoned, not-ready, untolerated-taint, node-selector, node-affinity or deleted. */
    droppedNodes: Record<string, string>;
    /** Node name to why its pod could not be scheduled (unschedulableNodes: "skip"). */
    skippedNodes: Record<string, string>;
    /** What the pulls cost, per image and the slowest nodes (from the pods' timestamps). */
    pullReport: PullReport;
}

function noteDropped(
    nodes: readonly Node[],
    report: PresenceReport,
    constraints: SchedulingConstraints,
    wanted: Set<string>,
    done: ReadonlySet<string>,
    skipped: ReadonlyMap<string, string>,
    dropped: Map<string, string>,
    log: Logger,
): void {
    for (const node of Object.keys(report.missing)) {
        wanted.add(node);
        dropped.delete(node); // it came back and is waited for again
    }
    let eligible: Set<string> | undefined;
    for (const name of wanted) {
        if (done.has(name) || skipped.has(name) || dropped.has(name)) continue;
        if (Object.prototype.hasOwnProperty.call(report.missing, name)) continue;
        eligible ??= new Set(report.eligibleNodes);
        if (eligible.has(name)) continue;
        const node = nodes.find((n) => n.metadata?.name === name);
        const reason = node ? (ineligibilityReason(node, constraints) ?? "ineligible") : "deleted";
        dropped.set(name, reason);
        log(
            `image-prepuller: node ${name} left the eligible nodes before it held the images (${reason}); not counted as covered`,
        );
    }
}

function describeDropped(dropped: ReadonlyMap<string, string>): string {
    return [...dropped]
        .sort()
        .map(([node, reason]) => `${node} (${reason})`)
        .join(", ");
}

/** No eligible node was covered: every one left or could not take the pod. */
function nothingCovered(
    dropped: ReadonlyMap<string, string>,
    skipped: ReadonlyMap<string, string>,
    inputs: Pick<PrePullInputs, "namespace">,
    daemonSetNames: readonly string[],
): Error {
    if (skipped.size === 0) {
        return new Error(
            `image-prepuller: every eligible node left before it held the images: ${describeDropped(dropped)}; nothing was pre-pulled (${deleted(inputs, daemonSetNames)})`,
        );
    }
    return new Error(
        describeFailures(
            [
                `no eligible node could take the pre-pull pod, so nothing was pre-pulled (unschedulableNodes: "skip" skips single nodes, not all):`,
                ...[...skipped].sort().map(([, describe]) => describe),
                ...(dropped.size > 0 ? [`nodes that left before holding the images: ${describeDropped(dropped)}`] : []),
            ],
            inputs,
            daemonSetNames,
        ),
    );
}

/** "the DaemonSet jhub/x was deleted", or "the DaemonSets jhub/x, jhub/x-p2 were deleted". */
function deleted(inputs: Pick<PrePullInputs, "namespace">, daemonSetNames: readonly string[]): string {
    return `the ${describeDaemonSets(inputs.namespace, daemonSetNames)} ${daemonSetNames.length === 1 ? "was" : "were"} deleted`;
}

export async function waitForPresence(ctx: WaitContext): Promise<WaitResult> {
    const { inputs, images, constraints, log, clock, signal } = ctx;
    const uids = ctx.daemonSets.map((d) => d.uid);
    const names = ctx.daemonSets.map((d) => d.name);
    const firstSeen = new Map<string, number>();
    // A node that held every image once stays done for this run, even when its pod (the
    // evidence, if the kubelet's capped image list omits ours) leaves with the batch.
    const done = new Set<string>();
    // Nodes that were eligible and missed images at some look; those that left before holding
    // them are named, never counted as covered.
    const wanted = new Set<string>();
    const dropped = new Map<string, string>();
    // Nodes whose pod the scheduler could not place for the tolerance, under unschedulableNodes:
    // "skip": out of the wait (and of the batch), named, never counted as covered.
    const skipped = new Map<string, string>();
    const skipUnschedulable = inputs.unschedulableNodes !== "fail";
    // When this run first saw each version of each Warning event (the recency of FailedCreate).
    const eventSeen = new Map<string, number>();
    // The images each node missed when first seen (what it pulls), and each pull's timing as
    // first seen (pods of finished nodes may leave with the batch).
    const pulled = new Map<string, string[]>();
    const timings = new Map<string, PullTiming>();
    // Presence, and the pull timings of the pod objects seen, kept while the objects are current.
    const presence = presenceEvaluator(images, constraints);
    const timed = new WeakSet<Pod>();
    let ownedFrom: readonly Pod[] | undefined;
    let owned: Pod[] = [];
    let lastProgress = -Infinity;
    let lastDaemonSetCheck = -Infinity;
    let lastSummary = "";
    for (;;) {
        const now = clock.now();
        if (signal.aborted && !isTimeoutReason(signal.reason)) throw abandoned();
        const watchFailure = ctx.nodes.fatalError() ?? ctx.pods.fatalError() ?? ctx.events?.fatalError();
        if (watchFailure) throw watchFailure;
        const listedPods = ctx.pods.list();
        // Filtered again only when the watch gives another list (the memo keys on the result).
        if (listedPods !== ownedFrom) {
            ownedFrom = listedPods;
            owned = ownPods(listedPods, uids);
        }
        const pods = owned;
        const nodes = ctx.nodes.list();
        const report = withoutSettled(presence.evaluate(nodes, pods, ctx.pods.byNode?.()), done, skipped);
        const missingNodes = Object.keys(report.missing);
        for (const node of missingNodes) if (!pulled.has(node)) pulled.set(node, report.missing[node]!);
        for (const pod of pods) {
            if (timed.has(pod)) continue;
            timed.add(pod);
            for (const t of pullTimings(pod, images)) {
                const key = `${t.node}\u0000${t.image}`;
                if (!timings.has(key)) timings.set(key, t);
            }
        }
        noteDropped(nodes, report, constraints, wanted, done, skipped, dropped, log);
        if (missingNodes.length === 0) {
            if (report.eligibleNodes.length === 0 && (dropped.size > 0 || skipped.size > 0)) {
                throw nothingCovered(dropped, skipped, inputs, names);
            }
            return {
                ...report,
                droppedNodes: Object.fromEntries([...dropped].sort()),
                skippedNodes: Object.fromEntries(
                    [...skipped].sort().map(([node, describe]) => [node, skipReason(describe)]),
                ),
                pullReport: pullReport([...timings.values()], pulled, nodes, images),
            };
        }
        if (ctx.daemonSetGone && !signal.aborted && now - lastDaemonSetCheck >= DAEMONSET_CHECK_SECONDS * 1000) {
            lastDaemonSetCheck = now;
            const gone = await ctx.daemonSetGone();
            if (gone) {
                throw new Error(
                    `image-prepuller: the DaemonSet ${gone} while ${missingNodes.length} of ${report.eligibleNodes.length} eligible nodes still missed images; something other than this pre-pull removed it (a namespace deletion, a GitOps prune, kubectl delete), so nothing more can be pulled. Run pulumi up again once nothing removes it.`,
                );
            }
        }
        if (!signal.aborted) {
            // Only ineligible nodes are kept out (evaluatePresence has just told each node's eligibility).
            const ineligible = nodes.filter((n) => presence.wasEligible(n) === false);
            await ctx.placement?.move(missingNodes, nodesToKeepOut(ineligible, constraints));
        }

        const events = ctx.events?.list() ?? [];
        noteEventsSeen(events, eventSeen, now);
        const problems = [
            ...report.problems.map((p) => containerProblem(p, nodes)),
            ...podProblemsFor(pods, events, uids, missingNodes, {
                // Without maxParallelNodes every missing node is in the batch.
                pullingNodes: ctx.placement?.current()?.filter((n) => missingNodes.includes(n)),
                recent: (e) => now - (eventSeen.get(eventVersion(e)) ?? now) < FAILED_CREATE_RECENT_SECONDS * 1000,
            }).map(podProblem),
        ];
        const currentKeys = new Set(problems.map((p) => p.key));
        for (const key of [...firstSeen.keys()]) if (!currentKeys.has(key)) firstSeen.delete(key);
        for (const key of currentKeys) if (!firstSeen.has(key)) firstSeen.set(key, now);
        const persisted = problems.filter(
            (p) =>
                p.permanent ||
                (!p.rateLimited && now - (firstSeen.get(p.key) ?? now) >= PROBLEM_TOLERANCE_SECONDS * 1000),
        );
        const toSkip = skipUnschedulable ? persisted.filter((p) => p.unschedulableNode !== undefined) : [];
        for (const p of toSkip) {
            skipped.set(p.unschedulableNode!, p.describe);
            log(
                `image-prepuller: skipping node ${p.unschedulableNode}: its pre-pull pod could not be scheduled for ${PROBLEM_TOLERANCE_SECONDS}s (${skipReason(p.describe)}); not counted as covered (unschedulableNodes: "fail" fails instead)`,
            );
        }
        if (toSkip.length > 0) continue; // decide again without them: they leave the batch, too
        const fatal = persisted;
        if (fatal.length > 0) {
            throw new Error(
                describeFailures(
                    fatal.map((p) => p.describe),
                    inputs,
                    names,
                ),
            );
        }
        if (signal.aborted) {
            if (!isTimeoutReason(signal.reason)) throw abandoned();
            throw new Error(
                describeTimeout(
                    report,
                    inputs,
                    names,
                    apiTrouble(ctx),
                    problems.map((p) => p.describe),
                ),
            );
        }
        // A line at least every PROGRESS_INTERVAL_SECONDS, and at most every 2 s when it changed.
        if (now - lastProgress >= 2000) {
            const summary = progressLine(
                report,
                images.length,
                problems.map((p) => p.describe),
            );
            if (now - lastProgress >= PROGRESS_INTERVAL_SECONDS * 1000 || summary !== lastSummary) {
                log(summary);
                lastProgress = now;
                lastSummary = summary;
            }
        }
        await clock.sleep(inputs.pollIntervalSeconds * 1000, ctx.changes.next(), signal);
        ctx.changes.awake();
    }
}

/** One version of one event: the controller updates an event (its count) on every repeat. */
function eventVersion(event: Event): string {
    const m = event.metadata ?? {};
    return `${m.name ?? ""}\u0000${m.resourceVersion ?? `${event.count ?? ""}/${event.lastTimestamp ?? ""}`}`;
}

function noteEventsSeen(events: readonly Event[], seen: Map<string, number>, now: number): void {
    const present = new Set<string>();
    for (const event of events) {
        const key = eventVersion(event);
        present.add(key);
        if (!seen.has(key)) seen.set(key, now);
    }
    for (const key of [...seen.keys()]) if (!present.has(key)) seen.delete(key);
}

/**
 * Pods that cannot be created (a recent FailedCreate of one of our DaemonSets, while some node of
 * the current batch that misses images has no pod of that DaemonSet: nodes outside the batch have
 * none by design), pods that cannot be scheduled on a node that misses images, and pods stuck
 * before their sandbox.
 */
export function podProblemsFor(
    pods: readonly Pod[],
    events: readonly Event[],
    daemonSetUids: readonly string[],
    missingNodes: readonly string[],
    options: {
        /** The missing nodes the DaemonSet is meant to run on now; default: all of them. */
        pullingNodes?: readonly string[];
        /** Whether a FailedCreate event is recent enough to count; default: all count. */
        recent?: (event: Event) => boolean;
    } = {},
): PodProblem[] {
    const creation = daemonSetUids.flatMap((uid) => {
        const failures = creationProblems(events, uid, options.recent);
        if (failures.length === 0) return [];
        const withPod = new Set(
            ownPods(pods, [uid])
                .map(targetNode)
                .filter((n): n is string => n !== undefined),
        );
        const someoneWithout = (options.pullingNodes ?? missingNodes).some((n) => !withPod.has(n));
        return someoneWithout ? failures : [];
    });
    const onMissing = (p: PodProblem) => p.node === undefined || missingNodes.includes(p.node);
    return [
        ...creation,
        ...unschedulablePods(pods).filter(onMissing),
        ...podEventProblems(events, pods).filter(onMissing),
    ];
}

/**
 * Records newly complete nodes in `done`, drops every done node from what is missing, and every
 * skipped node from the report (neither waited for nor covered).
 */
function withoutSettled(
    report: PresenceReport,
    done: Set<string>,
    skipped: ReadonlyMap<string, string>,
): PresenceReport {
    for (const node of report.eligibleNodes)
        if (!Object.prototype.hasOwnProperty.call(report.missing, node) && !skipped.has(node)) done.add(node);
    const settled = (node: string) => done.has(node) || skipped.has(node);
    // Copied only when something is to be left out: with thousands of nodes, this runs on every change.
    if (
        skipped.size === 0 &&
        !Object.keys(report.missing).some(settled) &&
        !report.problems.some((p) => settled(p.node))
    ) {
        return report;
    }
    const missing = Object.fromEntries(Object.entries(report.missing).filter(([node]) => !settled(node)));
    return {
        eligibleNodes: report.eligibleNodes.filter((node) => !skipped.has(node)),
        missing,
        problems: report.problems.filter((p) => !settled(p.node)),
    };
}

/** "node n: the pre-pull pod cannot be scheduled: Too many pods (...)" -> "Too many pods (...)". */
function skipReason(describe: string): string {
    return describe.replace(/^node [^:]*: the pre-pull pod cannot be scheduled: /, "");
}

function apiTrouble(ctx: WaitContext): string[] {
    return [
        ["node watch", ctx.nodes.trouble()],
        ["pod watch", ctx.pods.trouble()],
        ["event watch", ctx.events?.trouble()],
    ]
        .filter(([, trouble]) => trouble !== undefined)
        .map(([what, trouble]) => `${what}: ${trouble}`);
}

export function progressLine(report: PresenceReport, imageCount: number, problems: readonly string[] = []): string {
    const total = report.eligibleNodes.length;
    const missingNodes = Object.keys(report.missing).sort();
    const done = total - missingNodes.length;
    const sample = missingNodes
        .slice(0, 5)
        .map((n) => `${n} (${report.missing[n]!.length}/${imageCount} missing)`)
        .join(", ");
    const more = missingNodes.length > 5 ? ` and ${missingNodes.length - 5} more` : "";
    const shown = problems.slice(0, 3).join("; ");
    return (
        `image-prepuller: ${done}/${total} nodes ready; waiting on ${sample}${more}` +
        (shown ? `; problems: ${shown}${problems.length > 3 ? ` (+${problems.length - 3})` : ""}` : "")
    );
}

export function describeFailures(
    problems: readonly string[],
    inputs: Pick<PrePullInputs, "namespace">,
    daemonSetNames: readonly string[],
): string {
    const lines = problems.slice(0, 20).map((p) => `  ${p}`);
    const more = problems.length > 20 ? [`  ... and ${problems.length - 20} more`] : [];
    return [`image-prepuller: cannot pre-pull images (${deleted(inputs, daemonSetNames)}):`, ...lines, ...more].join(
        "\n",
    );
}

export function describeTimeout(
    report: PresenceReport,
    inputs: Pick<PrePullInputs, "timeoutSeconds" | "namespace">,
    daemonSetNames: readonly string[],
    trouble: readonly string[] = [],
    problems: readonly string[] = [],
): string {
    const missing = Object.entries(report.missing).sort(([a], [b]) => a.localeCompare(b));
    return [
        `image-prepuller: timed out after ${inputs.timeoutSeconds}s; ${missing.length} of ${report.eligibleNodes.length} eligible nodes still miss images (${deleted(inputs, daemonSetNames)}):`,
        ...missing.map(([node, images]) => `  node ${node}: ${images.join(", ")}`),
        ...(problems.length > 0 ? ["Problems at the end:", ...problems.slice(0, 20).map((p) => `  ${p}`)] : []),
        ...(trouble.length > 0 ? ["API problems while waiting:", ...trouble.map((t) => `  ${t}`)] : []),
    ].join("\n");
}
