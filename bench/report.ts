/** bench/results/latest.{json,md,svg} and the README's results from the records; the parts live in bench/report/. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { machineDescription } from "./machine";
import { markdown } from "./report/markdown";
import { plot } from "./report/plot";
import { readmeSection, replaceReadmeSection } from "./report/readme";
import { readNoopUp } from "./report/verdicts";
import type { BenchRecord, BenchResults, RunInfo } from "./results-model";

export { median } from "./report/figures";
export { markdown } from "./report/markdown";
export { plot } from "./report/plot";
export { README_MARKERS, readmeSection, replaceReadmeSection } from "./report/readme";
export { readNoopUp, verdicts } from "./report/verdicts";

/** Written after every scenario, so that a long run cut short still leaves its results. */
export function save(resultsDir: string, records: BenchRecord[], runs: RunInfo[], readmePath?: string): void {
    mkdirSync(resultsDir, { recursive: true });
    const results: BenchResults = { machine: machineDescription(), date: runs.at(-1)?.date, runs, records };
    const noopUp = readNoopUp(resultsDir);
    writeFileSync(path.join(resultsDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
    writeFileSync(path.join(resultsDir, "latest.md"), markdown(results, noopUp));
    writeFileSync(path.join(resultsDir, "latest.svg"), plot(records));
    if (readmePath) {
        writeFileSync(
            readmePath,
            replaceReadmeSection(readFileSync(readmePath, "utf8"), readmeSection(results, noopUp)),
        );
    }
}
