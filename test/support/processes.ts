/** Processes on this machine, for tests that must leave none of theirs behind. */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

/**
 * Marks the processes this test run starts: inherited through the Pulumi engine by every plugin
 * it launches. Lanes that run at once (test/lanes.mjs) each set their own, so one lane never
 * counts, or kills, the providers of another.
 */
const RUN_MARKER = "PREPULLER_TEST_RUN";
process.env[RUN_MARKER] ??= `run-${process.pid}-${randomBytes(3).toString("hex")}`;
const runEntry = `${RUN_MARKER}=${process.env[RUN_MARKER]}`;

/** Whether process `pid` was started by this test run (false when it is gone or unreadable). */
function startedByThisRun(pid: number): boolean {
    try {
        return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(runEntry);
    } catch {
        return false;
    }
}

/** Our provider processes: dynamic-provider hosts and our plugin. */
export const PROVIDER_PROCESS = /cmd\/dynamic-provider|pulumi-resource-image-prepuller/;

/** The @pulumi/kubernetes plugin. */
export const KUBERNETES_PLUGIN_PROCESS = /pulumi-resource-kubernetes/;

/** PIDs and command lines of this run's processes whose command line matches `pattern`. */
export function processesMatching(pattern: RegExp): Map<number, string> {
    const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
    const found = new Map<number, string>();
    for (const line of out.split("\n")) {
        if (!pattern.test(line)) continue;
        const [pid, ...args] = line.trim().split(/\s+/);
        if (startedByThisRun(Number(pid))) found.set(Number(pid), args.join(" "));
    }
    return found;
}
