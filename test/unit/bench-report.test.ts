/**
 * The README's Benchmarks figures are the recorded results, not a hand-edited copy: the part
 * between the bench markers is exactly what bench/report.ts renders from bench/results/latest.json.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { README_MARKERS, readmeSection, readNoopUp, replaceReadmeSection } from "../../bench/report";
import type { BenchResults } from "../../bench/results-model";
import { fitBytes, predict } from "../../bench/report/fit";

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

describe("bench report: bytes fitted apart from the time scale", () => {
    const truth = { fixed: 50_000, perNode: 1_100, perNodeImage: 1_500, perNodeSecond: 30 };
    const point = (nodes: number, images: number, seconds: number) => ({
        nodes,
        images,
        seconds,
        bytes: predict({ ...truth, points: 0, worstMiss: 0 }, { nodes, images, seconds }),
    });

    it("recovers what a pre-pull pays per node, per node-image and per node-second", () => {
        const points = [
            point(100, 1, 20),
            point(100, 5, 70),
            point(500, 1, 40),
            point(500, 5, 90),
            point(2000, 1, 120),
            point(2000, 1, 400),
            point(500, 1, 330),
        ];
        const fit = fitBytes(points)!;
        assert.ok(Math.abs(fit.perNode - truth.perNode) < 1, `per node ${fit.perNode}`);
        assert.ok(Math.abs(fit.perNodeImage - truth.perNodeImage) < 1, `per node-image ${fit.perNodeImage}`);
        assert.ok(Math.abs(fit.perNodeSecond - truth.perNodeSecond) < 0.01, `per node-second ${fit.perNodeSecond}`);
        assert.ok(fit.worstMiss < 1e-6);
    });

    it("fits nothing from too few points or points that cannot tell the terms apart", () => {
        assert.equal(fitBytes([point(100, 1, 20), point(500, 1, 40)]), undefined);
        // Every point has the same images per node and the same wait: N and N·I cannot be told apart.
        assert.equal(fitBytes([1, 2, 3, 4, 5].map((k) => point(100 * k, 1, 20))), undefined);
    });
});
