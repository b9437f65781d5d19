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

export function evaluatePresence(
    nodes: readonly Node[],
    pods: readonly Pod[],
    images: readonly ImageReference[],
    constraints: SchedulingConstraints,
): PresenceReport {
    const podsByNode = new Map<string, Pod[]>();
    for (const pod of pods) {
        const name = pod.spec?.nodeName;
        if (!name) continue;
        const list = podsByNode.get(name) ?? [];
        list.push(pod);
        podsByNode.set(name, list);
    }

    const eligibleNodes: string[] = [];
    const missing: Record<string, string[]> = {};
    const problems: ContainerProblem[] = [];
    for (const node of nodes) {
        if (!isEligible(node, constraints)) continue;
        const name = nodeName(node);
        eligibleNodes.push(name);
        const onNode = reportedImages(node);
        const nodePods = podsByNode.get(name) ?? [];
        const pulledByPods = nodePods.flatMap((pod) => imagesStartedInPod(pod));
        const stillMissing = images.filter(
            (wanted) =>
                !onNode.some((r) => referenceSatisfies(r, wanted)) &&
                !pulledByPods.some((r) => referenceSatisfies(r, wanted)),
        );
        if (stillMissing.length > 0) {
            missing[name] = stillMissing.map((i) => i.normalized);
            for (const pod of nodePods) problems.push(...podProblems(pod, name));
        }
    }
    eligibleNodes.sort();
    return { eligibleNodes, missing, problems };
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
