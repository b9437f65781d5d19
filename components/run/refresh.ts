/**
 * `pulumi refresh`: which eligible nodes the kubelets' reports prove to miss images, read with
 * one paged list of Nodes and nothing left running.
 */
import { ClusterClient } from "../cluster/client";
import type { PrePullInputs } from "../rules/inputs";
import type { Node } from "../rules/wire";
import { evaluatePresence, unprovenAbsence } from "../rules/presence";
import { parseImageReference } from "../rules/references";
import { constraintsOf } from "../rules/eligibility";
import { OPERATION_BUDGET_SECONDS, type PrePullResult } from "./shared";

/** The kubelet's default --node-status-max-images. */
export const KUBELET_MAX_REPORTED_IMAGES = 50;

/**
 * For refresh: the eligible nodes now, and which of them the kubelets' reports prove to miss
 * images (see unprovenAbsence for what does not count as proof).
 */
export async function inspectPresence(
    inputs: PrePullInputs & Partial<Pick<PrePullResult, "nodes" | "decidedAt">>,
): Promise<{ nodes: string[]; missingNodes: Record<string, string[]> }> {
    const cluster = ClusterClient.connect(
        inputs.kubeconfig,
        inputs.context,
        AbortSignal.timeout(OPERATION_BUDGET_SECONDS * 1000),
    );
    const images = inputs.images.map((i) => parseImageReference(i));
    const constraints = constraintsOf(inputs);
    const covered = inputs.nodes ?? [];
    const decidedAt = inputs.decidedAt ? new Date(inputs.decidedAt).getTime() : undefined;
    const eligible: string[] = [];
    const missingNodes: Record<string, string[]> = {};
    await cluster.listPages<Node>(
        { verb: "list", resource: "nodes" },
        (page, options) => cluster.core.listNode(page, options) as never,
        (page) => {
            const report = evaluatePresence(page.items, [], images, constraints);
            eligible.push(...report.eligibleNodes);
            for (const [name, missing] of Object.entries(report.missing)) {
                const node = page.items.find((n) => n.metadata?.name === name)!;
                const proven = missing.filter(
                    (image) =>
                        !unprovenAbsence(node, parseImageReference(image), {
                            maxReportedImages: KUBELET_MAX_REPORTED_IMAGES,
                            pulledAt: covered.includes(name) ? decidedAt : undefined,
                        }),
                );
                if (proven.length > 0) missingNodes[name] = proven;
            }
        },
    );
    return { nodes: eligible.sort(), missingNodes };
}
