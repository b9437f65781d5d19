/**
 * Which nodes a user pod could be scheduled to, decided the way the scheduler's filters
 * decide it: NodeUnschedulable, NodeReady, TaintToleration, NodeAffinity (nodeSelector and
 * the required node affinity). Preferences (PreferNoSchedule, preferred affinity) never exclude.
 */
import type {
    V1Affinity as Affinity,
    V1NodeSelectorRequirement as NodeSelectorRequirement,
    V1NodeSelectorTerm as NodeSelectorTerm,
    V1Toleration as Toleration,
} from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Node, Taint } from "./wire";
import { labelKeyProblem, labelValueProblem, parseInt64 } from "./kubernetes-validation";

export interface SchedulingConstraints {
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
    affinity?: Affinity;
}

/** The scheduling constraints of a pre-pull's inputs. */
export function constraintsOf(inputs: SchedulingConstraints): SchedulingConstraints {
    return { nodeSelector: inputs.nodeSelector, tolerations: inputs.tolerations, affinity: inputs.affinity };
}

/** The taint the control plane puts on cordoned nodes; tolerating it lets a pod onto them. */
const UNSCHEDULABLE_TAINT: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };

export type IneligibleReason =
    "windows" | "cordoned" | "not-ready" | "untolerated-taint" | "node-selector" | "node-affinity";

/** The node label the kubelet sets to its OS; the pull containers run Linux binaries. */
export const OS_LABEL = "kubernetes.io/os";
/** The node label the kubelet sets to its CPU architecture. */
export const ARCH_LABEL = "kubernetes.io/arch";

/**
 * Taints the DaemonSet controller tolerates on every pod it makes (pkg/controller/daemon/util):
 * a DaemonSet runs on cordoned, not-ready, unreachable and pressured nodes, where no user pod
 * would be scheduled. Nodes tainted only so must be kept out of the pre-pull DaemonSet by name.
 */
const DAEMONSET_TOLERATED_TAINT_PREFIX = "node.kubernetes.io/";

/** Why a node is not eligible, or undefined when it is. */
export function ineligibilityReason(node: Node, constraints: SchedulingConstraints): IneligibleReason | undefined {
    const tolerations = constraints.tolerations ?? [];
    if (node.metadata?.labels?.[OS_LABEL] === "windows") {
        return "windows";
    }
    if (node.spec?.unschedulable && !tolerations.some((t) => toleratesTaint(t, UNSCHEDULABLE_TAINT))) {
        return "cordoned";
    }
    if (!isReady(node)) {
        return "not-ready";
    }
    const blocking = (node.spec?.taints ?? []).filter((t) => t.effect === "NoSchedule" || t.effect === "NoExecute");
    if (!blocking.every((taint) => tolerations.some((t) => toleratesTaint(t, taint)))) {
        return "untolerated-taint";
    }
    return selectionMismatch(node, constraints);
}

/** Whether nodeSelector and the required node affinity select `node` (as the DaemonSet's own do). */
function selectionMismatch(
    node: Node,
    constraints: SchedulingConstraints,
): "node-selector" | "node-affinity" | undefined {
    const labels = node.metadata?.labels ?? {};
    for (const [key, value] of Object.entries(constraints.nodeSelector ?? {})) {
        if (labels[key] !== value) {
            return "node-selector";
        }
    }
    const required = constraints.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (required && !(required.nodeSelectorTerms ?? []).some((term) => termMatches(term, node))) {
        return "node-affinity";
    }
    return undefined;
}

/**
 * Nodes the DaemonSet controller would run a pre-pull pod on although they are not eligible:
 * selected by nodeSelector and affinity, but cordoned, not ready, or tainted only with taints the
 * controller tolerates by itself. The pre-pull DaemonSet names them in a NotIn affinity, so that
 * it pulls only where the pre-pull waits. Sorted.
 */
export function nodesToKeepOut(nodes: readonly Node[], constraints: SchedulingConstraints): string[] {
    const tolerations = constraints.tolerations ?? [];
    const out: string[] = [];
    for (const node of nodes) {
        const reason = ineligibilityReason(node, constraints);
        if (reason === undefined || reason === "windows" || selectionMismatch(node, constraints)) continue;
        if (reason === "untolerated-taint") {
            const untolerated = (node.spec?.taints ?? []).filter(
                (taint) =>
                    (taint.effect === "NoSchedule" || taint.effect === "NoExecute") &&
                    !tolerations.some((t) => toleratesTaint(t, taint)),
            );
            // Another untolerated taint keeps the DaemonSet's pod off the node by itself.
            if (!untolerated.every((taint) => taint.key.startsWith(DAEMONSET_TOLERATED_TAINT_PREFIX))) continue;
        }
        const name = node.metadata?.name;
        if (name) out.push(name);
    }
    return out.sort();
}

/**
 * The label selector of the nodes `nodeSelector` selects (`k=v,...`), for lists and watches of
 * nodes; undefined without one. Every eligible node matches it.
 */
export function nodeLabelSelector(constraints: SchedulingConstraints): string | undefined {
    const entries = Object.entries(constraints.nodeSelector ?? {});
    return entries.length === 0 ? undefined : entries.map(([key, value]) => `${key}=${value}`).join(",");
}

export function isEligible(node: Node, constraints: SchedulingConstraints): boolean {
    return ineligibilityReason(node, constraints) === undefined;
}

export function isReady(node: Node): boolean {
    return (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** Kubernetes' Toleration.ToleratesTaint. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
    if (toleration.effect && toleration.effect !== taint.effect) {
        return false;
    }
    // An empty key matches every key; the API only lets it through with Exists.
    if (toleration.key && toleration.key !== taint.key) {
        return false;
    }
    switch (toleration.operator || "Equal") {
        case "Equal":
            return (toleration.value ?? "") === (taint.value ?? "");
        case "Exists":
            return true;
        default:
            return false;
    }
}

/**
 * A term matches when all its expressions and fields match; an empty term matches nothing, and so
 * does a term the scheduler cannot parse (it then tries the other terms).
 */
function termMatches(term: NodeSelectorTerm, node: Node): boolean {
    const expressions = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (expressions.length === 0 && fields.length === 0) {
        return false;
    }
    if (!expressions.every(isParsableExpression) || !fields.every(isParsableFieldRequirement)) {
        return false;
    }
    const labels = node.metadata?.labels ?? {};
    if (!expressions.every((r) => expressionMatches(r, labels))) {
        return false;
    }
    // The scheduler knows one node field, metadata.name, and skips field requirements for a node without one.
    const name = node.metadata?.name;
    return !name || fields.every((r) => fieldMatches(r, { "metadata.name": name }));
}

/** What the scheduler's label selector accepts (labels.NewRequirement). */
function isParsableExpression(requirement: NodeSelectorRequirement): boolean {
    const values = requirement.values ?? [];
    if (labelKeyProblem(requirement.key) !== undefined) return false;
    if (!values.every((v) => labelValueProblem(v) === undefined)) return false;
    switch (requirement.operator) {
        case "In":
        case "NotIn":
            return values.length > 0;
        case "Exists":
        case "DoesNotExist":
            return values.length === 0;
        case "Gt":
        case "Lt":
            return values.length === 1 && parseInt64(values[0] as string) !== undefined;
        default:
            return false;
    }
}

/** What the scheduler's field selector accepts: In or NotIn with exactly one value. */
function isParsableFieldRequirement(requirement: NodeSelectorRequirement): boolean {
    return (requirement.operator === "In" || requirement.operator === "NotIn") && requirement.values?.length === 1;
}

function expressionMatches(requirement: NodeSelectorRequirement, labels: Record<string, string>): boolean {
    const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
    const actual = labels[requirement.key] as string;
    const wanted = requirement.values ?? [];
    switch (requirement.operator) {
        case "In":
            return has && wanted.includes(actual);
        case "NotIn":
            return !has || !wanted.includes(actual);
        case "Exists":
            return has;
        case "DoesNotExist":
            return !has;
        case "Gt":
        case "Lt": {
            const left = has ? parseInt64(actual) : undefined;
            const right = parseInt64(wanted[0] as string);
            if (left === undefined || right === undefined) return false;
            return requirement.operator === "Gt" ? left > right : left < right;
        }
        default:
            return false;
    }
}

function fieldMatches(requirement: NodeSelectorRequirement, fields: Record<string, string>): boolean {
    const actual = Object.prototype.hasOwnProperty.call(fields, requirement.key) ? fields[requirement.key] : "";
    const equal = actual === requirement.values?.[0];
    return requirement.operator === "In" ? equal : !equal;
}
