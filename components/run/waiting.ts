/**
 * The wait loop of a pre-pull: decides presence every poll interval and on every watched change,
 * moves the batch (maxParallelNodes), prints progress, and fails early on problems that persist:
 * pull and start errors of our pods, pods the DaemonSet controller cannot create, pods the
 * scheduler cannot place. Also the messages those failures and a timeout produce.
 *
 * It takes its clock, its inputs and the run's AbortSignal as arguments and does no I/O of its
 * own, so its decisions are unit-tested with a fake clock (test/unit/run/waiting.test.ts).
 */
import { ineligibilityReason, type SchedulingConstraints } from "../rules/eligibility";
import type { Watched } from "../cluster/watch";
import type { PrePullInputs } from "../rules/inputs";
import type { Event, Node, Pod } from "../rules/wire";
import { evaluatePresence, problemKey, type ContainerProblem, type PresenceReport } from "../rules/presence";
import { creationProblems, podEventProblems, targetNode, unschedulablePods, type PodProblem } from "../rules/problems";
import type { Logger } from "./shared";
import type { ImageReference } from "../rules/references";

/** How long a transient problem may persist before the pre-pull fails. */
export const PROBLEM_TOLERANCE_SECONDS = 30;
/** Progress is printed at least this often while waiting. */
export const PROGRESS_INTERVAL_SECONDS = 10;

/** Time as the wait loop sees it: the system's in a run, a fake one in unit tests. */
export interface Clock {
    now(): number;
    /** Resolves after `ms`, or sooner when `wake` resolves or `signal` fires. */
    sleep(ms: number, wake: Promise<void>, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
    now: () => Date.now(),
    sleep: (ms, wake, signal) =>
        new Promise<void>((resolve) => {
            // Declared before `done` uses it: Pulumi's closure serializer cannot follow a use before the declaration.
            let timer: NodeJS.Timeout | undefined = undefined;
            const done = () => {
                clearTimeout(timer);
                signal.removeEventListener("abort", done);
                resolve();
            };
            timer = setTimeout(done, ms);
            signal.addEventListener("abort", done, { once: true });
            void wake.then(done);
        }),
};

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
    inputs: Pick<PrePullInputs, "namespace" | "timeoutSeconds" | "pollIntervalSeconds">;
    images: readonly ImageReference[];
    constraints: SchedulingConstraints;
    nodes: WatchedList<Node>;
    pods: WatchedList<Pod>;
    /** Warning events in the namespace (ours are picked by UID); undefined when the credentials may not read events. */
    events?: WatchedList<Event>;
    daemonSet: { uid: string; name: string };
    log: Logger;
    clock: Clock;
    /** The run's signal: its timeout, or nobody waiting for it any more (see isTimeoutReason). */
    signal: AbortSignal;
    /** Resolves at the next watched change (the loop then decides at once, not at the next poll). */
    nextChange: () => Promise<void>;
    /** With maxParallelNodes: confines the pulls to a batch of the nodes still missing images. */
    batches?: { move(missingNodes: readonly string[]): Promise<void> };
}

/** A problem of either kind, keyed for how long it has persisted. */
interface TrackedProblem {
    key: string;
    permanent: boolean;
    describe: string;
}

function containerProblem(p: ContainerProblem): TrackedProblem {
    return {
        key: `container\u0000${problemKey(p)}`,
        permanent: p.permanent,
        describe: `node ${p.node}: container ${p.container} (image ${p.image}): ${p.reason}: ${p.message}`,
    };
}

function podProblem(p: PodProblem): TrackedProblem {
    return {
        key: `pod\u0000${p.node ?? ""}\u0000${p.reason}`,
        permanent: false,
        describe: !p.node
            ? `the DaemonSet cannot create pre-pull pods: ${p.reason}: ${p.message}`
            : p.reason === "Unschedulable"
              ? `node ${p.node}: the pre-pull pod cannot be scheduled: ${p.message}`
              : `node ${p.node}: the pre-pull pod cannot start: ${p.reason}: ${p.message}`,
    };
}

/** Pods of the DaemonSet this run created: a leftover of an earlier run is neither evidence nor a problem. */
function ownPods(pods: readonly Pod[], uid: string): Pod[] {
    return pods.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === uid));
}

/** What the wait decided: presence on every eligible node, and the nodes that left before holding the images. */
export interface WaitResult extends PresenceReport {
    /** Node name to why it left: cordoned, not-ready, untolerated-taint, node-selector, node-affinity or deleted. */
    droppedNodes: Record<string, string>;
}

function noteDropped(
    nodes: readonly Node[],
    report: PresenceReport,
    constraints: SchedulingConstraints,
    wanted: Set<string>,
    done: ReadonlySet<string>,
    dropped: Map<string, string>,
    log: Logger,
): void {
    for (const node of Object.keys(report.missing)) {
        wanted.add(node);
        dropped.delete(node); // it came back and is waited for again
    }
    const eligible = new Set(report.eligibleNodes);
    for (const name of wanted) {
        if (done.has(name) || eligible.has(name) || dropped.has(name)) continue;
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

export async function waitForPresence(ctx: WaitContext): Promise<WaitResult> {
    const { inputs, images, constraints, log, clock, signal } = ctx;
    const firstSeen = new Map<string, number>();
    // A node that held every image once stays done for this run, even when its pod (the
    // evidence, if the kubelet's capped image list omits ours) leaves with the batch.
    const done = new Set<string>();
    // Nodes that were eligible and missed images at some look; those that left before holding
    // them are named, never counted as covered.
    const wanted = new Set<string>();
    const dropped = new Map<string, string>();
    let lastProgress = -Infinity;
    let lastSummary = "";
    for (;;) {
        const now = clock.now();
        if (signal.aborted && !isTimeoutReason(signal.reason)) throw abandoned();
        const watchFailure = ctx.nodes.fatalError() ?? ctx.pods.fatalError() ?? ctx.events?.fatalError();
        if (watchFailure) throw watchFailure;
        const pods = ownPods(ctx.pods.list(), ctx.daemonSet.uid);
        const nodes = ctx.nodes.list();
        const report = withoutDone(evaluatePresence(nodes, pods, images, constraints), done);
        const missingNodes = Object.keys(report.missing);
        noteDropped(nodes, report, constraints, wanted, done, dropped, log);
        if (missingNodes.length === 0) {
            if (report.eligibleNodes.length === 0 && dropped.size > 0) {
                throw new Error(
                    `image-prepuller: every eligible node left before it held the images: ${describeDropped(dropped)}; nothing was pre-pulled (the DaemonSet ${inputs.namespace}/${ctx.daemonSet.name} was deleted)`,
                );
            }
            return { ...report, droppedNodes: Object.fromEntries([...dropped].sort()) };
        }
        if (!signal.aborted) await ctx.batches?.move(missingNodes);

        const problems = [
            ...report.problems.map(containerProblem),
            ...podProblemsFor(pods, ctx.events?.list() ?? [], ctx.daemonSet.uid, missingNodes).map(podProblem),
        ];
        const currentKeys = new Set(problems.map((p) => p.key));
        for (const key of [...firstSeen.keys()]) if (!currentKeys.has(key)) firstSeen.delete(key);
        for (const key of currentKeys) if (!firstSeen.has(key)) firstSeen.set(key, now);
        const fatal = problems.filter(
            (p) => p.permanent || now - (firstSeen.get(p.key) ?? now) >= PROBLEM_TOLERANCE_SECONDS * 1000,
        );
        if (fatal.length > 0) {
            throw new Error(
                describeFailures(
                    fatal.map((p) => p.describe),
                    inputs,
                    ctx.daemonSet.name,
                ),
            );
        }
        if (signal.aborted) {
            if (!isTimeoutReason(signal.reason)) throw abandoned();
            throw new Error(describeTimeout(report, inputs, ctx.daemonSet.name, apiTrouble(ctx)));
        }
        const summary = progressLine(
            report,
            images.length,
            problems.map((p) => p.describe),
        );
        if (
            now - lastProgress >= PROGRESS_INTERVAL_SECONDS * 1000 ||
            (summary !== lastSummary && now - lastProgress >= 2000)
        ) {
            log(summary);
            lastProgress = now;
            lastSummary = summary;
        }
        await clock.sleep(inputs.pollIntervalSeconds * 1000, ctx.nextChange(), signal);
    }
}

/**
 * Pods that cannot be created (while some node that misses images has no pod of ours) and pods
 * that cannot be scheduled on a node that misses images.
 */
export function podProblemsFor(
    pods: readonly Pod[],
    events: readonly Event[],
    daemonSetUid: string,
    missingNodes: readonly string[],
): PodProblem[] {
    const withPod = new Set(pods.map(targetNode).filter((n): n is string => n !== undefined));
    const someoneWithout = missingNodes.some((n) => !withPod.has(n));
    const creation = someoneWithout ? creationProblems(events, daemonSetUid) : [];
    const onMissing = (p: PodProblem) => p.node === undefined || missingNodes.includes(p.node);
    return [
        ...creation,
        ...unschedulablePods(pods).filter(onMissing),
        ...podEventProblems(events, pods).filter(onMissing),
    ];
}

/** Records newly complete nodes in `done` and drops every done node from the report. */
function withoutDone(report: PresenceReport, done: Set<string>): PresenceReport {
    for (const node of report.eligibleNodes)
        if (!Object.prototype.hasOwnProperty.call(report.missing, node)) done.add(node);
    const missing = Object.fromEntries(Object.entries(report.missing).filter(([node]) => !done.has(node)));
    return { ...report, missing, problems: report.problems.filter((p) => !done.has(p.node)) };
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
    daemonSetName: string,
): string {
    const lines = problems.slice(0, 20).map((p) => `  ${p}`);
    const more = problems.length > 20 ? [`  ... and ${problems.length - 20} more`] : [];
    return [
        `image-prepuller: cannot pre-pull images (the DaemonSet ${inputs.namespace}/${daemonSetName} was deleted):`,
        ...lines,
        ...more,
    ].join("\n");
}

export function describeTimeout(
    report: PresenceReport,
    inputs: Pick<PrePullInputs, "timeoutSeconds" | "namespace">,
    daemonSetName: string,
    trouble: readonly string[] = [],
): string {
    const missing = Object.entries(report.missing).sort(([a], [b]) => a.localeCompare(b));
    return [
        `image-prepuller: timed out after ${inputs.timeoutSeconds}s; ${missing.length} of ${report.eligibleNodes.length} eligible nodes still miss images (the DaemonSet ${inputs.namespace}/${daemonSetName} was deleted):`,
        ...missing.map(([node, images]) => `  node ${node}: ${images.join(", ")}`),
        ...(trouble.length > 0 ? ["API problems while waiting:", ...trouble.map((t) => `  ${t}`)] : []),
    ].join("\n");
}
