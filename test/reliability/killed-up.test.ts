/**
 * A `pulumi up` killed mid-pre-pull (the whole process group, as a CI runner cancels a job). The
 * engine runs its plugins in process groups of their own, so the dynamic-provider host survives
 * such a kill: it must notice that its engine is gone, delete what it created and exit.
 */
import * as assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { repoRoot, sharedCluster, SIM, type TestCluster } from "../../harness/cluster";
import { exampleStack, jupyterhubValues, removeStack, sharedEngine } from "../../harness/engine";
import { KUBERNETES_PLUGIN_PROCESS, processesMatching, PROVIDER_PROCESS } from "../support/processes";
import { addUserNode, leftovers, waitFor } from "../../harness/scenario";

describe("a killed pulumi up", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    it("leaves no provider process behind: the provider notices its engine is gone, deletes its DaemonSet and exits; the next destroy works", async () => {
        const namespace = `killed-${randomBytes(3).toString("hex")}`;
        const node = `${namespace}-user`;
        await addUserNode(cluster, node, { [SIM.pullSeconds]: "600" });
        const hubImage = "quay.io/jupyterhub/k8s-hub:4.4.0";
        const stack = await exampleStack(`killed-${randomBytes(3).toString("hex")}`, {
            kubeconfig: { value: cluster.kubeconfig, secret: true },
            namespace: { value: namespace },
            hubImage: { value: hubImage },
            jupyterhubValues: {
                value: JSON.stringify(jupyterhubValues(["quay.io/jupyter/never-finishes:1"], hubImage)),
            },
        });
        const { envVars } = await sharedEngine();
        const env = { ...process.env, ...envVars };
        try {
            const before = providerProcesses();
            const kubernetesBefore = kubernetesPluginProcesses();
            const up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name], {
                cwd: repoRoot,
                env,
                detached: true,
                stdio: "ignore",
            });
            await waitFor(
                async () => (await leftovers(cluster, namespace)).some((o) => o.startsWith("pod/")),
                "pre-pull pods",
                120_000,
            );
            const ours = providerProcesses().filter((p) => !before.includes(p));
            assert.ok(ours.length > 0, "no dynamic-provider process of this pulumi up was found");
            process.kill(-up.pid!, "SIGKILL");
            const killedAt = Date.now();
            await waitFor(
                async () => providerProcesses().filter((p) => ours.includes(p)).length === 0,
                "the provider processes of the killed up to exit",
                30_000,
            );
            const exitedAfter = (Date.now() - killedAt) / 1000;
            assert.ok(exitedAfter < 20, `the provider took ${exitedAfter}s to notice`);
            // It deleted its own DaemonSet before exiting (its pods follow through the garbage collector).
            assert.deepEqual(
                (await leftovers(cluster, namespace)).filter((o) => o.startsWith("daemonset/")),
                [],
                "the orphaned provider did not remove its DaemonSet",
            );

            // The @pulumi/kubernetes plugin has no such watchdog: killed with its engine, it stays
            // idle, a child of init. That is upstream's behaviour, not ours to assert; the test
            // removes the plugin processes its kill orphaned, so the run leaves nothing behind.
            for (const pid of kubernetesPluginProcesses().filter((p) => !kubernetesBefore.includes(p))) {
                try {
                    process.kill(pid, "SIGKILL");
                } catch {
                    // already gone
                }
            }

            // The killed CLI leaves its lock on the file backend; removing it is the user's documented first step.
            await promisify(execFile)("pulumi", ["cancel", "--yes", "--stack", stack.name], { cwd: repoRoot, env });
            await promisify(execFile)(
                "pulumi",
                ["destroy", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name],
                {
                    cwd: repoRoot,
                    env,
                    maxBuffer: 64 * 1024 * 1024,
                },
            );
            await waitFor(
                async () => (await leftovers(cluster, namespace)).length === 0,
                "nothing of ours left",
                60_000,
            );
        } finally {
            await removeStack(stack);
            await cluster.core.deleteNode({ name: node }).catch(() => undefined);
        }
    });
});

/** PIDs of our provider processes on the machine. */
function providerProcesses(): number[] {
    return [...processesMatching(PROVIDER_PROCESS).keys()];
}

/** PIDs of @pulumi/kubernetes plugin processes on the machine. */
function kubernetesPluginProcesses(): number[] {
    return [...processesMatching(KUBERNETES_PLUGIN_PROCESS).keys()];
}
