/**
 * What counts as proof, against the simulated kubelet: a container the kubelet gave up on is no
 * evidence that its image is on the node, and `pulumi refresh` reports drift only where the
 * kubelet's report proves it (5 names per image, the 50-image cap, the image list it posts
 * up to 40 s after a pull).
 */
import * as assert from "node:assert/strict";
import { prePullProvider, type PrePullOutputs } from "../../components/pulumi/provider";
import { FAST_PULL, FAST_STATUS, sharedCluster, SIM, type TestCluster } from "../../harness/cluster";
import {
    addNode,
    assertNothingLeft,
    checkedInputs,
    newScenario,
    nodeImages,
    seedImages,
    waitFor,
} from "../../harness/scenario";

describe("what counts as proof", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    it("a pod evicted mid-pull (ContainerStatusUnknown) is no evidence: the create waits for a pod that really pulled", async () => {
        const s = await newScenario(cluster, "evicted-mid-pull");
        const node = await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "8", ...FAST_STATUS } });
        // The helper image is the wanted one, so the first init container (the one the kubelet
        // marks ContainerStatusUnknown when the pod is terminated before anything started) uses it.
        const image = "docker.io/library/busybox:1.37.0";
        const inputs = await checkedInputs(cluster, {
            images: [image],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const creating = prePullProvider.create(inputs);
        let evicted = "";
        await waitFor(
            async () => {
                const pods = await cluster.core.listNamespacedPod({ namespace: s.namespace });
                const pulling = pods.items.find((p) => p.status?.initContainerStatuses?.[0]?.state?.waiting);
                if (!pulling) return false;
                evicted = pulling.metadata!.name!;
                await cluster.core.patchNamespacedPod(
                    {
                        name: evicted,
                        namespace: s.namespace,
                        // A finalizer keeps the evicted pod (and its statuses) visible after the
                        // DaemonSet controller deletes it, instead of for the few milliseconds
                        // that takes: a create trusting ContainerStatusUnknown would surely see it.
                        body: {
                            metadata: {
                                finalizers: ["prepuller.test/hold"],
                                annotations: { [SIM.evict]: "The node was low on resource: memory." },
                            },
                        },
                    },
                    cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
                );
                return true;
            },
            "a pre-pull pod pulling",
            30_000,
        );
        await waitFor(
            async () => {
                const pod = await cluster.core
                    .readNamespacedPod({ name: evicted, namespace: s.namespace })
                    .catch(() => undefined);
                const first = pod?.status?.initContainerStatuses?.[0];
                return pod === undefined || first?.state?.terminated?.reason === "ContainerStatusUnknown";
            },
            "the kubelet to mark the evicted pod",
            30_000,
        );
        const result = (await creating).outs as PrePullOutputs;
        assert.deepEqual(result.nodes, [node]);
        // Done means pulled: the kubelet reports the image (had the create trusted the evicted
        // pod, no pod would ever have pulled it).
        await waitFor(
            async () => (await nodeImages(cluster, node)).includes(image),
            "the node to report the image",
            10_000,
        );
        // Let the held pod go (its finalizer was the test's).
        await cluster.core.patchNamespacedPod(
            { name: evicted, namespace: s.namespace, body: { metadata: { finalizers: [] } } },
            cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    async function refresh(inputs: PrePullOutputs): Promise<PrePullOutputs> {
        return (await prePullProvider.read!(`${inputs.namespace}/${inputs.ownerId}`, inputs)).props as PrePullOutputs;
    }

    it("refresh: no drift for an image whose wanted tag the kubelet cut (more than 5 names)", async () => {
        const s = await newScenario(cluster, "seven-names");
        const node = await addNode(cluster, s, "a", { annotations: FAST_PULL });
        const tags = [1, 2, 3, 4, 5, 6, 7].map((t) => `registry.example.com/team/notebook:${t}`);
        await cluster.core.patchNode(
            { name: node, body: { metadata: { annotations: { [SIM.preloadedImages]: tags.join("|") } } } },
            cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
        );
        await waitFor(
            async () => (await nodeImages(cluster, node)).includes(tags[0]!),
            "the node to report the image",
            10_000,
        );
        const wanted = tags[6]!;
        assert.ok(!(await nodeImages(cluster, node)).includes(wanted), "the 7th tag is cut from the report");
        const inputs = await checkedInputs(cluster, {
            images: [wanted],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const created = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.deepEqual(created.nodes, [node]);
        const refreshed = await refresh(created);
        assert.deepEqual(refreshed.missingNodes, {});
        assert.equal((await prePullProvider.diff!("id", refreshed, inputs)).changes, false);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("refresh: no drift right after a pull the kubelet has not reported yet (default timings), and none once it has", async () => {
        const s = await newScenario(cluster, "not-yet-reported");
        const node = await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "0.3" } });
        const image = "registry.example.com/team/fresh:1";
        const inputs = await checkedInputs(cluster, {
            images: [image],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const created = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.equal(created.skipped, false);
        assert.ok(
            !(await nodeImages(cluster, node)).includes(image),
            "the kubelet reported it already; the test needs the window",
        );
        const refreshed = await refresh(created);
        assert.deepEqual(refreshed.missingNodes, {});
        await waitFor(async () => (await nodeImages(cluster, node)).includes(image), "the image reported", 60_000);
        assert.deepEqual((await refresh(created)).missingNodes, {});
        await assertNothingLeft(cluster, s.namespace);
    });

    it("refresh: no drift for a node at the 50-image cap, whose report leaves the small image out", async () => {
        const s = await newScenario(cluster, "capped-refresh");
        const node = await addNode(cluster, s, "a", { annotations: FAST_PULL });
        const big = Array.from({ length: 60 }, (_, i) => ({
            names: [`registry.example.com/big/image-${i}:1`],
            sizeBytes: 50e9 + i,
        }));
        await seedImages(cluster, node, big);
        const image = "registry.example.com/team/small:1";
        const inputs = await checkedInputs(cluster, {
            images: [image],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const created = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        // Long after the pull, the kubelet has posted its list: still capped, still without ours.
        await new Promise((r) => setTimeout(r, 2000));
        assert.ok(!(await nodeImages(cluster, node)).includes(image));
        assert.deepEqual((await refresh(created)).missingNodes, {});
        await assertNothingLeft(cluster, s.namespace);
    });

    it("refresh: drift where the report proves it (a node that joined without the image, below the cap)", async () => {
        const s = await newScenario(cluster, "proven-drift");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        const inputs = await checkedInputs(cluster, {
            images: ["registry.example.com/team/drift:1"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const created = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        const late = await addNode(cluster, s, "late", { annotations: FAST_PULL });
        assert.deepEqual(Object.keys((await refresh(created)).missingNodes), [late]);
        await assertNothingLeft(cluster, s.namespace);
    });
});
