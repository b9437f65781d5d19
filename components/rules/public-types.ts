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
    /**
     * What the pulls of the last pre-pull cost, from the pods' own timestamps: per image pulled,
     * on how many nodes, the median and the longest pull in seconds (with any wait for the node's
     * puller), the slowest node and the size a node listed; and the slowest nodes. Absent when
     * nothing was pulled.
     */
    pullReport?: PullReport;
}

/** The outputs of the pre-pull resource: its normalized inputs and its result. */
export type PrePullOutputs = PrePullInputs & PrePullResult;

/** Per image pulled by the run, and the slowest nodes; sizes for `timeoutSeconds` and `maxParallelNodes`. */
export interface PullReport {
    images: Record<
        string,
        {
            /** Nodes that pulled it in this run (not those that held it already). */
            nodes: number;
            p50Seconds: number;
            maxSeconds: number;
            slowestNode: string;
            /**
             * Its size as a node listed it in `status.images`, else as the kubelet's Pulled event
             * on one of the slowest nodes said; absent when neither told.
             */
            sizeBytes?: number;
        }
    >;
    /** At most 5, slowest first: seconds from a node's first pull's start to its last pull's end. */
    slowestNodes: { node: string; seconds: number }[];
}
