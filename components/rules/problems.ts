/**
 * Why pre-pull pods do not appear or do not start, from what the API says, and what to change:
 * the DaemonSet controller's Warning events (FailedCreate: a missing PriorityClass, a
 * ResourceQuota, Pod Security, an admission webhook), pods the scheduler cannot place
 * (PodScheduled=False, Unschedulable: a full node), and hints for pull errors (a platform the
 * image lacks, a registry's rate limit). Pure functions over projected objects.
 */
import type { Event, Pod } from "./wire";
import { HELPER_CONTAINER } from "./daemonset";
import { ARCH_LABEL, OS_LABEL } from "./eligibility";
import type { ContainerProblem } from "./presence";

export interface PodProblem {
    /** The node concerned, or undefined for the DaemonSet as a whole. */
    node?: string;
    reason: string;
    message: string;
}

/** Warning reasons the kubelet records on a pod that cannot start at all (no container status says so). */
const POD_EVENT_REASONS: readonly string[] = ["FailedCreatePodSandBox", "FailedMount", "FailedAttachVolume"];
/** Waiting reasons the kubelet gives every container of a pod it has not yet got to. */
const NOT_STARTED_REASONS: readonly string[] = ["PodInitializing", "ContainerCreating"];

/**
 * Whether the kubelet got past the stage those events are about: the pod's sandbox exists
 * (PodReadyToStartContainers=True, which the kubelet sets once volumes are mounted and the runtime
 * created the sandbox), or some container ran, or is held up further on (a pull error). A sandbox
 * or mount warning of such a pod is history: the kubelet retried and moved on.
 */
export function pastSandbox(pod: Pod): boolean {
    const ready = (pod.status?.conditions ?? []).find((c) => c.type === "PodReadyToStartContainers");
    if (ready?.status === "True") return true;
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    return statuses.some(
        (s) =>
            s.state?.running !== undefined ||
            s.state?.terminated !== undefined ||
            s.lastState?.terminated !== undefined ||
            (s.state?.waiting?.reason !== undefined && !NOT_STARTED_REASONS.includes(s.state.waiting.reason)),
    );
}

/**
 * Our pods the kubelet cannot start, from its Warning events: a sandbox it cannot create (the
 * runtime or the network plugin fails), a volume it cannot mount. The newest message per pod,
 * and only while the pod is still stuck there (see pastSandbox): the events live for an hour.
 */
export function podEventProblems(events: readonly Event[], pods: readonly Pod[]): PodProblem[] {
    if (events.length === 0) return [];
    const byUid: Record<string, Pod> = {};
    for (const pod of pods) if (pod.metadata?.uid && !pastSandbox(pod)) byUid[pod.metadata.uid] = pod;
    const newest: Record<string, Event> = {};
    for (const event of events) {
        const uid = event.involvedObject?.uid;
        if (!uid || !byUid[uid] || event.type !== "Warning" || !POD_EVENT_REASONS.includes(event.reason ?? ""))
            continue;
        if (!newest[uid] || eventTime(event) >= eventTime(newest[uid]!)) newest[uid] = event;
    }
    return Object.entries(newest).map(([uid, event]) => ({
        node: targetNode(byUid[uid]!),
        reason: event.reason!,
        message: event.message ?? "",
    }));
}

/** The node a DaemonSet pod is pinned to: its required node affinity's `metadata.name` field. */
export function targetNode(pod: Pod): string | undefined {
    if (pod.spec?.nodeName) return pod.spec.nodeName;
    const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    for (const term of terms ?? []) {
        for (const field of term.matchFields ?? []) {
            if (field.key === "metadata.name" && field.operator === "In" && field.values?.length === 1) {
                return field.values[0];
            }
        }
    }
    return undefined;
}

/**
 * The DaemonSet controller could not create pods: its FailedCreate Warning events, newest message
 * first, one entry per distinct message. Only events about `daemonSetUid` count, and of those only
 * the ones `current` accepts (the wait loop: those written recently).
 */
export function creationProblems(
    events: readonly Event[],
    daemonSetUid: string,
    current: (event: Event) => boolean = () => true,
): PodProblem[] {
    const relevant = events
        .filter(
            (e) =>
                e.involvedObject?.uid === daemonSetUid &&
                e.type === "Warning" &&
                e.reason === "FailedCreate" &&
                current(e),
        )
        .sort((a, b) => eventTime(b) - eventTime(a));
    const seen: string[] = [];
    const problems: PodProblem[] = [];
    for (const event of relevant) {
        const message = (event.message ?? "").replace(/^Error creating: /, "");
        const key = message.replace(/pods "[^"]*"/g, "pods");
        if (seen.includes(key)) continue;
        seen.push(key);
        problems.push({ reason: "FailedCreate", message: `${message}${hintFor(message)}` });
    }
    return problems;
}

function eventTime(event: Event): number {
    const t = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp;
    return t === undefined ? 0 : new Date(t).getTime();
}

/**
 * Pods the scheduler cannot place, by node. A DaemonSet pod is pinned to one node, so the
 * scheduler counts every other node as not matching its affinity: only the other reasons concern
 * the pod's own node ("Too many pods", "Insufficient cpu", an untolerated taint).
 */
export function unschedulablePods(pods: readonly Pod[]): PodProblem[] {
    const problems: PodProblem[] = [];
    for (const pod of pods) {
        if (pod.spec?.nodeName || pod.metadata?.deletionTimestamp) continue;
        const scheduled = (pod.status?.conditions ?? []).find((c) => c.type === "PodScheduled");
        if (scheduled?.status !== "False" || scheduled.reason !== "Unschedulable") continue;
        const reasons = schedulerReasons(scheduled.message ?? "");
        const text = reasons.length > 0 ? reasons.join(", ") : (scheduled.message ?? "unschedulable");
        problems.push({ node: targetNode(pod), reason: "Unschedulable", message: `${text}${hintFor(text)}` });
    }
    return problems;
}

/** "0/5 nodes are available: 1 Too many pods, 4 node(s) didn't match ... . preemption: ..." -> ["Too many pods"]. */
export function schedulerReasons(message: string): string[] {
    const match = /nodes are available: (.*?)(?:\. preemption:|\.$|$)/.exec(message);
    if (!match) return [];
    return match[1]!
        .split(/, (?=\d+ )/)
        .map((part) => part.replace(/^\d+ /, "").trim())
        .filter((part) => part !== "" && !/didn't match Pod's node affinity\/selector/.test(part));
}

/** What to change, for the causes people meet. */
function hintFor(message: string): string {
    if (/no PriorityClass with name/.test(message)) {
        return " (create that PriorityClass, or set priorityClassName to an existing one)";
    }
    if (/exceeded quota/.test(message)) {
        return " (raise the namespace's ResourceQuota, or pre-pull in another namespace)";
    }
    if (/violates PodSecurity/.test(message)) {
        return " (the namespace's Pod Security level rejects the pre-pull pods; a daemonSetPatch may have loosened their security context)";
    }
    if (/admission webhook .* denied/.test(message)) {
        return " (an admission webhook rejects the pre-pull pods; allow them in its policy)";
    }
    if (/Too many pods/.test(message)) {
        return " (the node already runs its maximum number of pods; free a slot or raise the kubelet's maxPods; with parallelPulls, each node takes that many pre-pull pods)";
    }
    if (/Insufficient (cpu|memory|ephemeral-storage)/.test(message)) {
        return " (the node has no room for the pre-pull pod's requests; free room, or lower them with daemonSetPatch)";
    }
    if (/untolerated taint/.test(message)) {
        return " (add a toleration for that taint, or exclude the node with nodeSelector or affinity)";
    }
    return "";
}

/** A registry refusing pulls for a while (Docker Hub's anonymous limit: HTTP 429, toomanyrequests). */
export function isRateLimit(message: string): boolean {
    return /toomanyrequests|429 Too Many Requests/i.test(message);
}

/**
 * What to change for a pull or start error of a pull container, from its message and the labels
 * of its node: an image without a variant for the node's platform, a registry's rate limit.
 */
export function containerHint(
    problem: Pick<ContainerProblem, "message" | "container">,
    labels: Record<string, string> | undefined,
): string {
    return (
        platformHint(problem.message, labels) + (isRateLimit(problem.message) ? rateLimitHint(problem.container) : "")
    );
}

function rateLimitHint(container: string): string {
    const change =
        container === HELPER_CONTAINER
            ? "point helperImage at a mirror or a registry without an anonymous limit (registry.k8s.io, your own)"
            : "pull the image through a mirror, or give the nodes credentials for the registry (imagePullSecrets)";
    return ` (the registry's pull rate limit: waiting for it to lift, until timeoutSeconds; ${change})`;
}

/** An image without a variant for the node's platform (containerd: "no match for platform in manifest"). */
function platformHint(message: string, labels: Record<string, string> | undefined): string {
    if (!/no match(ing manifest)? for platform|no matching manifest for/i.test(message)) return "";
    const os = labels?.[OS_LABEL] ?? "?";
    const arch = labels?.[ARCH_LABEL] ?? "?";
    return ` (the image has no variant for this node's platform, ${OS_LABEL}=${os}, ${ARCH_LABEL}=${arch}: keep such nodes out with nodeSelector or affinity on ${ARCH_LABEL}, or pre-pull a multi-platform image)`;
}
