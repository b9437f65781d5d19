import { execFileSync } from "node:child_process";
import { stopSharedCluster } from "./cluster";
import { stopSharedEngine } from "./engine";

/** PIDs and command lines of provider processes (dynamic-provider hosts, our plugin, the @pulumi/kubernetes plugin). */
function providerProcesses(): Map<number, string> {
    const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
    const found = new Map<number, string>();
    for (const line of out.split("\n")) {
        if (!/cmd\/dynamic-provider|pulumi-resource-image-prepuller|pulumi-resource-kubernetes/.test(line)) continue;
        const [pid, ...args] = line.trim().split(/\s+/);
        found.set(Number(pid), args.join(" "));
    }
    return found;
}

let before = new Map<number, string>();

/**
 * Mocha root hooks: the shared cluster and the engine's temporary directories outlive every test
 * file and are removed once at the end; and the run leaves no provider process of its own behind
 * (a provider that outlives its engine would go on pulling and cleaning up unseen).
 */
export const mochaHooks = {
    beforeAll() {
        before = providerProcesses();
    },
    async afterAll(this: Mocha.Context) {
        this.timeout(120_000);
        await stopSharedCluster();
        await stopSharedEngine();
        const deadline = Date.now() + 30_000;
        let left = [...providerProcesses()].filter(([pid]) => !before.has(pid));
        while (left.length > 0 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 500));
            left = [...providerProcesses()].filter(([pid]) => !before.has(pid));
        }
        if (left.length > 0) {
            for (const [pid] of left) {
                try {
                    process.kill(pid, "SIGKILL");
                } catch {
                    // already gone
                }
            }
            throw new Error(
                `provider processes outlived the test run (killed now):\n${left.map(([p, a]) => `  ${p} ${a}`).join("\n")}`,
            );
        }
    },
};
