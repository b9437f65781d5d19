/** Starting bench/run-one.js: one measured run in a process of its own (see run-one.ts). */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../harness/cluster";
import type { BenchInputs, Mode } from "./run-one";

/**
 * Runs bench/run-one.js in a process of its own and returns the JSON line it prints last.
 * `nodeArguments` go on node's command line (V8 flags, which NODE_OPTIONS mostly refuses), `env`
 * is added to this process's environment.
 */
export async function runOne<T>(
    mode: Mode,
    inputs: BenchInputs,
    options: { nodeArguments?: readonly string[]; env?: Record<string, string> } = {},
): Promise<T> {
    // --expose-gc: the measured process reads its heap after a forced GC once presence is decided.
    const { stdout } = await promisify(execFile)(
        process.execPath,
        [...(options.nodeArguments ?? []), "--expose-gc", path.join(__dirname, "run-one.js"), mode],
        {
            cwd: repoRoot,
            env: { ...process.env, ...options.env, BENCH_INPUTS: JSON.stringify(inputs) },
            maxBuffer: 64 * 1024 * 1024,
        },
    );
    return JSON.parse(stdout.trim().split("\n").pop()!) as T;
}
