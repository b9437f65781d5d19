import { stopSharedCluster } from "../../harness/cluster";
import { stopSharedEngine } from "../../harness/engine";
import { KUBERNETES_PLUGIN_PROCESS, PROVIDER_PROCESS, processesMatching } from "./processes";

/** Provider processes: ours, and the @pulumi/kubernetes plugin the stacks start. */
function providerProcesses(): Map<number, string> {
    return processesMatching(new RegExp(`${PROVIDER_PROCESS.source}|${KUBERNETES_PLUGIN_PROCESS.source}`));
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
