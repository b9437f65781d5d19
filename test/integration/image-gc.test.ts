/**
 * The kubelet's image garbage collection on the real node (k8s.io/kubernetes v1.37.2 on
 * containerd), with and without a continuous puller. Once the pre-pull's DaemonSet is gone, no
 * container uses the pulled images and the kubelet's GC may remove them; a continuous puller's pod
 * keeps its exited pull containers, so the kubelet counts its images as in use.
 *
 * The GC is forced by its age threshold, `imageMaximumGCAge: 1m` (a KubeletConfiguration field,
 * GA since v1.35; it must exceed `imageMinimumGCAge`, set to 10 s here): an image no container has used for a minute is removed at the next GC, once the
 * kubelet itself has run for a minute. The kubelet runs its image GC at start and then every
 * 5 minutes (ImageGCPeriod, not configurable), so this test waits for the second run.
 *
 * Why not the disk thresholds: the kubelet notes an image's first sighting only at start, every
 * 5 minutes and inside each GC run, and the disk-threshold path skips an image first seen less
 * than `minimumImageTTLDuration` ago. An image pulled after start is therefore first seen by the
 * GC run at minute 5, too young for it, and removed at minute 10 at the earliest. That run (tried
 * with `--image-gc-high-threshold=1 --image-gc-low-threshold=0 --minimum-image-ttl-duration=10s`)
 * logged "Failed to free sufficient space by deleting unused images (freed 0 bytes)" at minute 5;
 * the age path, which has no minimum age, picks the same never-used images first.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { prePullProvider, type PrePullOutputs } from "../../components/pulumi/provider";
import { renderContinuousPuller } from "../../components/rules/continuous";
import {
    realNodeCluster,
    REAL_NODE,
    REAL_NODE_TOLERATION,
    stopCluster,
    type LocalRegistry,
    type TestCluster,
} from "../../harness/cluster";
import { assertNothingLeft, checkedInputs, createPullSecret, nodeImages, waitFor } from "../../harness/scenario";

/** The image references the real node's containerd holds (with Debian's ctr, on its own socket). */
function runtimeImages(cluster: TestCluster): string[] {
    const record = JSON.parse(readFileSync(`${cluster.dir}/realnode-1/realnode.json`, "utf8")) as {
        containerdSocket: string;
    };
    const out = execFileSync(
        "ctr",
        ["--address", record.containerdSocket, "--namespace", "k8s.io", "images", "ls", "--quiet"],
        { encoding: "utf8" },
    );
    return out.split("\n").filter((line) => line !== "");
}

function kubeletLog(cluster: TestCluster): string {
    return readFileSync(`${cluster.dir}/realnode-1/kubelet.log`, "utf8");
}

describe("the kubelet's image garbage collection on the real node, with and without a continuous puller", function () {
    this.timeout(900_000);
    let cluster: TestCluster;
    let registry: LocalRegistry;
    const namespace = "image-gc";

    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await realNodeCluster([
            "--kubelet-config",
            "imageMaximumGCAge: 1m",
            "--kubelet-config",
            "imageMinimumGCAge: 10s",
        ]);
        registry = cluster.registry!;
        await cluster.core.createNamespace({ body: { metadata: { name: namespace } } });
        const auth = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
        await createPullSecret(cluster, namespace, {
            [registry.address]: { username: registry.username, password: registry.password, auth },
        });
    });
    after(async function () {
        this.timeout(120_000);
        if (cluster && existsSync(cluster.dir)) await stopCluster(cluster);
    });

    it("collects the images of a finished pre-pull, keeps those of a continuous puller, and refresh sees the loss", async () => {
        const common = {
            helperImage: registry.images.public,
            pauseImage: registry.images.pause,
            imagePullSecrets: ["regcred"],
            namespace,
            nodeSelector: { "prepuller.test/real-node": "true" },
            tolerations: [REAL_NODE_TOLERATION],
            timeoutSeconds: 240,
        };
        const kept = registry.images.noShell;
        const collected = registry.images.private;

        // A continuous puller of one image, as the component creates it (continuous: true).
        const continuous = await checkedInputs(cluster, { ...common, images: [kept] });
        await cluster.apps.createNamespacedDaemonSet({
            namespace,
            body: renderContinuousPuller(continuous) as never,
        });
        await waitFor(
            async () => (await nodeImages(cluster, REAL_NODE)).includes(kept),
            "the continuous puller's image on the node",
            180_000,
        );

        // A blocking pre-pull of another image: it ends, and its DaemonSet and pods are deleted.
        const inputs = await checkedInputs(cluster, { ...common, images: [collected] });
        const prePulled = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.deepEqual(prePulled.nodes, [REAL_NODE]);
        await waitFor(
            async () =>
                (await cluster.core.listNamespacedPod({ namespace })).items.every((p) =>
                    p.metadata?.name?.startsWith("continuous-"),
                ),
            "the pre-pull's pods gone",
            60_000,
        );
        assert.ok(
            runtimeImages(cluster).includes(collected),
            "the pre-pulled image is in containerd after the pre-pull",
        );

        // The kubelet's next periodic GC (5 minutes after its start) removes it.
        await waitFor(
            async () => !runtimeImages(cluster).includes(collected),
            "the kubelet's image GC to remove the pre-pulled image",
            420_000,
        );
        assert.match(kubeletLog(cluster), /Removing image to free bytes/, "the removal was not the kubelet's GC");
        const images = runtimeImages(cluster);
        assert.ok(images.includes(kept), `the continuous puller's image was collected too: ${images.join(", ")}`);
        assert.ok(
            images.includes(registry.images.public),
            `the helper image (in use by the continuous pod) was collected`,
        );

        // refresh proves the loss once the kubelet's image list says so (30 s refresh + status sync).
        await waitFor(
            async () => !(await nodeImages(cluster, REAL_NODE)).includes(collected),
            "the node's status to stop listing the collected image",
            90_000,
        );
        const refreshed = (await prePullProvider.read!(`${namespace}/${inputs.ownerId}`, prePulled))
            .props as PrePullOutputs;
        assert.deepEqual(refreshed.missingNodes, { [REAL_NODE]: inputs.images });
        assert.equal((await prePullProvider.diff!("id", refreshed, inputs)).changes, true, "the loss is not a change");

        // The continuous puller's image is still listed, so its refresh has nothing to pull.
        assert.ok((await nodeImages(cluster, REAL_NODE)).includes(kept));
        await cluster.apps.deleteNamespacedDaemonSet({
            name: (renderContinuousPuller(continuous) as { metadata: { name: string } }).metadata.name,
            namespace,
        });
        await assertNothingLeft(cluster, namespace, 120_000);
    });
});
