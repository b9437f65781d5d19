/** What the run's modules share: the result of a pre-pull and the bounds of calls outside one. */
import type { SchedulingConstraints } from "../rules/eligibility";
import type { PrePullInputs } from "../rules/inputs";

/** Calls outside a pre-pull (delete, refresh) end within this long. */
export const OPERATION_BUDGET_SECONDS = 120;

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
}

export function constraintsOf(inputs: PrePullInputs): SchedulingConstraints {
    return { nodeSelector: inputs.nodeSelector, tolerations: inputs.tolerations, affinity: inputs.affinity };
}
