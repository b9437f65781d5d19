/**
 * The young-generation hold (components/run/young-generation.ts), in fresh node processes: V8's
 * new space is process-wide, so the mocha process (whose new space has long grown) cannot show it.
 * Each child allocates the same volume of objects that survive a few scavenges (a rolling map, as
 * a watch keeps its latest rows) and reports its new space's size before and after. Sizes only:
 * nothing here is timed.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const moduleFile = path.resolve(__dirname, "../../../components/run/young-generation.ts");

/**
 * The child: takes `holds` holds (each from a fresh copy of the module, as Pulumi gives each
 * resource's provider its own), releases all but the last, churns, releases the last, churns;
 * new space sizes in MB.
 */
const CHILD = `
const v8 = require("node:v8");
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 1048576;
function copyOfModule() {
    delete require.cache[require.resolve(${JSON.stringify(moduleFile)})];
    return require(${JSON.stringify(moduleFile)});
}
function churn() {
    const rows = new Map();
    for (let i = 0; i < 400000; i++) rows.set(i % 30000, { name: "pod-" + i, cells: ["Init:0/1", i, "node-" + (i % 2000)] });
    return rows.size;
}
const [execArgv, holds] = JSON.parse(process.argv[1]);
const start = newSpace();
const releases = [];
for (let i = 0; i < holds; i++) releases.push(copyOfModule().holdYoungGeneration(execArgv, ""));
for (const release of releases.slice(0, -1)) {
    release();
    release();
}
churn();
const held = newSpace();
releases.at(-1)();
churn();
const after = newSpace();
console.log(JSON.stringify({ start, held, after }));
`;

function sizes(execArgv: string[], holds = 1): { start: number; held: number; after: number } {
    const out = execFileSync(
        process.execPath,
        ["--require", "ts-node/register/transpile-only", "-e", CHILD, JSON.stringify([execArgv, holds])],
        { encoding: "utf8", cwd: path.resolve(__dirname, "../../..") },
    );
    return JSON.parse(out.trim().split("\n").pop()!) as { start: number; held: number; after: number };
}

describe("young-generation hold", function () {
    this.timeout(60_000);

    it("keeps the new space at its size while held, and lets it grow again once released", () => {
        const { start, held, after } = sizes([]);
        assert.equal(held, start, `new space grew from ${start} MB to ${held} MB while held`);
        assert.ok(after > held, `new space stayed at ${after} MB after the release (held: ${held} MB)`);
    });

    it("holds while any run of the process holds, whichever copy of the module took it", () => {
        const { start, held, after } = sizes([], 3);
        assert.equal(held, start, `new space grew from ${start} MB to ${held} MB while one of three holds remained`);
        assert.ok(after > held, `new space stayed at ${after} MB after the last release (held: ${held} MB)`);
    });

    it("leaves a process started with its own young-generation flags as its owner set it", () => {
        const { start, held } = sizes(["--max-semi-space-size=64"]);
        assert.ok(held > start, `new space stayed at ${held} MB though the process chose its own flags`);
    });
});
