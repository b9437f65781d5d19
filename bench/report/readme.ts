/** The README's Benchmarks results: the markers around them, what goes between, and the rewrite. */
import type { BenchResults } from "../results-model";
import { mainTable, runLine } from "./tables";
import { verdicts, verdictTable, type NoopUp } from "./verdicts";

/** The lines of README.md between which the bench writes its summary. */
export const README_MARKERS = {
    start: "<!-- bench results: written by npm run bench (bench/report.ts) from bench/results/latest.json -->",
    end: "<!-- end of bench results -->",
};

/** The README's part of the results: where and how they were measured, the main table, the targets. */
export function readmeSection(results: BenchResults, noopUp?: NoopUp): string {
    return [
        `Measured on ${results.machine}:`,
        "",
        ...results.runs.map(runLine),
        "",
        mainTable(results.records),
        "",
        "Targets:",
        "",
        verdictTable(verdicts(results.records, noopUp, results.runs.at(-1)?.moduleFloorRssMb)),
    ].join("\n");
}

/** Replaces what lies between the markers in `readme`; fails if they are missing, so nothing goes stale unnoticed. */
export function replaceReadmeSection(readme: string, section: string): string {
    const start = readme.indexOf(README_MARKERS.start);
    const end = readme.indexOf(README_MARKERS.end);
    if (start < 0 || end < start) {
        throw new Error(`README.md lacks the bench markers "${README_MARKERS.start}" ... "${README_MARKERS.end}"`);
    }
    return `${readme.slice(0, start + README_MARKERS.start.length)}\n\n${section}\n\n${readme.slice(end)}`;
}
