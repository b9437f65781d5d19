/**
 * Where the pre-pull DaemonSet may run, as node affinity: the batch of `maxParallelNodes` (which
 * nodes may pull now, and the terms that confine the DaemonSet to them), the nodes it is kept off
 * (`excludeNodes`) and a label every node must have (`requireLabel`: Linux only). Pure functions;
 * run/pullers.ts' Placement applies them as nodes change.
 */
import type { V1Affinity, V1NodeSelectorRequirement, V1NodeSelectorTerm } from "@kubernetes/client-node" with {
    "resolution-mode": "import",
};

/**
 * The nodes that may pull next: the current batch's nodes that still miss images (never
 * interrupted), topped up with other missing nodes in name order, at most `maxParallelNodes`.
 */
export function nextBatch(
    current: readonly string[],
    missingNodes: readonly string[],
    maxParallelNodes: number,
): string[] {
    const stillPulling = current.filter((node) => missingNodes.includes(node));
    const waiting = [...missingNodes].filter((node) => !stillPulling.includes(node)).sort();
    return [...stillPulling, ...waiting].slice(0, Math.max(stillPulling.length, maxParallelNodes));
}

const NODE_NAME_FIELD = "metadata.name";

/**
 * `affinity` with every required term also demanding that the node is none of `nodeNames`
 * (one NotIn field requirement per node: a field requirement takes exactly one value, and the
 * requirements of a term are ANDed). Without required terms there is one term of just those.
 * Empty user terms match nothing and stay as they are. Preferred terms are kept.
 */
export function excludeNodes(affinity: V1Affinity | undefined, nodeNames: readonly string[]): V1Affinity | undefined {
    if (nodeNames.length === 0) return affinity;
    const notIn = nodeNames.map((node) => ({ key: NODE_NAME_FIELD, operator: "NotIn", values: [node] }));
    return withEveryTerm(affinity, (term) => ({ ...term, matchFields: [...(term.matchFields ?? []), ...notIn] }));
}

/**
 * `affinity` whose required terms also demand `requirement` of the node's labels (a term of just
 * that when there are none). Empty user terms match nothing and stay as they are.
 */
export function requireLabel(affinity: V1Affinity | undefined, requirement: V1NodeSelectorRequirement): V1Affinity {
    return withEveryTerm(affinity, (term) => ({
        ...term,
        matchExpressions: [...(term.matchExpressions ?? []), requirement],
    }))!;
}

function withEveryTerm(
    affinity: V1Affinity | undefined,
    change: (term: V1NodeSelectorTerm) => V1NodeSelectorTerm,
): V1Affinity {
    const nodeAffinity = affinity?.nodeAffinity ?? {};
    const userTerms = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    const terms = (userTerms ?? [{}]).map((term) => {
        const empty = (term.matchExpressions ?? []).length === 0 && (term.matchFields ?? []).length === 0;
        return empty && userTerms !== undefined ? term : change(term);
    });
    return {
        ...affinity,
        nodeAffinity: { ...nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
    };
}

/**
 * `affinity` with its required node affinity also demanding that the node is one of `nodeNames`.
 * Terms are ORed and a field requirement takes exactly one value, so every user term is
 * repeated once per node with that node's name ANDed in; without user terms there is one term
 * per node. Empty user terms match nothing and stay as they are. Preferred terms are kept.
 */
export function restrictToNodes(affinity: V1Affinity | undefined, nodeNames: readonly string[]): V1Affinity {
    const nodeAffinity = affinity?.nodeAffinity ?? {};
    const userTerms = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    const terms: V1NodeSelectorTerm[] = [];
    for (const term of userTerms ?? [{}]) {
        const empty = (term.matchExpressions ?? []).length === 0 && (term.matchFields ?? []).length === 0;
        if (empty && userTerms !== undefined) {
            terms.push(term);
            continue;
        }
        for (const node of nodeNames) {
            const restricted: V1NodeSelectorTerm = {
                matchFields: [...(term.matchFields ?? []), { key: NODE_NAME_FIELD, operator: "In", values: [node] }],
            };
            if (term.matchExpressions && term.matchExpressions.length > 0) {
                restricted.matchExpressions = term.matchExpressions;
            }
            terms.push(restricted);
        }
    }
    return {
        ...affinity,
        nodeAffinity: { ...nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
    };
}
