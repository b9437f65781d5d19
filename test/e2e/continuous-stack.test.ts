/**
 * Continuous mode through the real Pulumi engine on the local cluster: up leaves the long-lived
 * DaemonSet (and only it), a node that joins later gets the images from it, a refresh then finds
 * no drift and up changes nothing, and destroy removes it.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Stack } from "@pulumi/pulumi/automation";
import { LABEL_MANAGED_BY, MANAGER } from "../../components/rules/daemonset";
import { sharedCluster, SIM, type TestCluster, FAST_STATUS } from "../../harness/cluster";
import { exampleStack, jupyterhubValues, removeStack } from "../../harness/engine";
import { addUserNode, nodeImages, waitFor } from "../../harness/scenario";

const userImages = ["quay.io/jupyter/pyspark-notebook:2025-03-14", "quay.io/jupyter/tensorflow-notebook:2025-03-14"];
const hubImage = "quay.io/jupyterhub/k8s-hub:4.4.0";

const fastPulls = { [SIM.pullSeconds]: "1", ...FAST_STATUS };

async function ourDaemonSets(cluster: TestCluster, namespace: string): Promise<string[]> {
    const selector = `${LABEL_MANAGED_BY}=${MANAGER}`;
    const ds = await cluster.apps.listNamespacedDaemonSet({ namespace, labelSelector: selector });
    return ds.items.map((d) => d.metadata!.name!);
}

describe("continuous mode through the real Pulumi engine", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    let stack: Stack;
    const namespace = `jhub-cont-${randomBytes(3).toString("hex")}`;

    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        await addUserNode(cluster, `${namespace}-user-1`, fastPulls);
        stack = await exampleStack(`continuous-${randomBytes(3).toString("hex")}`, {
            kubeconfig: { value: cluster.kubeconfig, secret: true },
            namespace: { value: namespace },
            hubImage: { value: hubImage },
            jupyterhubValues: { value: JSON.stringify(jupyterhubValues(userImages, hubImage)) },
            continuous: { value: "true" },
        });
    });
    after(async function () {
        this.timeout(300_000);
        if (stack) {
            await stack.destroy().catch(() => undefined);
            await removeStack(stack);
        }
        // Other stacks on the shared cluster select user nodes too: leave none of ours behind.
        for (const node of [`${namespace}-user-1`, `${namespace}-user-late`]) {
            await cluster?.core.deleteNode({ name: node }).catch(() => undefined);
        }
    });

    it("up leaves only the continuous DaemonSet (a kubernetes resource), which gives a node that joins later the images", async () => {
        const result = await stack.up();
        const continuous = result.outputs.continuousDaemonSet!.value as string;
        assert.match(continuous, new RegExp(`^${namespace}/continuous-user-images-[0-9a-f]{10}$`));
        assert.deepEqual(await ourDaemonSets(cluster, namespace), [continuous.split("/")[1]]);

        const late = `${namespace}-user-late`;
        await addUserNode(cluster, late, fastPulls);
        // Every image the pre-pull covers (the chart values' extraImages add the hub image to the
        // user images): a refresh while the continuous puller still pulls one finds real drift,
        // and the next up rightly pulls it.
        const covered = result.outputs.images!.value as string[];
        assert.ok(covered.length > userImages.length, `images: ${covered.join(", ")}`);
        await waitFor(
            async () => {
                const held = await nodeImages(cluster, late);
                return covered.every((image) => held.includes(image));
            },
            `${late} to hold the images`,
            60_000,
        );
        await stack.refresh();
        const changed: string[] = [];
        const again = await stack.up({
            onEvent: (event) => {
                const step = event.resourcePreEvent?.metadata;
                if (step && step.op !== "same") {
                    changed.push(`${step.op} ${step.urn} diffs=${JSON.stringify(step.diffs ?? [])}`);
                }
            },
        });
        assert.deepEqual(
            Object.keys(again.summary.resourceChanges ?? {}),
            ["same"],
            `steps other than same:\n${changed.join("\n")}`,
        );
        assert.deepEqual(again.outputs.missingNodes!.value, {});
        assert.ok((again.outputs.nodes!.value as string[]).includes(late));
    });

    it("destroy removes the continuous DaemonSet", async () => {
        await stack.destroy();
        assert.deepEqual(await ourDaemonSets(cluster, namespace), []);
    });
});
