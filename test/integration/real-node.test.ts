/**
 * A node run by a real kubelet (k8s.io/kubernetes v1.37.2) on containerd and runc, pulling real
 * images from the harness's own registry (TLS, basic auth): ground truth for the simulated kubelet,
 * and the product on a real node. If the real node cannot start, these tests fail saying why.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { prePullProvider, type PrePullOutputs } from "../../components/pulumi/provider";
import {
    privateCluster,
    realNodeCluster,
    REAL_NODE,
    REAL_NODE_TOLERATION,
    stopCluster,
    type LocalRegistry,
    type TestCluster,
} from "../../harness/cluster";
import {
    assertNothingLeft,
    checkedInputs,
    createPullSecret,
    nodeImages,
    unchangedStatusWrites,
    waitFor,
} from "../../harness/scenario";

const SIMULATED_NODE = "node-1";

/** A pod pinned to one node, pulling the registry's images as the pre-pull pods do. */
function pullPod(
    name: string,
    node: string,
    registry: LocalRegistry,
    images: string[],
    pullSecret?: string,
): k8s.V1Pod {
    const mount = [{ name: "noop", mountPath: "/prepuller" }];
    return {
        metadata: { name },
        spec: {
            nodeName: node,
            tolerations: [REAL_NODE_TOLERATION],
            restartPolicy: "Always",
            terminationGracePeriodSeconds: 0,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            imagePullSecrets: pullSecret ? [{ name: pullSecret }] : undefined,
            volumes: [{ name: "noop", emptyDir: {} }],
            initContainers: [
                {
                    name: "install-noop",
                    image: registry.images.public,
                    command: ["cp", "/bin/true", "/prepuller/true"],
                    volumeMounts: mount,
                },
                ...images.map((image, i) => ({
                    name: `pull-${i}`,
                    image,
                    command: ["/prepuller/true"],
                    volumeMounts: mount,
                })),
            ],
            containers: [{ name: "pause", image: registry.images.pause }],
        },
    };
}

async function createSecret(cluster: TestCluster, namespace: string, registry: LocalRegistry): Promise<void> {
    const auth = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
    await createPullSecret(cluster, namespace, {
        [registry.address]: { username: registry.username, password: registry.password, auth },
    });
}

async function podWhen(
    cluster: TestCluster,
    namespace: string,
    name: string,
    ready: (pod: k8s.V1Pod) => boolean,
    what: string,
    timeoutMs = 120_000,
): Promise<k8s.V1Pod> {
    let last: k8s.V1Pod | undefined;
    await waitFor(
        async () => {
            last = await cluster.core.readNamespacedPod({ name, namespace });
            return ready(last);
        },
        `${namespace}/${name}: ${what}`,
        timeoutMs,
    );
    return last!;
}

/** What the product reads of a container status, with run-specific ids and times left out. */
function readable(status: k8s.V1ContainerStatus) {
    const t = status.state?.terminated;
    const w = status.state?.waiting;
    return {
        name: status.name,
        image: status.image,
        imageID: status.imageID,
        state: t ? "terminated" : w ? "waiting" : status.state?.running ? "running" : "none",
        reason: t?.reason ?? w?.reason,
        exitCode: t?.exitCode,
        startedRecorded: t?.startedAt !== undefined && new Date(t.startedAt).getTime() > 0,
    };
}

/** Removes images from the real node's containerd (with Debian's ctr, on the node's own socket). */
function removeImages(cluster: TestCluster, images: string[]): void {
    const record = JSON.parse(readFileSync(`${cluster.dir}/realnode-1/realnode.json`, "utf8")) as {
        containerdSocket: string;
    };
    execFileSync("ctr", ["--address", record.containerdSocket, "--namespace", "k8s.io", "images", "rm", ...images], {
        stdio: "pipe",
    });
}

function allDone(pod: k8s.V1Pod): boolean {
    return (pod.status?.containerStatuses ?? []).some((c) => c.state?.running) && pod.status?.phase === "Running";
}

describe("a real kubelet and containerd node, and the simulator held against it", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    let registry: LocalRegistry;
    const namespace = "real-node";

    before(async function () {
        this.timeout(60 * 60 * 1000);
        // One simulated node at the kubelet's default timings, beside the real node.
        cluster = await privateCluster(["--nodes", "1", "--real-nodes", "1", "--pull-seconds", "1"]);
        registry = cluster.registry!;
        assert.ok(registry, "the cluster wrote no registry.json");
        await cluster.core.createNamespace({ body: { metadata: { name: namespace } } });
        await createSecret(cluster, namespace, registry);
    });
    after(async function () {
        this.timeout(120_000);
        if (cluster && existsSync(cluster.dir)) await stopCluster(cluster);
    });

    it("the real node registers with the control plane: kubelet v1.37.2 on containerd, Ready, tainted", async () => {
        const node = await cluster.core.readNode({ name: REAL_NODE });
        assert.equal(node.status?.nodeInfo?.kubeletVersion, "v1.37.2");
        assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? "", /^containerd:\/\//);
        assert.ok(node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        assert.ok(node.spec?.taints?.some((t) => t.key === REAL_NODE_TOLERATION.key));
        const address = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? "";
        assert.match(address, /^198\.1[89]\./, "the node's address is off the private ranges");
    });

    it("conformance: pulled images are reported the same way (names, order, sizes), and the same container states", async () => {
        const images = [registry.images.public, registry.images.private, registry.images.noShell];
        for (const node of [REAL_NODE, SIMULATED_NODE]) {
            await cluster.core.createNamespacedPod({
                namespace,
                body: pullPod(`pull-${node}`, node, registry, images, "regcred"),
            });
        }
        const pods = await Promise.all(
            [REAL_NODE, SIMULATED_NODE].map((node) =>
                podWhen(cluster, namespace, `pull-${node}`, allDone, "all containers ran"),
            ),
        );
        const [real, simulated] = pods.map((p) => p.status!.initContainerStatuses!.map(readable));
        assert.deepEqual(simulated, real, "init container statuses differ between the simulated and the real node");
        const [realMain, simulatedMain] = pods.map((p) => p.status!.containerStatuses!.map(readable));
        assert.deepEqual(simulatedMain, realMain);
        // The pod's conditions (the wait loop reads PodReadyToStartContainers: the sandbox exists)
        // and its IP, set once the sandbox exists.
        const [realConditions, simulatedConditions] = pods.map((p) =>
            (p.status!.conditions ?? []).map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ""}`).sort(),
        );
        assert.deepEqual(simulatedConditions, realConditions);
        assert.ok(realConditions!.includes("PodReadyToStartContainers=True"), realConditions!.join(", "));
        assert.deepEqual(
            pods.map((p) => typeof p.status!.podIP === "string" && p.status!.podIP !== ""),
            [true, true],
        );

        // Both kubelets report the images at their default timings: within the 30 s image list
        // refresh plus the 10 s status sync after the pull.
        const reported: Record<string, k8s.V1ContainerImage[]> = {};
        for (const node of [REAL_NODE, SIMULATED_NODE]) {
            const finished = Math.max(
                ...pods
                    .find((p) => p.spec?.nodeName === node)!
                    .status!.initContainerStatuses!.map((s) => new Date(s.state!.terminated!.finishedAt!).getTime()),
            );
            let entries: k8s.V1ContainerImage[] = [];
            await waitFor(
                async () => {
                    entries = ((await cluster.core.readNode({ name: node })).status?.images ?? []).filter((i) =>
                        (i.names ?? []).some((n) => n.startsWith(`${registry.address}/prepuller/`)),
                    );
                    return entries.length >= 4;
                },
                `${node} to report the registry's images`,
                60_000,
            );
            const seconds = (Date.now() - finished) / 1000;
            assert.ok(seconds <= 45, `${node} reported the images ${seconds}s after the pull`);
            reported[node] = entries;
        }
        assert.deepEqual(reported[SIMULATED_NODE], reported[REAL_NODE]);
        // RepoDigests first, then RepoTags.
        for (const entry of reported[REAL_NODE]!) {
            assert.match(entry.names![0]!, /@sha256:[0-9a-f]{64}$/);
            assert.match(entry.names![1]!, /:[\w.-]+$/);
        }
    });

    it("conformance: a private image without credentials fails the same way, and public ones still pull", async () => {
        const images = [registry.images.public, registry.images.private];
        for (const node of [REAL_NODE, SIMULATED_NODE]) {
            const pod = pullPod(`nocreds-${node}`, node, registry, images, "does-not-exist");
            await cluster.core.createNamespacedPod({ namespace, body: pod });
        }
        const failing = (pod: k8s.V1Pod) =>
            (pod.status?.initContainerStatuses ?? []).some(
                (s) => s.name === "pull-1" && /ErrImagePull|ImagePullBackOff/.test(s.state?.waiting?.reason ?? ""),
            );
        const pods = await Promise.all(
            [REAL_NODE, SIMULATED_NODE].map((node) =>
                podWhen(cluster, namespace, `nocreds-${node}`, failing, "the private pull failing"),
            ),
        );
        const message = (pod: k8s.V1Pod) =>
            pod.status!.initContainerStatuses!.find((s) => s.name === "pull-1")!.state!.waiting!.message ?? "";
        const [realMessage, simulatedMessage] = pods.map(message);
        assert.match(realMessage, /401 Unauthorized/);
        // The same text, from the runtime's error on (the kubelet's back-off wording around it may
        // differ in the instant each pod was read).
        const core = (m: string) => m.replace(/^.*?(failed to pull and unpack image)/, "$1");
        assert.equal(core(simulatedMessage), core(realMessage), `real: ${realMessage}\nsimulated: ${simulatedMessage}`);
        // The public image before it pulled and ran on both (the kubelet only warns about the secret).
        for (const pod of pods) {
            const pub = pod.status!.initContainerStatuses!.find((s) => s.name === "pull-0")!;
            assert.equal(pub.state?.terminated?.reason, "Completed", `${pod.spec?.nodeName}: ${JSON.stringify(pub)}`);
        }
        const events = await cluster.core.listNamespacedEvent({ namespace });
        for (const node of [REAL_NODE, SIMULATED_NODE]) {
            assert.ok(
                events.items.some(
                    (e) =>
                        e.involvedObject.name === `nocreds-${node}` && e.reason === "FailedToRetrieveImagePullSecret",
                ),
                `${node}: no FailedToRetrieveImagePullSecret warning`,
            );
        }
    });

    it("conformance: a shell command on an image without a shell fails to start the same way", async () => {
        for (const node of [REAL_NODE, SIMULATED_NODE]) {
            const pod = pullPod(`shell-${node}`, node, registry, [registry.images.noShell]);
            pod.spec!.initContainers![1]!.command = ["/bin/sh", "-c", "true"];
            pod.spec!.initContainers![1]!.volumeMounts = [];
            await cluster.core.createNamespacedPod({ namespace, body: pod });
        }
        const startError = (pod: k8s.V1Pod) => {
            const s = pod.status?.initContainerStatuses?.find((c) => c.name === "pull-0");
            return (s?.state?.terminated ?? s?.lastState?.terminated)?.reason === "StartError";
        };
        const pods = await Promise.all(
            [REAL_NODE, SIMULATED_NODE].map((node) =>
                podWhen(cluster, namespace, `shell-${node}`, startError, "a StartError"),
            ),
        );
        const terminated = pods.map((pod) => {
            const s = pod.status!.initContainerStatuses!.find((c) => c.name === "pull-0")!;
            const t = (s.state?.terminated ?? s.lastState?.terminated)!;
            return {
                reason: t.reason,
                exitCode: t.exitCode,
                message: t.message,
                startedAt: new Date(t.startedAt!).getTime(),
            };
        });
        assert.deepEqual(terminated[1], terminated[0]);
        assert.equal(terminated[0]!.startedAt, 0, "a failed start reports the epoch as its start");
        assert.match(terminated[0]!.message ?? "", /exec: "\/bin\/sh": stat \/bin\/sh: no such file or directory/);
    });

    it("the product pre-pulls all three images on the real node with a pull secret; the kubelet then reports each by digest; a second run is skipped", async () => {
        const pre = "prepull-real";
        await cluster.core.createNamespace({ body: { metadata: { name: pre } } });
        await createSecret(cluster, pre, registry);
        const inputs = await checkedInputs(cluster, {
            images: [registry.images.public, registry.images.private, registry.images.noShell],
            helperImage: registry.images.public,
            pauseImage: registry.images.pause,
            imagePullSecrets: ["regcred"],
            namespace: pre,
            nodeSelector: { "prepuller.test/real-node": "true" },
            tolerations: [REAL_NODE_TOLERATION],
            timeoutSeconds: 240,
        });
        // The conformance tests pulled these images: delete their pods, remove the images from the
        // node's runtime (as an image garbage collection would) and wait until the kubelet's
        // report no longer lists them.
        await cluster.core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 });
        await waitFor(
            async () => (await cluster.core.listNamespacedPod({ namespace })).items.length === 0,
            "the conformance pods gone",
            60_000,
        );
        removeImages(cluster, inputs.images);
        await waitFor(
            async () => {
                const names = await nodeImages(cluster, REAL_NODE);
                return inputs.images.every((image) => !names.includes(image));
            },
            "the kubelet to stop reporting the removed images",
            90_000,
        );
        const first = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.equal(first.skipped, false);
        assert.deepEqual(first.nodes, [REAL_NODE]);
        await assertNothingLeft(cluster, pre);
        await waitFor(
            async () => {
                const names = await nodeImages(cluster, REAL_NODE);
                return inputs.images.every((image) => {
                    const repository = image.replace(/:[^:/]+$/, "");
                    return names.some((n) => n.startsWith(`${repository}@sha256:`)) && names.includes(image);
                });
            },
            "the kubelet to report every image by digest and tag",
            60_000,
        );
        const second = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.equal(second.skipped, true);
        assert.deepEqual(second.nodes, [REAL_NODE]);
    });

    it("the product fails early on the private image without credentials, naming node, image and the kubelet's reason", async () => {
        const pre = "prepull-real-nocreds";
        await cluster.core.createNamespace({ body: { metadata: { name: pre } } });
        // Another tag of the private repository: never pulled before, so it must be pulled now.
        const inputs = await checkedInputs(cluster, {
            images: [registry.images.private.replace(/:1$/, ":2")],
            helperImage: registry.images.public,
            pauseImage: registry.images.pause,
            namespace: pre,
            nodeSelector: { "prepuller.test/real-node": "true" },
            tolerations: [REAL_NODE_TOLERATION],
            timeoutSeconds: 300,
        });
        const started = Date.now();
        await assert.rejects(prePullProvider.create(inputs), (e: Error) => {
            assert.match(e.message, new RegExp(REAL_NODE));
            assert.match(e.message, /prepuller\/private:2/);
            assert.match(e.message, /ErrImagePull|ImagePullBackOff/);
            assert.match(e.message, /401 Unauthorized/);
            return true;
        });
        assert.ok(Date.now() - started < 90_000, `took ${(Date.now() - started) / 1000}s of a 300 s timeout`);
        await assertNothingLeft(cluster, pre);
    });

    it("cluster:down leaves no process, mount, network interface or temp dir", async function () {
        this.timeout(180_000);
        const record = JSON.parse(readFileSync(`${cluster.dir}/realnode-1/realnode.json`, "utf8")) as {
            dir: string;
            nodeInterface: string;
            bridgeInterface: string;
        };
        await stopCluster(cluster);
        assert.ok(!existsSync(cluster.dir), `${cluster.dir} still exists`);
        const processes = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
            .split("\n")
            .filter((line) => line.includes(cluster.dir));
        assert.deepEqual(processes, []);
        const mounts = readFileSync("/proc/self/mountinfo", "utf8")
            .split("\n")
            .filter((line) => line.includes(cluster.dir));
        assert.deepEqual(mounts, []);
        const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
        for (const link of [record.nodeInterface, record.bridgeInterface]) {
            assert.ok(!links.includes(`${link}:`) && !links.includes(`${link}@`), `interface ${link} remains`);
        }
    });
});

describe("a real kubelet with serializeImagePulls: false, and parallelPulls on it", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    let registry: LocalRegistry;
    const namespace = "parallel-pulls";

    before(async function () {
        this.timeout(60 * 60 * 1000);
        // The kubelet's --serialize-image-pulls=false (maxParallelImagePulls unset: unbounded), and
        // a registry that holds each blob 2 s, so that a pull lasts long enough to see overlaps.
        cluster = await realNodeCluster([
            "--kubelet-arg",
            "--serialize-image-pulls=false",
            "--registry-blob-delay",
            "2s",
        ]);
        registry = cluster.registry!;
        await cluster.core.createNamespace({ body: { metadata: { name: namespace } } });
        await createSecret(cluster, namespace, registry);
    });
    after(async function () {
        this.timeout(120_000);
        if (cluster && existsSync(cluster.dir)) await stopCluster(cluster);
    });

    it("two pre-pull pods on the real node pull their images at once: the kubelet's Pulled events overlap and neither waited", async () => {
        const inputs = await checkedInputs(cluster, {
            images: [registry.images.private, registry.images.noShell],
            helperImage: registry.images.public,
            pauseImage: registry.images.pause,
            imagePullSecrets: ["regcred"],
            namespace,
            nodeSelector: { "prepuller.test/real-node": "true" },
            tolerations: [REAL_NODE_TOLERATION],
            parallelPulls: 2,
            timeoutSeconds: 240,
        });
        const result = (await prePullProvider.create(inputs)).outs as PrePullOutputs;
        assert.deepEqual(result.nodes, [REAL_NODE]);
        await assertNothingLeft(cluster, namespace);

        // The kubelet's own account: "Successfully pulled image X in 4.1s (4.1s including waiting)".
        const events = await cluster.core.listNamespacedEvent({ namespace, fieldSelector: "reason=Pulled" });
        const pull = (image: string) => {
            const found = events.items.filter((e) => e.message?.startsWith(`Successfully pulled image "${image}"`));
            assert.equal(found.length, 1, `one pull of ${image}: ${events.items.map((e) => e.message).join("\n")}`);
            const m = / in ([\d.]+)(m?s) \(([\d.]+)(m?s) including waiting\)/.exec(found[0]!.message!);
            assert.ok(m, found[0]!.message);
            const sec = (v: string, unit: string) => Number(v) / (unit === "ms" ? 1000 : 1);
            const end = new Date(found[0]!.lastTimestamp ?? found[0]!.eventTime!).getTime() / 1000;
            return { took: sec(m[1]!, m[2]!), waited: sec(m[3]!, m[4]!), start: end - sec(m[1]!, m[2]!), end };
        };
        const [a, b] = [pull(registry.images.private), pull(registry.images.noShell)];
        for (const p of [a, b]) {
            assert.ok(p.took >= 2, `a pull held by the registry's 2 s per blob: ${JSON.stringify(p)}`);
            // A serializing kubelet would have made one of them wait for the other's whole pull.
            assert.ok(p.waited - p.took < 1, `no wait for the puller: ${JSON.stringify(p)}`);
        }
        const overlap = Math.min(a.end, b.end) - Math.max(a.start, b.start);
        assert.ok(overlap >= 1, `the two pulls overlap in time: ${JSON.stringify({ a, b })}`);
        // The report names both images on the real node, with the sizes the kubelet gave (its
        // image list, refreshed every 30 s, may not list them yet: then its Pulled events).
        for (const image of inputs.images) {
            assert.equal(result.pullReport?.images[image]?.slowestNode, REAL_NODE, JSON.stringify(result.pullReport));
            assert.ok((result.pullReport?.images[image]?.sizeBytes ?? 0) > 0, JSON.stringify(result.pullReport));
        }
    });
});

describe("a real kubelet with nodeStatusReportFrequency: 20s", function () {
    this.timeout(600_000);
    let cluster: TestCluster;

    before(async function () {
        this.timeout(60 * 60 * 1000);
        // The kubelet's default is 5 min; 20 s shows the same rule in a test's time.
        cluster = await realNodeCluster(["--kubelet-config", "nodeStatusReportFrequency: 20s"]);
    });
    after(async function () {
        this.timeout(120_000);
        if (cluster && existsSync(cluster.dir)) await stopCluster(cluster);
    });

    it("writes its unchanged status again every 20 s, only the heartbeat times new (what the simulator does every 5 min)", async () => {
        // The writes of the node's start (its image list, its conditions) settle first.
        await new Promise((r) => setTimeout(r, 40_000));
        const writes = await unchangedStatusWrites(cluster, REAL_NODE, 65_000);
        const gaps = writes.slice(1).map((t, i) => (t - writes[i]!) / 1000);
        // 65 s at one write per 20 s: 3 or 4 writes (not one per 10 s status sync, not none).
        assert.ok(writes.length >= 3 && writes.length <= 4, `${writes.length} unchanged status writes in 65 s`);
        // The kubelet checks every 10 s (nodeStatusUpdateFrequency) whether 20 s have passed, and
        // API timestamps have whole seconds.
        assert.ok(
            gaps.every((g) => g >= 19 && g <= 31),
            `unchanged status written ${gaps.join(", ")} s apart`,
        );
    });
});
