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

export type IneligibleReason = "cordoned" | "not-ready" | "untolerated-taint" | "node-selector" | "node-affinity";

/** Why a node is not eligible, or undefined when it is. */
export function ineligibilityReason(node: Node, constraints: SchedulingConstraints): IneligibleReason | undefined {
    const tolerations = constraints.tolerations ?? [];
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
