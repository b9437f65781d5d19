/**
 * The plain-data types of the public API (components/index.ts): what a pre-pull returns, and the
 * Kubernetes shapes that its normalized inputs and `fromJupyterHubValues` carry. Declared without
 * @kubernetes/client-node: the declarations index.d.ts reaches must not reach client-node's,
 * whose import of `ws` fails a consumer's compile that has no @types/ws and no skipLibCheck
 * (test/unit/declarations.test.ts). The Kubernetes shapes are @pulumi/kubernetes input types
 * with plain values, so they fit `ImagePrePullerArgs` as they are.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import type { PrePullInputs } from "./inputs";

export type { PrePullInputs } from "./inputs";

export type Toleration = Unwrap<k8s.types.input.core.v1.Toleration>;
export type Affinity = Unwrap<k8s.types.input.core.v1.Affinity>;
export type NodeSelectorTerm = Unwrap<k8s.types.input.core.v1.NodeSelectorTerm>;
export type NodeSelectorRequirement = Unwrap<k8s.types.input.core.v1.NodeSelectorRequirement>;

export interface PrePullResult {
    /** Eligible nodes covered, sorted. */
    nodes: string[];
    /** True when every eligible node already held every image: no DaemonSet was created. */
    skipped: boolean;
    durationSeconds: number;
    /** Eligible nodes that miss images (empty after a successful pre-pull). */
    missingNodes: Record<string, string[]>;
    /** When presence was decided (ISO 8601): refresh reads the kubelet's later reports against it. */
    decidedAt?: string;
    /**
     * Nodes that were eligible and left before they held the images (cordoned, not-ready,
     * untolerated-taint, node-selector, node-affinity, deleted): not covered.
     */
    droppedNodes?: Record<string, string>;
    /**
     * Eligible nodes whose pre-pull pod could not be scheduled (unschedulableNodes: "skip"), with
     * the scheduler's reason: not covered.
     */
    skippedNodes?: Record<string, string>;
}

/** The outputs of the pre-pull resource: its normalized inputs and its result. */
export type PrePullOutputs = PrePullInputs & PrePullResult;
