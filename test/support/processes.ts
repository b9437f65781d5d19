/** Processes on this machine, for tests that must leave none of theirs behind. */
import { execFileSync } from "node:child_process";

/** Our provider processes: dynamic-provider hosts and our plugin. */
export const PROVIDER_PROCESS = /cmd\/dynamic-provider|pulumi-resource-image-prepuller/;

/** The @pulumi/kubernetes plugin. */
export const KUBERNETES_PLUGIN_PROCESS = /pulumi-resource-kubernetes/;

/** PIDs and command lines of the processes whose command line matches `pattern`. */
export function processesMatching(pattern: RegExp): Map<number, string> {
    const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
    const found = new Map<number, string>();
    for (const line of out.split("\n")) {
        if (!pattern.test(line)) continue;
        const [pid, ...args] = line.trim().split(/\s+/);
        found.set(Number(pid), args.join(" "));
    }
    return found;
}
