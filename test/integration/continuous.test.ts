/**
 * Nodes that join later (drift seen by refresh), the cleanup of what older versions left, and `maxParallelNodes`, against
 * the local control plane with simulated kubelets. Each scenario owns its nodes and namespace.
 */
import * as assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { legacyContinuousOwnerId } from "../../components/rules/continuous";
import { daemonSetSpecification, renderDaemonSet } from "../../components/rules/daemonset";
import { cleanupProvider, prePullProvider, type PrePullOutputs } from "../../components/pulumi/provider";
import { sharedCluster, FAST_PULL, SIM, type TestCluster, FAST_STATUS } from "../../harness/cluster";
import {
    addNode,
    assertNothingLeft,
    checkedInputs,
    create,
    leftovers,
    newScenario,
    nodeImages,
    recordWhile,
    seedImages,
    waitFor,
} from "../../harness/scenario";

describe("nodes that join later, and a limit on nodes pulling at once", function () {
    this.timeout(180_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    it("refresh reports a node that joined without the images, and stops once the kubelet reports them", async () => {
        const s = await newScenario(cluster, "refresh-join");
        const images = ["quay.io/jupyter/minimal-notebook:2025-02-02", "python:3.13-slim"];
        const normalized = ["quay.io/jupyter/minimal-notebook:2025-02-02", "docker.io/library/python:3.13-slim"];
        await Promise.all(["a", "b"].map((n) => addNode(cluster, s, n, { annotations: FAST_PULL })));
        const inputs = await checkedInputs(cluster, { images, namespace: s.namespace, nodeSelector: s.nodeSelector });
        const prePulled = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.equal(prePulled.nodes.length, 2);

        const late = await addNode(cluster, s, "late", { annotations: FAST_PULL });
        const refreshed = (await prePullProvider.read!(`${s.namespace}/${inputs.ownerId}`, prePulled))
            .props as PrePullOutputs;
        assert.deepEqual(refreshed.missingNodes, { [late]: normalized });
        assert.equal((await prePullProvider.diff!("id", refreshed, inputs)).changes, true, "drift not detected");

        // The node gets the images some other way (its runtime holds them now).
        await seedImages(
            cluster,
            late,
            normalized.map((names, i) => ({ names: [names], sizeBytes: 1e9 + i })),
        );
        const healed = (await prePullProvider.read!(`${s.namespace}/${inputs.ownerId}`, refreshed))
            .props as PrePullOutputs;
        assert.deepEqual(healed.missingNodes, {});
        assert.deepEqual(healed.nodes.length, 3);
        assert.equal((await prePullProvider.diff!("id", healed, inputs)).changes, false);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("the cleanup guard's delete removes a continuous DaemonSet of a version before 0.2 that a killed run never recorded", async () => {
        const s = await newScenario(cluster, "legacy-continuous");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        const inputs = await checkedInputs(cluster, {
            images: ["python:3.13-alpine"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const legacyOwner = legacyContinuousOwnerId(inputs.ownerId);
        await cluster.apps.createNamespacedDaemonSet({
            namespace: s.namespace,
            body: renderDaemonSet({
                ...daemonSetSpecification(inputs),
                name: legacyOwner,
                ownerId: legacyOwner,
            }) as never,
        });
        await cleanupProvider.delete!(`${s.namespace}/${inputs.ownerId}`, {
            namespace: s.namespace,
            ownerId: inputs.ownerId,
            kubeconfig: cluster.kubeconfig,
        });
        await waitFor(
            async () => (await leftovers(cluster, s.namespace)).length === 0,
            "the legacy DaemonSet and its pods gone",
            60_000,
        );
    });

    it("with maxParallelNodes 2 on 6 nodes, never more than 2 nodes pull at once, and no pull is interrupted", async () => {
        const s = await newScenario(cluster, "max-parallel");
        const slow = { [SIM.pullSeconds]: "1.5", ...FAST_STATUS };
        const nodes = await Promise.all(
            ["a", "b", "c", "d", "e", "f"].map((n) => addNode(cluster, s, n, { annotations: slow })),
        );
        const { result, pods } = await recordPods(cluster, s.namespace, async () =>
            prePullProvider.create(
                await checkedInputs(cluster, {
                    images: ["python:3.12-bookworm", "quay.io/jupyter/r-notebook:2025-01-01"],
                    namespace: s.namespace,
                    nodeSelector: s.nodeSelector,
                    maxParallelNodes: 2,
                }),
            ),
        );
        assert.deepEqual((result.outs as PrePullOutputs).nodes, [...nodes].sort());

        // One pod per node: moving the batch never restarted a pull.
        assert.deepEqual(pods.map((p) => p.spec?.nodeName).sort(), [...nodes].sort());
        // A pod pulls from its creation until its last pull container finished. The API's
        // timestamps have whole seconds, so intervals are half-open: a pod created in the
        // second another finished does not count as overlapping (truncation never invents one).
        const intervals = pods.map((pod) => {
            const finished = (pod.status?.initContainerStatuses ?? [])
                .filter((c) => c.name.startsWith("pull-"))
                .map((c) => c.state?.terminated?.finishedAt);
            assert.ok(
                finished.length === 2 && finished.every((f) => f !== undefined),
                `pod ${pod.metadata?.name} did not finish both pulls: ${JSON.stringify(pod.status?.initContainerStatuses)}`,
            );
            return {
                node: pod.spec?.nodeName,
                start: new Date(pod.metadata!.creationTimestamp!).getTime(),
                end: Math.max(...finished.map((f) => new Date(f!).getTime())),
            };
        });
        const most = maxOverlap(intervals);
        assert.equal(most, 2, `at most 2 nodes may pull at once, and 2 should: ${JSON.stringify(intervals)}`);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("with maxParallelNodes, a node done by pod evidence alone stays done when its pod leaves with the batch", async () => {
        const s = await newScenario(cluster, "batch-evidence");
        const big = Array.from({ length: 60 }, (_, i) => ({
            names: [`registry.example.com/big/image-${i}:1`],
            sizeBytes: 50e9 + i,
        }));
        const nodes = await Promise.all(["a", "b"].map((n) => addNode(cluster, s, n, { annotations: FAST_PULL })));
        for (const node of nodes) await seedImages(cluster, node, big);
        const result = await create(cluster, {
            images: ["python:3.12-alpine"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            maxParallelNodes: 1,
            timeoutSeconds: 60,
        });
        assert.deepEqual(result.nodes, [...nodes].sort());
        for (const node of nodes) {
            assert.ok(!(await nodeImages(cluster, node)).includes("docker.io/library/python:3.12-alpine"));
        }
        await assertNothingLeft(cluster, s.namespace);
    });
});

/** The most half-open [start, end) intervals that overlap at one instant. */
function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
    const events = intervals.flatMap((i) => [
        { at: i.start, delta: 1 },
        { at: i.end, delta: -1 },
    ]);
    // At equal times, ends come first: [0, 3) and [3, 5) do not overlap.
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let current = 0;
    let most = 0;
    for (const event of events) {
        current += event.delta;
        most = Math.max(most, current);
    }
    return most;
}

/** Every pod seen in the namespace while `body` runs, in its last observed state. */
async function recordPods<T>(
    cluster: TestCluster,
    namespace: string,
    body: () => Promise<T>,
): Promise<{ result: T; pods: k8s.V1Pod[] }> {
    const { result, events } = await recordWhile<k8s.V1Pod, T>(cluster, `/api/v1/namespaces/${namespace}/pods`, body);
    const latest: Record<string, k8s.V1Pod> = {};
    for (const { obj } of events) latest[obj.metadata?.uid ?? "?"] = obj;
    return { result, pods: Object.values(latest) };
}
