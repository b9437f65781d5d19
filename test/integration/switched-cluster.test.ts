/**
 * A kubeconfig that now points at another cluster is a pull change: the images are pulled there,
 * through the provider's diff and update as the engine calls them. Two local clusters, each with
 * its own nodes.
 */
import * as assert from "node:assert/strict";
import { prePullProvider, type PrePullOutputs } from "../../components/pulumi/provider";
import type { PrePullInputs } from "../../components/rules/inputs";
import { FAST_PULL, privateCluster, sharedCluster, stopCluster, type TestCluster } from "../../harness/cluster";
import { addNode, assertNothingLeft, newScenario, nodeImages, waitFor } from "../../harness/scenario";

describe("a switched cluster is pulled", function () {
    this.timeout(300_000);
    let first: TestCluster;
    let second: TestCluster | undefined;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        first = await sharedCluster();
        second = await privateCluster();
    });
    after(async function () {
        this.timeout(120_000);
        if (second) await stopCluster(second);
    });

    async function checked(news: Record<string, unknown>, olds: Record<string, unknown> = {}): Promise<PrePullInputs> {
        const { inputs, failures } = await prePullProvider.check!(olds, news);
        assert.deepEqual(failures, []);
        return inputs as PrePullInputs;
    }

    it("a kubeconfig that points at another cluster re-pulls there; the first cluster's nodes are not its nodes", async () => {
        const s = await newScenario(first, "switched");
        await second!.core.createNamespace({ body: { metadata: { name: s.namespace } } });
        const onFirst = await addNode(first, s, "first", { annotations: FAST_PULL });
        const onSecond = await addNode(second!, { ...s, id: `${s.id}-2` }, "second", { annotations: FAST_PULL });
        const image = `registry.example.com/switched/${s.id}:1`;
        const args = { images: [image], namespace: s.namespace, nodeSelector: s.nodeSelector };

        const inputs = await checked({ ...args, kubeconfig: first.kubeconfig });
        const created = await prePullProvider.create!(inputs);
        assert.deepEqual(created.outs.nodes, [onFirst]);

        const news = await checked({ ...args, kubeconfig: second!.kubeconfig }, created.outs);
        const diff = await prePullProvider.diff!(created.id, created.outs, news);
        assert.equal(diff.changes, true, "another cluster is a change");
        const updated = await prePullProvider.update!(created.id, created.outs as PrePullOutputs, news);
        assert.deepEqual(updated.outs.nodes, [onSecond]);
        assert.equal(updated.outs.skipped, false, "the images were pulled on the second cluster");
        await waitFor(
            async () => (await nodeImages(second!, onSecond)).includes(image),
            `${onSecond} to report the image`,
            30_000,
        );
        await assertNothingLeft(first, s.namespace);
        await assertNothingLeft(second!, s.namespace);
    });
});
