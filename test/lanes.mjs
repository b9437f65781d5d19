// Runs test files in lanes: one mocha process per lane, all at once. Most of a cluster test's
// time is spent waiting (a problem tolerated for 30 s, a pull that takes seconds, a watch), not
// computing, so two lanes on 2 cores take little more than half the time of one.
//
//   node test/lanes.mjs [--lanes N] [--list] GLOB...     (--list: print the lanes, run nothing)
//
// Each file is given to exactly one lane. Files named in HEAVY below are dealt first, longest
// first, each to the lane with the least measured time so far; every other file matched by the
// globs (a new one included) follows at its default weight. Within a lane, files run in the
// order mocha would run them (those that need the Pulumi engine last), one after another,
// sharing that lane's local cluster and engine.
// Every output line is prefixed with its lane; the exit code is non-zero when any lane failed.
import { spawn } from "node:child_process";
import console from "node:console";
import { globSync, readFileSync } from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Seconds each file took in the last measured run (CI of 2026-12-03); the files not listed
// weigh DEFAULT_SECONDS. Only the balance of the lanes depends on these figures.
const HEAVY = {
    "test/integration/failures.test.ts": 530,
    "test/integration/prepull.test.ts": 180,
    "test/integration/real-node.test.ts": 151,
    "test/integration/image-gc.test.ts": 400,
    "test/integration/simulator.test.ts": 121,
    "test/e2e/jupyterhub-stack.test.ts": 114,
    "test/e2e/continuous-stack.test.ts": 53,
    "test/e2e/python-stack.test.ts": 47,
    "test/integration/evidence.test.ts": 46,
    "test/integration/finished-runs.test.ts": 42,
    "test/e2e/consumer.test.ts": 22,
    "test/reliability/api-faults.test.ts": 189,
    "test/reliability/kill.test.ts": 171,
    "test/reliability/security.test.ts": 175,
    "test/reliability/scale-cleanup.test.ts": 150,
    "test/reliability/concurrency-engine.test.ts": 70,
    "test/reliability/killed-up.test.ts": 29,
};
const DEFAULT_SECONDS = 5;

function usage(message) {
    console.error(`lanes: ${message}\nusage: node test/lanes.mjs [--lanes N] [--list] GLOB...`);
    process.exit(2);
}

const args = process.argv.slice(2);
let laneCount = Number(process.env.PREPULLER_TEST_LANES ?? 2);
let listOnly = false;
const globs = [];
for (let i = 0; i < args.length; i++) {
    if (args[i] === "--lanes") laneCount = Number(args[++i]);
    else if (args[i] === "--list") listOnly = true;
    else globs.push(args[i]);
}
if (!Number.isInteger(laneCount) || laneCount < 1 || laneCount > 8) {
    usage(`--lanes (or PREPULLER_TEST_LANES) must be an integer from 1 to 8, got '${laneCount}'`);
}
if (globs.length === 0) usage("no test files given");

// Mocha's own order (its globs, sorted) is kept inside each lane.
const files = [...new Set(globs.flatMap((g) => globSync(g, { cwd: repo }).sort()))];
if (files.length === 0) usage(`no file matches ${globs.join(" ")}`);

const lanes = Array.from({ length: Math.min(laneCount, files.length) }, (_, i) => ({
    name: String.fromCharCode(97 + i),
    files: [],
    seconds: 0,
}));
const weight = (f) => HEAVY[f] ?? DEFAULT_SECONDS;
for (const f of [...files].sort((a, b) => weight(b) - weight(a))) {
    const lane = lanes.reduce((min, l) => (l.seconds < min.seconds ? l : min));
    lane.files.push(f);
    lane.seconds += weight(f);
}
// Files that run the Pulumi CLI or its plugins go last in their lane: on a fresh machine those
// tools are still being built (the test waits on the build's lock) while the rest already runs.
const needsEngine = (f) => /sharedEngine|test\/toolchain\//.test(readFileSync(path.join(repo, f), "utf8"));
const order = (f) => files.indexOf(f) + (needsEngine(f) ? files.length : 0);
for (const lane of lanes) lane.files.sort((a, b) => order(a) - order(b));

if (listOnly) {
    for (const lane of lanes) {
        console.log(`lane ${lane.name} (about ${Math.round(lane.seconds / 60)} min):\n  ${lane.files.join("\n  ")}`);
    }
    process.exit(0);
}

const mocha = path.join(repo, "node_modules/.bin/mocha");
const started = Date.now();
const children = [];
// A cancelled run stops every lane (each lane's mocha then stops its clusters).
const forward = (signal) => {
    for (const c of children) c.kill(signal);
};
process.on("SIGINT", () => forward("SIGINT"));
process.on("SIGTERM", () => forward("SIGTERM"));
const results = await Promise.all(
    lanes.map(
        (lane) =>
            new Promise((resolve) => {
                const prefix = lanes.length > 1 ? `[${lane.name}] ` : "";
                process.stdout.write(
                    `${prefix}lane ${lane.name}: ${lane.files.length} files, about ${Math.round(lane.seconds / 60)} min: ${lane.files.join(" ")}\n`,
                );
                const child = spawn(mocha, lane.files, {
                    cwd: repo,
                    // Each lane sees only the processes it started (test/support/processes.ts).
                    env: { ...process.env, PREPULLER_TEST_RUN: `lane-${lane.name}-${process.pid}` },
                    stdio: ["ignore", "pipe", "pipe"],
                });
                children.push(child);
                let summary = "";
                const relay = (stream, out) => {
                    let rest = "";
                    stream.setEncoding("utf8");
                    stream.on("data", (chunk) => {
                        const lines = (rest + chunk).split("\n");
                        rest = lines.pop();
                        for (const line of lines) {
                            if (/^\s+\d+ (passing|failing|pending)/.test(line)) summary += ` ${line.trim()},`;
                            out.write(`${prefix}${line}\n`);
                        }
                    });
                    stream.on("end", () => rest && out.write(`${prefix}${rest}\n`));
                };
                relay(child.stdout, process.stdout);
                relay(child.stderr, process.stderr);
                child.on("close", (code, signal) =>
                    resolve({ lane, code, signal, summary: summary.replace(/,$/, ""), at: Date.now() }),
                );
            }),
    ),
);

let failed = false;
console.log(`\nlanes: all done in ${Math.round((Date.now() - started) / 1000)}s`);
for (const r of results) {
    const ok = r.code === 0;
    failed ||= !ok;
    console.log(
        `  lane ${r.lane.name}: ${ok ? "passed" : `FAILED (${r.signal ?? `exit ${r.code}`})`} after ${Math.round((r.at - started) / 1000)}s:${r.summary || " no summary"}`,
    );
}
process.exit(failed ? 1 : 0);
