/** What the run's modules share: the result of a pre-pull, where progress goes, and the bound of calls outside one. */
export type { PrePullResult } from "../rules/public-types";

/** Where a run's progress lines go. */
export type Logger = (line: string) => void;

/** Calls outside a pre-pull (delete, refresh) end within this long. */
export const OPERATION_BUDGET_SECONDS = 120;
