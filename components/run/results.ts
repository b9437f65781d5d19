/** What the run's modules share: the result of a pre-pull and the bounds of calls outside one. */
import type { SchedulingConstraints } from "../rules/eligibility";
import type { PrePullInputs } from "../rules/inputs";

export type { PrePullResult } from "../rules/public-types";

/** Where a run's progress lines go. */
export type Logger = (line: string) => void;

/** Calls outside a pre-pull (delete, refresh) end within this long. */
export const OPERATION_BUDGET_SECONDS = 120;

export function constraintsOf(inputs: PrePullInputs): SchedulingConstraints {
    return { nodeSelector: inputs.nodeSelector, tolerations: inputs.tolerations, affinity: inputs.affinity };
}
