/**
 * The V8 hold (components/run/v8-hold.ts). Which V8 flags it sets and gives back, with a
 * recording fake. Then what V8 does with them, in fresh node processes (V8 is process-wide, and
 * the mocha process's new space has long grown): for the young generation, each child allocates
 * the same volume of objects that survive a few scavenges (a rolling map, as a watch keeps its
 * latest rows) and reports its new space's size before and after; for the old generation, V8's
 * own GC trace says the growing factor each full GC chose; for the optimizing compilers, V8's
 * own status of a function made hot while held, and of one made hot after the release. Sizes,
 * factors and states only: nothing here is timed.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { holdV8 } from "../../../components/run/v8-hold";

const moduleFile = path.resolve(__dirname, "../../../components/run/v8-hold.ts");

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
// The new space's size over the churn's second half, at its smallest: a full GC (frequent while
// held) briefly commits pages beyond the new space's capacity, which a single reading can catch.
function churn() {
    const rows = new Map();
    let smallest = Infinity;
    for (let i = 0; i < 400000; i++) {
        rows.set(i % 30000, { name: "pod-" + i, cells: ["Init:0/1", i, "node-" + (i % 2000)] });
        if (i >= 200000 && i % 10000 === 0) smallest = Math.min(smallest, newSpace());
    }
    return smallest;
}
const [execArgv, holds] = JSON.parse(process.argv[1]);
const start = newSpace();
const releases = [];
for (let i = 0; i < holds; i++) releases.push(copyOfModule().holdV8(execArgv, ""));
for (const release of releases.slice(0, -1)) {
    release();
    release();
}
const held = churn();
releases.at(-1)();
const after = churn();
console.log(JSON.stringify({ start, held, after }));
`;

/** Runs `script` in a fresh node process with `nodeArguments` (and ts-node); its standard output. */
function child(nodeArguments: string[], script: string, ...args: string[]): string {
    return execFileSync(
        process.execPath,
        [...nodeArguments, "--require", "ts-node/register/transpile-only", "-e", script, ...args],
        { encoding: "utf8", cwd: path.resolve(__dirname, "../../..") },
    );
}

function sizes(execArgv: string[], holds = 1): { start: number; held: number; after: number } {
    const out = child([], CHILD, JSON.stringify([execArgv, holds]));
    return JSON.parse(out.trim().split("\n").pop()!) as { start: number; held: number; after: number };
}

/**
 * The child for the old generation: started with V8's GC trace, it forces a full GC before a
 * hold, while held and after the release. Each full GC traces the factor V8 chose for the next;
 * the last three are those.
 */
const FACTOR_CHILD = `
const { holdV8 } = require(${JSON.stringify(moduleFile)});
gc();
const release = holdV8();
gc();
release();
gc();
`;

function factors(nodeArguments: string[]): string[] {
    const out = child([...nodeArguments, "--trace-gc-verbose", "--expose-gc"], FACTOR_CHILD);
    return [...out.matchAll(/\[HeapController\] factor ([0-9.]+)/g)].map((m) => m[1]!).slice(-3);
}

/**
 * The child for the compilers: makes one function hot while held and another after the release,
 * until TurboFan's code runs it or 2e8 calls; which compiler's code each ran at the end, from V8's own status bits
 * (src/runtime/runtime-test.cc: kMaglevved is bit 5, kTurboFanned bit 6).
 */
const COMPILER_CHILD = `
const { holdV8 } = require(${JSON.stringify(moduleFile)});
const hot = () => new Function("x", "return x * 2 + 1");
// TurboFan compiles on a worker thread: the function runs on (up to 2e8 calls) until its code is TurboFan's.
function compiledWhenHot(f) {
    let status = 0;
    for (let chunk = 0; chunk < 200 && !(status & (1 << 6)); chunk++) {
        for (let i = 0; i < 1e6; i++) f(i);
        status = %GetOptimizationStatus(f);
    }
    return status & (1 << 6) ? "turbofan" : status & (1 << 5) ? "maglev" : "unoptimized";
}
const release = holdV8();
const held = compiledWhenHot(hot());
release();
console.log(JSON.stringify([held, compiledWhenHot(hot())]));
`;

/** Which compiler's code a function made hot while held ran, and one made hot after the release. */
function compiled(nodeArguments: string[]): [string, string] {
    const out = child([...nodeArguments, "--allow-natives-syntax"], COMPILER_CHILD);
    return JSON.parse(out.trim().split("\n").pop()!) as [string, string];
}

describe("V8 hold", function () {
    this.timeout(60_000);

    /** The flags set, in order, by holds and releases on one fake (one process's count is shared). */
    function recorded(execArgv: string[], steps: (hold: () => () => void) => void): string[] {
        const set: string[] = [];
        steps(() => holdV8(execArgv, "", (flag) => set.push(flag)));
        return set;
    }

    it("sets its flags at the first hold and gives the defaults back at the last release", () => {
        const set = recorded([], (hold) => {
            const first = hold();
            const second = hold();
            first();
            first();
            second();
        });
        assert.deepEqual(set, [
            "--semi-space-growth-factor=1",
            "--heap-growing-percent=10",
            "--no-turbofan",
            "--semi-space-growth-factor=2",
            "--heap-growing-percent=0",
            "--turbofan",
        ]);
    });

    it("leaves each setting whose flags the process's owner set", () => {
        const once = (hold: () => () => void) => hold()();
        const all = recorded([], once);
        const without = (...flags: string[]) => all.filter((f) => !flags.includes(f));
        assert.deepEqual(
            recorded(["--max-semi-space-size=64"], once),
            without("--semi-space-growth-factor=1", "--semi-space-growth-factor=2"),
        );
        assert.deepEqual(
            recorded(["--heap_growing_percent", "50"], once),
            without("--heap-growing-percent=10", "--heap-growing-percent=0"),
        );
        assert.deepEqual(recorded(["--no-opt"], once), without("--no-turbofan", "--turbofan"));
        assert.deepEqual(recorded(["--jitless"], once), without("--no-turbofan", "--turbofan"));
        // Flags that only start with a held one's name are other flags.
        assert.deepEqual(recorded(["--turbofan-filter=*", "--optimize-for-size"], once), all);
    });

    it("makes V8 grow the old generation by 10 % between full GCs while held", () => {
        const [, held] = factors([]);
        assert.equal(held, "1.1");
    });

    it("keeps the old generation's growth a process chose on its command line", () => {
        assert.deepEqual(factors(["--heap-growing-percent=50"]), ["1.5", "1.5", "1.5"]);
    });

    it("leaves hot functions to Maglev while held, and to TurboFan again once released", () => {
        assert.deepEqual(compiled([]), ["maglev", "turbofan"]);
    });

    it("keeps TurboFan for a process that chose it on its command line", () => {
        assert.deepEqual(compiled(["--turbofan"]), ["turbofan", "turbofan"]);
    });

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
