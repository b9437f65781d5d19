/**
 * Concurrency through the real engine: two ImagePrePuller resources in one stack, and two stacks
 * of the example program at once on the same cluster and namespace. Distinct owner ids keep their
 * DaemonSets apart, and cleanup is scoped by owner label, so neither removes the other's.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { ImagePrePuller } from "../../components";
import { sharedCluster, SIM, type TestCluster } from "../../harness/cluster";
import { exampleStack, removeStack, sharedEngine } from "../../harness/engine";
import { addUserNode, leftovers } from "../../harness/scenario";

describe("concurrency through the real engine", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    const namespace = `shared-${randomBytes(3).toString("hex")}`;
    const nodes = [1, 2].map((i) => `${namespace}-user-${i}`);

    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        await cluster.core.createNamespace({ body: { metadata: { name: namespace } } });
        for (const name of nodes) {
            await addUserNode(cluster, name, { [SIM.pullSeconds]: "2" }, { [`${namespace}/pool`]: "yes" });
        }
    });
    after(async () => {
        for (const name of nodes) await cluster.core.deleteNode({ name }).catch(() => undefined);
    });

    it("two pre-pullers in one stack both complete and leave nothing", async () => {
        const { envVars, command } = await sharedEngine();
        const workDir = mkdtempSync(path.join(tmpdir(), "prepuller-inline-"));
        const scheduling = {
            namespace,
            nodeSelector: { [`${namespace}/pool`]: "yes" },
            tolerations: [{ key: "hub.jupyter.org/dedicated", operator: "Exists" }],
            kubeconfig: cluster.kubeconfig,
        };
        const stack = await LocalWorkspace.createStack(
            {
                stackName: `two-${randomBytes(3).toString("hex")}`,
                projectName: "two-prepullers",
                program: async () => {
                    const notebooks = new ImagePrePuller("notebooks", {
                        images: ["quay.io/jupyter/base-notebook:x1"],
                        ...scheduling,
                    });
                    const tools = new ImagePrePuller("tools", {
                        images: ["docker.io/library/python:x1"],
                        ...scheduling,
                    });
                    return { notebooks: notebooks.nodes, tools: tools.nodes };
                },
            },
            { envVars, pulumiCommand: command, pulumiHome: envVars.PULUMI_HOME, workDir },
        );
        try {
            const result = await stack.up();
            assert.deepEqual([...(result.outputs.notebooks!.value as string[])].sort(), nodes);
            assert.deepEqual([...(result.outputs.tools!.value as string[])].sort(), nodes);
            assert.deepEqual(await leftovers(cluster, namespace), []);
            await stack.destroy();
        } finally {
            await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
            rmSync(workDir, { recursive: true, force: true });
        }
    });

    it("two stacks of the example program at once, same namespace, both complete", async () => {
        const stacks: Stack[] = [];
        try {
            for (const image of ["x2", "x3"]) {
                stacks.push(
                    await exampleStack(`together-${image}-${randomBytes(2).toString("hex")}`, {
                        kubeconfig: { value: cluster.kubeconfig, secret: true },
                        namespace: { value: namespace },
                        images: { value: JSON.stringify([`quay.io/jupyter/scipy-notebook:${image}`]) },
                    }),
                );
            }
            const results = await Promise.all(stacks.map((s) => s.up()));
            for (const result of results) {
                assert.ok(nodes.every((n) => (result.outputs.nodes!.value as string[]).includes(n)));
                assert.equal(result.outputs.skipped!.value, false);
            }
            assert.deepEqual(await leftovers(cluster, namespace), []);
            // Both stacks also apply the example's own Namespace and hub Deployment (same names), so
            // they are destroyed one after the other; the pre-pullers' objects are already gone.
            for (const s of stacks) await s.destroy();
            assert.deepEqual(await leftovers(cluster, namespace), []);
        } finally {
            for (const s of stacks) await removeStack(s);
        }
    });
});
