/**
 * The one way in for data: the provider's `check` validates raw inputs offline and turns them
 * into `PrePullInputs`, the normalized shape everything after works on. Here the contract (the
 * inputs, their defaults, which of them mean a re-pull) and `normalizeInputs`; the fields are read
 * by ./input-fields and ./scheduling-fields.
 */
import {
    type CheckFailure,
    collector,
    isUnknown,
    normalizeContinuous,
    normalizeFlag,
    normalizeImages,
    normalizeMaxParallelNodes,
    normalizeParallelPulls,
    normalizeNodeStatusMaxImages,
    normalizeNamespace,
    normalizeOwnerId,
    normalizePatch,
    normalizePullSecrets,
    normalizeSeconds,
    normalizeSingleImage,
    normalizeUnschedulableNodes,
    optionalName,
    optionalString,
} from "./input-fields";
import type { Affinity, Toleration } from "./public-types";
import { normalizeAffinity, normalizeNodeSelector, normalizeTolerations } from "./scheduling-fields";

// Still exported from here, as before the split: ../inputs.ts re-exports this module for state
// written by 0.1.0.
export { type CheckFailure, isUnknown, UNKNOWN_VALUE } from "./input-fields";
export {
    isDns1123Label,
    isDns1123Subdomain,
    labelKeyProblem,
    labelValueProblem,
    parseInt64,
} from "./kubernetes-validation";

export const DEFAULT_NAMESPACE = "default";
export const DEFAULT_POLL_INTERVAL_SECONDS = 2;
export const DEFAULT_TIMEOUT_SECONDS = 600;
export const DEFAULT_HELPER_IMAGE = "docker.io/library/busybox:1.37.0";
export const DEFAULT_PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

export interface PrePullInputs {
    /** Normalized, de-duplicated image references, in the order first given. */
    images: string[];
    namespace: string;
    nodeSelector: Record<string, string>;
    tolerations: Toleration[];
    affinity?: Affinity;
    imagePullSecrets: string[];
    priorityClassName?: string;
    pollIntervalSeconds: number;
    timeoutSeconds: number;
    /** Kubeconfig contents or a path to one; absent: the ambient kubeconfig or in-cluster config. */
    kubeconfig?: string;
    context?: string;
    helperImage: string;
    pauseImage: string;
    daemonSetPatch?: Record<string, unknown>;
    /** Keep a long-lived DaemonSet so that nodes joining later pull the images too. Absent: false. */
    continuous?: boolean;
    /** At most this many nodes pull at once; absent: all eligible nodes at once. */
    maxParallelNodes?: number;
    /**
     * The blocking pre-pull spreads each node's images over this many pods (one DaemonSet each),
     * so that a kubelet with `serializeImagePulls: false` pulls them at once. Absent: 1.
     */
    parallelPulls?: number;
    /**
     * A node whose pre-pull pod the scheduler cannot place (full, no room, an untolerated taint)
     * for the problem tolerance: "skip" leaves it out, named, and goes on; "fail" fails the run.
     * Absent: "skip".
     */
    unschedulableNodes?: "skip" | "fail";
    /**
     * On delete, a cluster that cannot be reached (gone, or its credentials no longer accepted)
     * removes the resource from state instead of failing, as @pulumi/kubernetes'
     * `deleteUnreachable` does. Absent: false (also set by PULUMI_K8S_DELETE_UNREACHABLE=true).
     */
    deleteUnreachable?: boolean;
    /**
     * The kubelets' --node-status-max-images (-1: no cap), for refresh: a node listing that many
     * images may hold more than it shows. Absent: the kubelet's default, 50.
     */
    nodeStatusMaxImages?: number;
    /** Names the DaemonSet and labels everything this resource creates. Stable for its lifetime. */
    ownerId: string;
    /**
     * Which cluster `kubeconfig` and `context` point at (a hash of the server and its CA, set by
     * `check`, no credential in it). Another cluster has other nodes: a change re-pulls, while a
     * rotated token alone does not. Absent for the ambient kubeconfig and in state before 0.2.
     */
    clusterIdentity?: string;
}

/** Inputs whose change means the images must be pulled again (on possibly other nodes). */
export const PULL_PROPERTIES = [
    "images",
    "namespace",
    "nodeSelector",
    "tolerations",
    "affinity",
    "imagePullSecrets",
    "priorityClassName",
    "helperImage",
    "pauseImage",
    "daemonSetPatch",
] as const;
/**
 * Inputs that change how we connect, wait, own the objects or keep nodes supplied later
 * (`continuous`), but not what must be on the nodes now: changing only these never re-pulls.
 */
export const OPERATIONAL_PROPERTIES = [
    "pollIntervalSeconds",
    "timeoutSeconds",
    "kubeconfig",
    "context",
    "ownerId",
    "continuous",
    "maxParallelNodes",
    "parallelPulls",
    "unschedulableNodes",
    "deleteUnreachable",
    "nodeStatusMaxImages",
] as const;
/** Properties a user may set; anything else is a typo we reject rather than ignore. */
export const INPUT_PROPERTIES: readonly string[] = [...PULL_PROPERTIES, ...OPERATIONAL_PROPERTIES];
/** Properties the engine or earlier versions put into stored inputs. */
const IGNORED_PROPERTIES: readonly string[] = ["__provider"];

export interface NormalizeResult {
    inputs: PrePullInputs;
    failures: CheckFailure[];
}

/**
 * Validates and normalizes raw inputs. `olds` are the previously checked inputs, if any: the
 * owner id is kept from them so a resource keeps its DaemonSet name for its whole life.
 * `makeOwnerId` is called only for a new resource without one.
 */
export function normalizeInputs(
    news: Record<string, unknown>,
    olds: Record<string, unknown> | undefined,
    makeOwnerId: () => string,
): NormalizeResult {
    const errors = collector();
    for (const key of Object.keys(news)) {
        if (!INPUT_PROPERTIES.includes(key) && !IGNORED_PROPERTIES.includes(key)) {
            errors.fail(key, `unknown property "${key}"; allowed: ${INPUT_PROPERTIES.join(", ")}`);
        }
    }

    const inputs: PrePullInputs = {
        images: normalizeImages(news.images, errors),
        namespace: normalizeNamespace(news.namespace, DEFAULT_NAMESPACE, errors),
        nodeSelector: normalizeNodeSelector(news.nodeSelector, errors),
        tolerations: normalizeTolerations(news.tolerations, errors),
        imagePullSecrets: normalizePullSecrets(news.imagePullSecrets, errors),
        pollIntervalSeconds: normalizeSeconds(
            news.pollIntervalSeconds,
            "pollIntervalSeconds",
            DEFAULT_POLL_INTERVAL_SECONDS,
            errors,
        ),
        timeoutSeconds: normalizeSeconds(news.timeoutSeconds, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS, errors),
        helperImage: normalizeSingleImage(news.helperImage, "helperImage", DEFAULT_HELPER_IMAGE, errors),
        pauseImage: normalizeSingleImage(news.pauseImage, "pauseImage", DEFAULT_PAUSE_IMAGE, errors),
        ownerId: normalizeOwnerId(news.ownerId, olds?.ownerId, makeOwnerId, errors),
    };
    const affinity = normalizeAffinity(news.affinity, errors);
    if (affinity !== undefined) inputs.affinity = affinity;
    const priorityClassName = optionalName(news.priorityClassName, "priorityClassName", errors);
    if (priorityClassName !== undefined) inputs.priorityClassName = priorityClassName;
    const kubeconfig = optionalString(news.kubeconfig, "kubeconfig", errors);
    if (kubeconfig !== undefined) inputs.kubeconfig = kubeconfig;
    const context = optionalString(news.context, "context", errors);
    if (context !== undefined) inputs.context = context;
    const patch = normalizePatch(news.daemonSetPatch, errors);
    if (patch !== undefined) inputs.daemonSetPatch = patch;
    // Defaults are left out, so that state written before these inputs existed compares equal.
    const continuous = normalizeContinuous(news.continuous, errors);
    if (continuous !== false) inputs.continuous = continuous;
    const maxParallelNodes = normalizeMaxParallelNodes(news.maxParallelNodes, errors);
    if (maxParallelNodes !== undefined) inputs.maxParallelNodes = maxParallelNodes;
    const parallelPulls = normalizeParallelPulls(news.parallelPulls, errors);
    if (parallelPulls !== undefined && parallelPulls !== 1) inputs.parallelPulls = parallelPulls;
    const unschedulableNodes = normalizeUnschedulableNodes(news.unschedulableNodes, errors);
    if (unschedulableNodes !== undefined && unschedulableNodes !== "skip")
        inputs.unschedulableNodes = unschedulableNodes;
    const deleteUnreachable = normalizeFlag(news.deleteUnreachable, "deleteUnreachable", errors);
    if (deleteUnreachable !== false) inputs.deleteUnreachable = deleteUnreachable;
    const nodeStatusMaxImages = normalizeNodeStatusMaxImages(news.nodeStatusMaxImages, errors);
    if (nodeStatusMaxImages !== undefined) inputs.nodeStatusMaxImages = nodeStatusMaxImages;

    if (
        !isUnknown(inputs.pollIntervalSeconds) &&
        !isUnknown(inputs.timeoutSeconds) &&
        inputs.timeoutSeconds < inputs.pollIntervalSeconds &&
        !errors.failures.some((f) => f.property === "timeoutSeconds" || f.property === "pollIntervalSeconds")
    ) {
        errors.fail(
            "timeoutSeconds",
            `${inputs.timeoutSeconds} is shorter than pollIntervalSeconds (${inputs.pollIntervalSeconds}); the timeout must be at least one poll interval`,
        );
    }
    return { inputs, failures: errors.failures };
}
