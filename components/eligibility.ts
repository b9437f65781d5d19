/**
 * Which nodes a user pod could be scheduled to, decided the way the scheduler's filters
 * decide it: NodeUnschedulable, NodeReady, TaintToleration, NodeAffinity (nodeSelector and
 * the required node affinity). Preferences (PreferNoSchedule, preferred affinity) never exclude.
 */
import type { Affinity, Node, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration } from "./kubernetes-types";

export interface SchedulingConstraints {
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
    affinity?: Affinity;
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
    if (required && !required.nodeSelectorTerms.some((term) => termMatches(term, node))) {
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
    const operator = toleration.operator || "Equal";
    if (!toleration.key) {
        // An empty key with Exists tolerates everything; with Equal it is invalid and matches nothing.
        return operator === "Exists";
    }
    if (toleration.key !== taint.key) {
        return false;
    }
    if (operator === "Exists") {
        return true;
    }
    return operator === "Equal" && (toleration.value ?? "") === (taint.value ?? "");
}

/** A term matches when all its expressions and fields match; an empty term matches nothing. */
function termMatches(term: NodeSelectorTerm, node: Node): boolean {
    const expressions = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (expressions.length === 0 && fields.length === 0) {
        return false;
    }
    const labels = node.metadata?.labels ?? {};
    const nodeFields: Record<string, string> = { "metadata.name": node.metadata?.name ?? "" };
    return (
        expressions.every((r) => requirementMatches(r, labels)) &&
        fields.every((r) => requirementMatches(r, nodeFields))
    );
}

function requirementMatches(requirement: NodeSelectorRequirement, values: Record<string, string>): boolean {
    const has = Object.prototype.hasOwnProperty.call(values, requirement.key);
    const actual = values[requirement.key];
    const wanted = requirement.values ?? [];
    switch (requirement.operator) {
        case "In":
            return has && wanted.includes(actual as string);
        case "NotIn":
            return !has || !wanted.includes(actual as string);
        case "Exists":
            return has;
        case "DoesNotExist":
            return !has;
        case "Gt":
        case "Lt": {
            if (!has || wanted.length !== 1) return false;
            const left = parseStrictInteger(actual as string);
            const right = parseStrictInteger(wanted[0] as string);
            if (left === undefined || right === undefined) return false;
            return requirement.operator === "Gt" ? left > right : left < right;
        }
        default:
            return false;
    }
}

function parseStrictInteger(text: string): number | undefined {
    return /^-?\d+$/.test(text) ? Number(text) : undefined;
}
