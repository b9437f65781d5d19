/** A `pulumi up` killed mid-pre-pull (the whole process group, as a CI runner cancels a job). */
import * as assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { repoRoot, sharedCluster, SIM, type TestCluster } from "../support/cluster";
import { exampleStack, removeStack, sharedEngine } from "../support/engine";
import { addUserNode, leftovers, waitFor } from "../support/scenario";

describe("a killed pulumi up", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    it("is cleaned up by the next pulumi destroy", async () => {
        const namespace = `killed-${randomBytes(3).toString("hex")}`;
        const node = `${namespace}-user`;
        await addUserNode(cluster, node, { [SIM.pullSeconds]: "600" });
        const stack = await exampleStack(`killed-${randomBytes(3).toString("hex")}`, {
            kubeconfig: { value: cluster.kubeconfig, secret: true },
            namespace: { value: namespace },
            images: { value: JSON.stringify(["quay.io/jupyter/never-finishes:1"]) },
        });
        const { envVars } = await sharedEngine();
        const env = { ...process.env, ...envVars };
        try {
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
            process.kill(-up.pid!, "SIGKILL");
            await new Promise((r) => setTimeout(r, 1000));
            assert.notDeepEqual(await leftovers(cluster, namespace), [], "the kill should have left the DaemonSet");

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
