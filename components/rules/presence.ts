/**
 * Presence: which eligible nodes still miss which images. A node holds an image when its
 * `status.images` names it (the kubelet lists at most 50 images, largest first, so this can
 * miss small ones), or when a pre-pull pod on that node has started or finished the container
 * that uses the image (the runtime only starts a container whose image it holds).
 */
import type { V1ContainerState, V1ContainerStatus } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { isEligible, type SchedulingConstraints } from "./eligibility";
import { referenceSatisfies, tryParseImageReference, type ImageReference } from "./references";
import type { Node, Pod, Wire } from "./wire";

// Module-level constants are arrays, not Sets: Pulumi serializes this module into the
// provider's state by value, and its closure serializer does not support Set or Map.

/** Kubelet waiting reasons that mean an image cannot be pulled. */
const PULL_ERROR_REASONS: readonly string[] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "SignatureValidationFailed",
    "ErrImageInspect",
];
/** Kubelet reasons that mean a container (whose image is present) cannot start. */
const START_ERROR_REASONS: readonly string[] = [
    "CrashLoopBackOff",
    "RunContainerError",
    "CreateContainerError",
    "CreateContainerConfigError",
    "StartError",
    "ContainerCannotRun",
];
/** Reasons that no retry by the kubelet can fix: fail at first sight. */
const PERMANENT_REASONS: readonly string[] = ["InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"];

export interface ContainerProblem {
    node: string;
    image: string;
    container: string;
    reason: string;
    message: string;
    permanent: boolean;
}

export interface PresenceReport {
    /** Eligible node names, sorted. */
    eligibleNodes: string[];
    /** Eligible nodes still missing at least one image, with the images they miss. */
    missing: Record<string, string[]>;
    /** Kubelet-reported problems of our pods on eligible nodes. */
    problems: ContainerProblem[];
}

export function nodeName(node: Node): string {
    return node.metadata?.name ?? "";
}

/** Images (normalized references) that `node` reports in `status.images`. */
export function reportedImages(node: Node): ImageReference[] {
    const result: ImageReference[] = [];
    for (const image of node.status?.images ?? []) {
        for (const name of image.names ?? []) {
            const parsed = tryParseImageReference(name);
            if (parsed) result.push(parsed);
        }
    }
    return result;
}

/** One eligible node's verdict: the images it misses, and its pods' problems while it misses some. */
interface NodeVerdict {
    pods: readonly Pod[];
    missing?: string[];
    problems: ContainerProblem[];
}

function verdictOf(
    node: Node,
    nodePods: readonly Pod[],
    images: readonly ImageReference[],
    reported: (node: Node) => ImageReference[],
    started: (pod: Pod) => ImageReference[],
): NodeVerdict {
    const onNode = reported(node);
    const pulledByPods = nodePods.flatMap(started);
    const stillMissing = images.filter(
        (wanted) =>
            !onNode.some((r) => referenceSatisfies(r, wanted)) &&
            !pulledByPods.some((r) => referenceSatisfies(r, wanted)),
    );
    if (stillMissing.length === 0) return { pods: nodePods, problems: [] };
    const name = nodeName(node);
    return {
        pods: nodePods,
        missing: stillMissing.map((i) => i.normalized),
        problems: nodePods.flatMap((pod) => podProblems(pod, name)),
    };
}

function podsByNodeOf(pods: readonly Pod[]): Map<string, Pod[]> {
    const byNode = new Map<string, Pod[]>();
    for (const pod of pods) {
        const name = pod.spec?.nodeName;
        if (!name) continue;
        const list = byNode.get(name);
        if (list) list.push(pod);
        else byNode.set(name, [pod]);
    }
    return byNode;
}

const NO_PODS: readonly Pod[] = [];

export function evaluatePresence(
    nodes: readonly Node[],
    pods: readonly Pod[],
    images: readonly ImageReference[],
    constraints: SchedulingConstraints,
): PresenceReport {
    const podsByNode = podsByNodeOf(pods);
    const eligibleNodes: string[] = [];
    const missing: Record<string, string[]> = {};
    const problems: ContainerProblem[] = [];
    for (const node of nodes) {
        if (!isEligible(node, constraints)) continue;
        const name = nodeName(node);
        eligibleNodes.push(name);
        const verdict = verdictOf(node, podsByNode.get(name) ?? NO_PODS, images, reportedImages, imagesStartedInPod);
        if (verdict.missing) {
            missing[name] = verdict.missing;
            problems.push(...verdict.problems);
        }
    }
    eligibleNodes.sort();
    return { eligibleNodes, missing, problems };
}

/**
 * evaluatePresence for a loop that decides on the same lists many times a second (a wait loop):
 * what each Node and Pod object gives is kept as long as the object lives (the watches replace an
 * object when it changes, never change it), each node's verdict is kept for the pods it was
 * reached with, and the report is updated in place for the nodes whose verdict changed. At
 * thousands of nodes, rebuilding the report on every watched change allocated gigabytes over a run
 * (and so grew the process). One per run (eligibility depends on its constraints). The report it
 * returns is its own and changes at the next call: use it before then.
 */
export interface PresenceEvaluator {
    /**
     * The report for these lists. `podsByNode`, where the caller keeps it (the run's pod watch
     * does), gives each node's pods as an array that is replaced, never changed, when they change;
     * without it the pods are grouped here whenever the list changes.
     */
    evaluate(
        nodes: readonly Node[],
        pods: readonly Pod[],
        podsByNode?: ReadonlyMap<string, readonly Pod[]>,
    ): PresenceReport;
    /** Whether the last evaluation found `node` (this object) eligible; undefined if it did not see it. */
    wasEligible(node: Node): boolean | undefined;
}

// A factory, not a class with field initializers: Pulumi's closure serializer, which inlines this
// code into state inside this repository, drops class field initializers. The loops below avoid
// closures and iterator entries: they run over every node on every change of a large cluster.
export function presenceEvaluator(
    images: readonly ImageReference[],
    constraints: SchedulingConstraints,
): PresenceEvaluator {
    const eligibility = new WeakMap<Node, boolean>();
    const verdicts = new WeakMap<Node, NodeVerdict>();
    // Per node name: the round that last saw it, whether it was eligible then, and its verdict.
    const seen = new Map<string, { round: number; eligible: boolean; verdict?: NodeVerdict }>();
    const report: PresenceReport = { eligibleNodes: [], missing: {}, problems: [] };
    let round = 0;
    let lastNodes: readonly Node[] | undefined = undefined;
    let lastPods: readonly Pod[] | undefined = undefined;
    let grouped: ReadonlyMap<string, readonly Pod[]> = new Map();
    const reportedOf = keptPerObject(reportedImages);
    const startedOf = keptPerObject(imagesStartedInPod);
    const evaluate = (
        nodes: readonly Node[],
        pods: readonly Pod[],
        podsByNode?: ReadonlyMap<string, readonly Pod[]>,
    ): PresenceReport => {
        if (nodes === lastNodes && pods === lastPods && podsByNode === undefined) return report;
        if (podsByNode === undefined && pods !== lastPods) grouped = podsByNodeOf(pods);
        const byNode = podsByNode ?? grouped;
        lastNodes = nodes;
        lastPods = pods;
        round++;
        let eligibleChanged = false;
        let problemsChanged = false;
        const { missing } = report;
        for (let i = 0; i < nodes.length; i++) {
            const node = nodes[i]!;
            const name = nodeName(node);
            let eligible = eligibility.get(node);
            if (eligible === undefined) {
                eligible = isEligible(node, constraints);
                eligibility.set(node, eligible);
            }
            let entry = seen.get(name);
            if (!entry) {
                entry = { round, eligible: false };
                seen.set(name, entry);
            }
            entry.round = round;
            if (eligible !== entry.eligible) {
                entry.eligible = eligible;
                eligibleChanged = true;
            }
            if (!eligible) {
                if (entry.verdict?.problems.length) problemsChanged = true;
                entry.verdict = undefined;
                delete missing[name];
                continue;
            }
            const nodePods = byNode.get(name) ?? NO_PODS;
            let verdict = verdicts.get(node);
            if (!verdict || !samePods(verdict.pods, nodePods)) {
                verdict = verdictOf(node, nodePods, images, reportedOf, startedOf);
                verdicts.set(node, verdict);
            }
            if (verdict === entry.verdict) continue;
            if (entry.verdict?.problems.length || verdict.problems.length) problemsChanged = true;
            entry.verdict = verdict;
            if (verdict.missing) missing[name] = verdict.missing;
            else delete missing[name];
        }
        // Nodes gone from the list.
        if (seen.size > nodes.length) {
            const gone: string[] = [];
            seen.forEach((entry, name) => {
                if (entry.round !== round) gone.push(name);
            });
            for (const name of gone) {
                const entry = seen.get(name)!;
                if (entry.eligible) eligibleChanged = true;
                if (entry.verdict?.problems.length) problemsChanged = true;
                delete missing[name];
                seen.delete(name);
            }
        }
        if (eligibleChanged) {
            const eligibleNodes: string[] = [];
            seen.forEach((entry, name) => {
                if (entry.eligible) eligibleNodes.push(name);
            });
            report.eligibleNodes = eligibleNodes.sort();
        }
        if (problemsChanged) {
            const problems: ContainerProblem[] = [];
            seen.forEach((entry) => {
                if (entry.verdict?.missing) problems.push(...entry.verdict.problems);
            });
            report.problems = problems;
        }
        return report;
    };
    return { evaluate, wasEligible: (node) => eligibility.get(node) };
}

/** `f` of an object, worked out once while the object lives. */
function keptPerObject<K extends object, V>(f: (key: K) => V): (key: K) => V {
    const kept = new WeakMap<K, V>();
    return (key) => {
        let value = kept.get(key);
        if (value === undefined) {
            value = f(key);
            kept.set(key, value);
        }
        return value;
    };
}

function samePods(a: readonly Pod[], b: readonly Pod[]): boolean {
    if (a === b) return true;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
}

/**
 * Images of the containers of `pod` that really ran, so their images are on the node: running,
 * or terminated with reason Completed and exit code 0, or terminated with a recorded start. A
 * container the kubelet gave up on is no evidence: `ContainerStatusUnknown` (never located, as
 * the kubelet marks unstarted init containers of a pod terminated mid-pull), a `StartError`
 * (its start time is the epoch), or `Error`/`OOMKilled` before it started.
 */
export function imagesStartedInPod(pod: Pod): ImageReference[] {
    const result: ImageReference[] = [];
    for (const status of containerStatuses(pod)) {
        if (!ranInState(status.state) && !ranInState(status.lastState)) continue;
        const parsed = tryParseImageReference(specImage(pod, status));
        if (parsed) result.push(parsed);
    }
    return result;
}

function ranInState(state: Wire<V1ContainerState> | undefined): boolean {
    if (state?.running !== undefined) return true;
    const terminated = state?.terminated;
    if (terminated === undefined) return false;
    if (terminated.reason === "Completed" && terminated.exitCode === 0) return true;
    return hasRecordedStart(terminated.startedAt);
}

/** A start time the runtime recorded: present and after the epoch (a failed start reports the epoch). */
function hasRecordedStart(startedAt: string | Date | undefined): boolean {
    if (startedAt === undefined || startedAt === null) return false;
    const time = new Date(startedAt).getTime();
    return Number.isFinite(time) && time > 0;
}

function podProblems(pod: Pod, node: string): ContainerProblem[] {
    const problems: ContainerProblem[] = [];
    for (const status of containerStatuses(pod)) {
        const waiting = status.state?.waiting;
        const terminated = status.state?.terminated;
        const reason = waiting?.reason ?? (terminated && terminated.exitCode !== 0 ? terminated.reason : undefined);
        if (!reason || !(PULL_ERROR_REASONS.includes(reason) || START_ERROR_REASONS.includes(reason))) continue;
        // A back-off says only that it waits; the runtime's own words are in the last termination.
        const last = status.lastState?.terminated;
        const message =
            reason === "CrashLoopBackOff" && last?.message
                ? `${last.reason ?? "terminated"}: ${last.message}`
                : (waiting?.message ?? terminated?.message ?? last?.message ?? "(no message from the kubelet)");
        problems.push({
            node,
            image: specImage(pod, status),
            container: status.name,
            reason,
            message,
            permanent: PERMANENT_REASONS.includes(reason),
        });
    }
    return problems;
}

function containerStatuses(pod: Pod): Wire<V1ContainerStatus>[] {
    return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

/** The image as our pod spec names it (runtimes may rewrite `status.image`). */
function specImage(pod: Pod, status: Wire<V1ContainerStatus>): string {
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    return containers.find((c) => c.name === status.name)?.image ?? status.image ?? "";
}

/** A stable key for a problem, to track how long it has persisted. */
export function problemKey(problem: ContainerProblem): string {
    return `${problem.node}\u0000${problem.container}\u0000${problem.image}`;
}

/** The kubelet's MaxNamesPerImageInNodeStatus: each status.images entry lists at most this many names. */
export const KUBELET_MAX_NAMES_PER_IMAGE = 5;
/** The kubelet refreshes the image list it reports every 30 s (and writes node status every 10 s). */
export const KUBELET_IMAGE_LIST_REFRESH_SECONDS = 30;

/**
 * Why a node's status.images, lacking `wanted`, does not prove the image is absent, or undefined
 * when it does. The kubelet reports at most `maxReportedImages` images (largest first) and at most
 * 5 names per image (RepoDigests first, then RepoTags), from an image list it refreshes every 30 s:
 * - a node listing the maximum may hold more than it shows, unless the wanted image is larger
 *   than the smallest image it lists (`wantedSizeBytes`: the list is the largest images, so the
 *   wanted one would be on it); `maxReportedImages` of -1 is a kubelet without a cap;
 * - an entry showing the maximum of names for the wanted repository may hide the wanted tag;
 * - a node that pulled the image at `pulledAt` has not shown its new list until it writes
 *   status after the next refresh (its Ready condition's heartbeat says when it last wrote).
 */
export function unprovenAbsence(
    node: Node,
    wanted: ImageReference,
    options: { maxReportedImages: number; pulledAt?: number; wantedSizeBytes?: number },
): "list-full" | "names-cut" | "not-reported-yet" | undefined {
    const entries = node.status?.images ?? [];
    if (options.maxReportedImages >= 0 && entries.length >= options.maxReportedImages) {
        const sizes = entries.map((e) => e.sizeBytes);
        const smallest = sizes.every((s) => typeof s === "number") ? Math.min(...(sizes as number[])) : undefined;
        const wouldBeListed =
            options.wantedSizeBytes !== undefined && smallest !== undefined && options.wantedSizeBytes > smallest;
        if (!wouldBeListed) return "list-full";
    }
    for (const entry of entries) {
        const names = entry.names ?? [];
        if (names.length < KUBELET_MAX_NAMES_PER_IMAGE) continue;
        const sameRepository = names.some((name) => {
            const parsed = tryParseImageReference(name);
            return parsed !== undefined && parsed.domain === wanted.domain && parsed.path === wanted.path;
        });
        if (sameRepository) return "names-cut";
    }
    if (options.pulledAt !== undefined) {
        const ready = (node.status?.conditions ?? []).find((c) => c.type === "Ready") as
            { lastHeartbeatTime?: string | Date } | undefined;
        const lastWrite = ready?.lastHeartbeatTime ? new Date(ready.lastHeartbeatTime).getTime() : 0;
        if (!(lastWrite >= options.pulledAt + KUBELET_IMAGE_LIST_REFRESH_SECONDS * 1000)) return "not-reported-yet";
    }
    return undefined;
}
