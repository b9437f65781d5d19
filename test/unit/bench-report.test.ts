/**
 * The README's Benchmarks figures are the recorded results, not a hand-edited copy: the part
 * between the bench markers is exactly what bench/report.ts renders from bench/results/latest.json.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { README_MARKERS, readmeSection, readNoopUp, replaceReadmeSection } from "../../bench/report";
import type { BenchResults } from "../../bench/results-model";

const root = path.resolve(__dirname, "../..");
const resultsDir = path.join(root, "bench", "results");

describe("bench report: the README's results", () => {
    it("replaces only what lies between the markers", () => {
        const readme = `# Title\n\nbefore\n${README_MARKERS.start}\n\nold figures\n\n${README_MARKERS.end}\n\nafter\n`;
        const updated = replaceReadmeSection(readme, "new figures");
        assert.equal(
            updated,
            `# Title\n\nbefore\n${README_MARKERS.start}\n\nnew figures\n\n${README_MARKERS.end}\n\nafter\n`,
        );
        assert.equal(replaceReadmeSection(updated, "new figures"), updated);
    });

    it("refuses a README without the markers instead of leaving stale figures", () => {
        assert.throws(() => replaceReadmeSection("# Title\n\nno markers\n", "figures"), /lacks the bench markers/);
        const reversed = `${README_MARKERS.end}\n${README_MARKERS.start}\n`;
        assert.throws(() => replaceReadmeSection(reversed, "figures"), /lacks the bench markers/);
    });

    it("README.md holds the figures of bench/results/latest.json as rendered", () => {
        const readme = readFileSync(path.join(root, "README.md"), "utf8");
        const results = JSON.parse(readFileSync(path.join(resultsDir, "latest.json"), "utf8")) as BenchResults;
        assert.ok(results.records.length > 0, "latest.json has no records");
        const expected = replaceReadmeSection(readme, readmeSection(results, readNoopUp(resultsDir)));
        assert.ok(
            readme === expected,
            "README.md's bench results differ from latest.json: run `npm run bench -- --render-only`",
        );
    });
});
