/**
 * `pulumi refresh`: which eligible nodes the kubelets' reports prove to miss images, read with
 * one paged list of Nodes and nothing left running.
 */
import { ClusterClient } from "../cluster/client";
import type { PrePullInputs } from "../rules/inputs";
import type { Node } from "../rules/wire";
import { evaluatePresence, unprovenAbsence } from "../rules/presence";
import {
    parseImageReference,
    referenceSatisfies,
    tryParseImageReference,
    type ImageReference,
} from "../rules/references";
import { constraintsOf } from "../rules/eligibility";
import { OPERATION_BUDGET_SECONDS, type PrePullResult } from "./shared";

/** The kubelet's default --node-status-max-images. */
export const KUBELET_MAX_REPORTED_IMAGES = 50;

/** A node that misses images on its report, kept to be judged once every page is in. */
interface Candidate {
    node: Node;
    missing: string[];
}

/**
 * For refresh: the eligible nodes now, and which of them the kubelets' reports prove to miss
 * images (see unprovenAbsence for what does not count as proof). A wanted image's size comes
 * from any node that lists it: on a node whose list is at the cap, an image larger than the
 * smallest one listed would have been listed.
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
    const maxReportedImages = inputs.nodeStatusMaxImages ?? KUBELET_MAX_REPORTED_IMAGES;
    const eligible: string[] = [];
    const candidates: Candidate[] = [];
    const sizes: Record<string, number> = {};
    await cluster.listPages<Node>(
        { verb: "list", resource: "nodes" },
        (page, options) => cluster.core.listNode(page, options) as never,
        (page) => {
            noteSizes(page.items, images, sizes);
            const report = evaluatePresence(page.items, [], images, constraints);
            eligible.push(...report.eligibleNodes);
            for (const [name, missing] of Object.entries(report.missing)) {
                candidates.push({ node: page.items.find((n) => n.metadata?.name === name)!, missing });
            }
        },
    );
    const missingNodes: Record<string, string[]> = {};
    for (const { node, missing } of candidates) {
        const name = node.metadata!.name!;
        const proven = missing.filter(
            (image) =>
                !unprovenAbsence(node, parseImageReference(image), {
                    maxReportedImages,
                    pulledAt: covered.includes(name) ? decidedAt : undefined,
                    wantedSizeBytes: sizes[image],
                }),
        );
        if (proven.length > 0) missingNodes[name] = proven;
    }
    return { nodes: eligible.sort(), missingNodes };
}

/** The size the kubelets report for each wanted image (normalized reference), where some node lists it. */
function noteSizes(nodes: readonly Node[], images: readonly ImageReference[], sizes: Record<string, number>): void {
    for (const node of nodes) {
        for (const entry of node.status?.images ?? []) {
            if (typeof entry.sizeBytes !== "number") continue;
            for (const name of entry.names ?? []) {
                const parsed = tryParseImageReference(name);
                if (!parsed) continue;
                for (const wanted of images) {
                    if (referenceSatisfies(parsed, wanted)) sizes[wanted.normalized] = entry.sizeBytes;
                }
            }
        }
    }
}
