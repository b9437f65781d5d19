/**
 * The local cluster behaves like a stock one: upstream's controller set at its default client
 * rate, and simulated kubelets that report and fail the way a v1.37 kubelet does (field by field
 * where test/integration/real-node.test.ts can compare them with a real kubelet; by the kubelet's
 * source where it cannot, said in each test).
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { FAST_STATUS, sharedCluster, SIM, type TestCluster } from "../../harness/cluster";
import { addNode, annotateNode, newScenario, seedImages, unchangedStatusWrites, waitFor } from "../../harness/scenario";

function mergePatch(cluster: TestCluster) {
    return cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch);
}

async function podStatus(cluster: TestCluster, namespace: string, name: string): Promise<k8s.V1Pod> {
    return cluster.core.readNamespacedPod({ name, namespace });
}

describe("the local cluster is as strict as a stock one", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    it("runs kube-controller-manager with upstream's default controllers and client rate (nothing raised)", () => {
        const info = JSON.parse(readFileSync(path.join(cluster.dir, "simulator.json"), "utf8")) as {
            controllers: string;
            controllerManagerArgs: string[] | null;
        };
        assert.equal(info.controllers, "*");
        assert.deepEqual(info.controllerManagerArgs ?? [], []);
    });

    it("a Deployment gets Ready pods (deployment and replicaset controllers run)", async () => {
        const s = await newScenario(cluster, "deployment");
        await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "0.2", ...FAST_STATUS } });
        const labels = { app: "web" };
        await cluster.apps.createNamespacedDeployment({
            namespace: s.namespace,
            body: {
                metadata: { name: "web" },
                spec: {
                    replicas: 2,
                    selector: { matchLabels: labels },
                    template: {
                        metadata: { labels },
                        spec: {
                            nodeSelector: s.nodeSelector,
                            containers: [{ name: "web", image: "registry.example.com/web:1" }],
                        },
                    },
                },
            },
        });
        await waitFor(
            async () =>
                (await cluster.apps.readNamespacedDeployment({ name: "web", namespace: s.namespace })).status
                    ?.readyReplicas === 2,
            "2 ready replicas",
            90_000,
        );
    });

    it("status.images: RepoDigests then RepoTags (sorted), at most 5 names per image", async () => {
        const s = await newScenario(cluster, "five-names");
        const node = await addNode(cluster, s, "a", { annotations: FAST_STATUS });
        // One image known under seven tags (ctr images tag), as the kubelet lists it.
        const tags = [1, 2, 3, 4, 5, 6, 7].map((t) => `registry.example.com/team/app:${t}`);
        await annotateNode(cluster, node, { [SIM.preloadedImages]: tags.join("|") });
        let entry: k8s.V1ContainerImage | undefined;
        await waitFor(
            async () => {
                const images = (await cluster.core.readNode({ name: node })).status?.images ?? [];
                entry = images.find((i) => (i.names ?? []).some((n) => n.startsWith("registry.example.com/team/app")));
                return entry !== undefined;
            },
            "the image in status.images",
            30_000,
        );
        assert.equal(entry!.names!.length, 5);
        assert.match(entry!.names![0]!, /^registry\.example\.com\/team\/app@sha256:[0-9a-f]{64}$/);
        assert.deepEqual(entry!.names!.slice(1), tags.slice(0, 4));
    });

    it("status.images: the 50 largest images, re-cut on every status sync", async () => {
        const s = await newScenario(cluster, "fifty-cap");
        const node = await addNode(cluster, s, "a", { annotations: FAST_STATUS });
        const sixty = Array.from({ length: 60 }, (_, i) => ({
            names: [`registry.example.com/big/image-${i}:1`],
            sizeBytes: 1e9 + i * 1e6,
        }));
        await seedImages(cluster, node, sixty);
        const listed = (await cluster.core.readNode({ name: node })).status!.images!;
        assert.equal(listed.length, 50);
        const sizes = listed.map((i) => i.sizeBytes!);
        assert.deepEqual(
            sizes,
            [...sizes].sort((a, b) => b - a),
            "largest first",
        );
        assert.ok(!listed.some((i) => i.names!.includes("registry.example.com/big/image-0:1")), "the smallest is cut");
        // A larger image pulled later pushes another one out at the next sync.
        await seedImages(cluster, node, [{ names: ["registry.example.com/big/huge:1"], sizeBytes: 5e9 }]);
        const after = (await cluster.core.readNode({ name: node })).status!.images!;
        assert.equal(after.length, 50);
        assert.ok(after[0]!.names!.includes("registry.example.com/big/huge:1"));
        assert.ok(!after.some((i) => i.names!.includes("registry.example.com/big/image-10:1")));
    });

    it("at the kubelet's default timings, a pulled image is reported within the 30 s image-list refresh plus the 10 s status sync, and the Lease is renewed every 10 s", async () => {
        const s = await newScenario(cluster, "default-timing");
        const node = await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "0.2" } });
        const image = "registry.example.com/timing/app:1";
        await cluster.core.createNamespacedPod({
            namespace: s.namespace,
            body: {
                metadata: { name: "pull" },
                spec: { nodeName: node, containers: [{ name: "app", image }] },
            },
        });
        let startedAt = 0;
        await waitFor(
            async () => {
                const pod = await podStatus(cluster, s.namespace, "pull");
                const running = pod.status?.containerStatuses?.[0]?.state?.running;
                if (running?.startedAt) startedAt = new Date(running.startedAt).getTime();
                return startedAt > 0;
            },
            "the container to run",
            30_000,
        );
        let reportedAt = 0;
        await waitFor(
            async () => {
                const names = (await cluster.core.readNode({ name: node })).status?.images?.flatMap(
                    (i) => i.names ?? [],
                );
                if (names?.includes(image)) reportedAt = Date.now();
                return reportedAt > 0;
            },
            "the image to be reported",
            60_000,
        );
        const delay = (reportedAt - startedAt) / 1000;
        // API timestamps have whole seconds: allow one on either side.
        assert.ok(delay >= -1 && delay <= 41, `reported ${delay}s after the container started`);

        const renewals: number[] = [];
        const coordination = cluster.kc.makeApiClient(cluster.lib.CoordinationV1Api);
        await waitFor(
            async () => {
                const lease = await coordination.readNamespacedLease({ name: node, namespace: "kube-node-lease" });
                const renewed = new Date(lease.spec!.renewTime!).getTime();
                if (renewals.at(-1) !== renewed) renewals.push(renewed);
                return renewals.length >= 3;
            },
            "two Lease renewals",
            40_000,
        );
        const gap = (renewals[2]! - renewals[1]!) / 1000;
        assert.ok(gap >= 9 && gap <= 11, `Lease renewed ${gap}s apart`);
    });

    it("an unchanged node status is written again every nodeStatusReportFrequency (default 5 min), only its heartbeat times new (kubelet source: pkg/kubelet/kubelet_node_status.go; the real kubelet at 20 s: real-node.test.ts)", async () => {
        const info = JSON.parse(readFileSync(path.join(cluster.dir, "simulator.json"), "utf8")) as {
            nodeStatusReportSeconds: number;
        };
        assert.equal(info.nodeStatusReportSeconds, 300, "the kubelet's default nodeStatusReportFrequency");
        const s = await newScenario(cluster, "status-report");
        // Synced every 0.5 s, written unchanged every 6 s: the kubelet's 10 s and 5 min, faster.
        const node = await addNode(cluster, s, "a", {
            annotations: { [SIM.nodeStatusSeconds]: "0.5", [SIM.nodeStatusReportSeconds]: "6" },
        });
        // addNode returned once the node was Ready. Let the writes of the node's start settle, then watch 20 s of a node where nothing changes.
        await new Promise((r) => setTimeout(r, 3000));
        const writes = await unchangedStatusWrites(cluster, node, 20_000);
        // 20 s at one write per 6 s: 3 or 4 writes (not one per 0.5 s sync, not none).
        assert.ok(writes.length >= 2 && writes.length <= 4, `${writes.length} unchanged status writes in 20 s`);
        const gaps = writes.slice(1).map((t, i) => (t - writes[i]!) / 1000);
        // API timestamps have whole seconds: allow one on either side.
        assert.ok(
            gaps.every((g) => g >= 5 && g <= 7),
            `unchanged status written ${gaps.join(", ")} s apart`,
        );
    });

    it("a pod evicted mid-pull: phase Failed, reason Evicted, and the kubelet's TerminatePod marks (kubelet source: pkg/kubelet/status TerminatePod)", async () => {
        // Not compared with the real node: a kubelet evicts only under node pressure. The
        // simulator's eviction annotation stands in; the statuses follow the kubelet's code:
        // init containers up to the last one with evidence of a start (at least the first) that
        // are not terminated become ContainerStatusUnknown, exit 137; later ones stay waiting.
        const s = await newScenario(cluster, "evict");
        const node = await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "30", ...FAST_STATUS } });
        await cluster.core.createNamespacedPod({
            namespace: s.namespace,
            body: {
                metadata: { name: "evicted" },
                spec: {
                    nodeName: node,
                    initContainers: [
                        { name: "first", image: "registry.example.com/evict/first:1" },
                        { name: "second", image: "registry.example.com/evict/second:1" },
                    ],
                    containers: [{ name: "main", image: "registry.example.com/evict/main:1" }],
                },
            },
        });
        await waitFor(
            async () =>
                (await podStatus(cluster, s.namespace, "evicted")).status?.initContainerStatuses?.[0]?.state
                    ?.waiting !== undefined,
            "the first init container pulling",
            30_000,
        );
        await cluster.core.patchNamespacedPod(
            {
                name: "evicted",
                namespace: s.namespace,
                body: {
                    metadata: { annotations: { [SIM.evict]: "The node was low on resource: ephemeral-storage." } },
                },
            },
            mergePatch(cluster),
        );
        let pod: k8s.V1Pod | undefined;
        await waitFor(
            async () => {
                pod = await podStatus(cluster, s.namespace, "evicted");
                return pod.status?.phase === "Failed";
            },
            "the pod Failed",
            30_000,
        );
        assert.equal(pod!.status!.reason, "Evicted");
        const [first, second] = pod!.status!.initContainerStatuses!;
        assert.deepEqual(
            { reason: first!.state?.terminated?.reason, exitCode: first!.state?.terminated?.exitCode },
            { reason: "ContainerStatusUnknown", exitCode: 137 },
        );
        assert.ok(!first!.state?.terminated?.startedAt, "it never started");
        assert.ok(second!.state?.waiting, `the second stays waiting: ${JSON.stringify(second!.state)}`);
        assert.ok(pod!.status!.conditions!.some((c) => c.type === "DisruptionTarget" && c.status === "True"));
    });

    it("serializeImagePulls: false pulls different pods' images at once, within maxParallelImagePulls and the node's bandwidth; true (the default) one after another (kubelet source: pkg/kubelet/images puller, the Pulled event's wording)", async () => {
        // Not compared with the real node here: test/integration/real-node.test.ts shows two pulls
        // of its registry overlapping on a kubelet with serializeImagePulls: false. The "in X"
        // of the kubelet's Pulled event counts from when the puller took the pull, "including
        // waiting" from when the container asked; a pull alone takes pull-seconds (3 s here).
        const s = await newScenario(cluster, "parallel");
        const kinds: Record<string, Record<string, string>> = {
            // Room for four lone pulls at once: two pulls overlap without slowing each other.
            wide: { [SIM.serializeImagePulls]: "false", [SIM.pullBandwidth]: "4" },
            // A pull alone fills the link: two at once take twice as long each (never free).
            narrow: { [SIM.serializeImagePulls]: "false" },
            // maxParallelImagePulls: 1: the second waits for the first's slot.
            oneSlot: { [SIM.serializeImagePulls]: "false", [SIM.maxParallelImagePulls]: "1", [SIM.pullBandwidth]: "4" },
            // The kubelet's default.
            serial: {},
        };
        const nodes: Record<string, string> = {};
        for (const [kind, annotations] of Object.entries(kinds)) {
            nodes[kind] = await addNode(cluster, s, kind.toLowerCase(), {
                annotations: { ...FAST_STATUS, [SIM.pullSeconds]: "3", ...annotations },
            });
        }
        await Promise.all(
            Object.entries(nodes).flatMap(([kind, node]) =>
                ["one", "two"].map((which) =>
                    cluster.core.createNamespacedPod({
                        namespace: s.namespace,
                        body: {
                            metadata: { name: `${kind.toLowerCase()}-${which}` },
                            spec: {
                                nodeName: node,
                                containers: [
                                    {
                                        name: "main",
                                        image: `registry.example.com/parallel/${kind.toLowerCase()}-${which}:1`,
                                    },
                                ],
                            },
                        },
                    }),
                ),
            ),
        );
        type Pull = { took: number; waited: number };
        let pulls: Record<string, Pull[]> = {};
        await waitFor(
            async () => {
                const events = await cluster.core.listNamespacedEvent({
                    namespace: s.namespace,
                    fieldSelector: "reason=Pulled",
                });
                pulls = {};
                for (const e of events.items) {
                    const m =
                        /^Successfully pulled image "[^"]+" in ([\d.]+)(m?s) \(([\d.]+)(m?s) including waiting\)\. Image size: \d+ bytes\.$/.exec(
                            e.message ?? "",
                        );
                    assert.ok(m, `the kubelet's Pulled wording: ${e.message}`);
                    const sec = (v: string, unit: string) => Number(v) / (unit === "ms" ? 1000 : 1);
                    const kind = Object.keys(nodes).find((k) =>
                        e.involvedObject?.name?.startsWith(`${k.toLowerCase()}-`),
                    )!;
                    (pulls[kind] ??= []).push({ took: sec(m[1]!, m[2]!), waited: sec(m[3]!, m[4]!) });
                }
                return Object.keys(nodes).every((k) => pulls[k]?.length === 2);
            },
            "two Pulled events on every node",
            60_000,
        );
        const near = (actual: number, expected: number, what: string) =>
            assert.ok(
                Math.abs(actual - expected) <= 0.75,
                `${what}: ${actual.toFixed(2)} s, expected about ${expected} s`,
            );
        const sorted = (kind: string) => [...pulls[kind]!].sort((a, b) => a.waited - b.waited);
        for (const p of sorted("wide")) {
            near(p.took, 3, "wide link: each pull");
            near(p.waited, 3, "wide link: no waiting");
        }
        for (const p of sorted("narrow")) {
            near(p.took, 6, "one pull's bandwidth shared by two: each pull");
            near(p.waited, 6, "narrow link: no slot to wait for");
        }
        for (const kind of ["oneSlot", "serial"]) {
            const [first, second] = sorted(kind);
            near(first!.took, 3, `${kind}: the first pull`);
            near(first!.waited, 3, `${kind}: the first pull does not wait`);
            near(second!.took, 3, `${kind}: the second pull, once it has the puller`);
            near(second!.waited, 6, `${kind}: the second pull waits for the first`);
        }
    });

    it("a sandbox the runtime cannot create: a FailedCreatePodSandBox Warning, PodReadyToStartContainers=False and no pod IP until it can (kubelet source: pkg/kubelet/kuberuntime, status generation)", async () => {
        // Not compared with the real node: its runc works. As the kubelet: the Warning is
        // repeated while it retries, containers stay waiting (PodInitializing), the condition
        // turns True and the pod gets its IP once the sandbox exists.
        const s = await newScenario(cluster, "sandbox");
        const node = await addNode(cluster, s, "a", {
            annotations: {
                ...FAST_STATUS,
                [SIM.sandboxError]: "runc create failed: unable to start container process",
            },
        });
        await cluster.core.createNamespacedPod({
            namespace: s.namespace,
            body: {
                metadata: { name: "sandbox" },
                spec: { nodeName: node, containers: [{ name: "main", image: "registry.example.com/sandbox/main:1" }] },
            },
        });
        const condition = (pod: k8s.V1Pod) =>
            pod.status?.conditions?.find((c) => c.type === "PodReadyToStartContainers")?.status;
        let pod: k8s.V1Pod | undefined;
        await waitFor(
            async () => {
                const events = await cluster.core.listNamespacedEvent({
                    namespace: s.namespace,
                    fieldSelector: "reason=FailedCreatePodSandBox",
                });
                pod = await podStatus(cluster, s.namespace, "sandbox");
                return events.items.length > 0 && condition(pod) !== undefined;
            },
            "a FailedCreatePodSandBox event and a pod status",
            30_000,
        );
        assert.equal(condition(pod!), "False");
        assert.ok(!pod!.status?.podIP, `no pod IP before the sandbox exists: ${pod!.status?.podIP}`);
        assert.equal(pod!.status?.containerStatuses?.[0]?.state?.waiting?.reason, "PodInitializing");

        await annotateNode(cluster, node, { [SIM.sandboxError]: null });
        await waitFor(
            async () => condition((pod = await podStatus(cluster, s.namespace, "sandbox"))) === "True",
            "PodReadyToStartContainers=True once the runtime can create the sandbox",
            30_000,
        );
        assert.ok(pod!.status?.podIP, "a pod IP once the sandbox exists");
    });

    it("a node whose heartbeats stop turns Ready=Unknown through the node-lifecycle controller (grace period 50 s)", async function () {
        this.timeout(180_000);
        const s = await newScenario(cluster, "heartbeat");
        const node = await addNode(cluster, s, "a", { annotations: FAST_STATUS });
        await annotateNode(cluster, node, { [SIM.heartbeat]: "stopped" });
        const stoppedAt = Date.now();
        let ready: k8s.V1NodeCondition | undefined;
        await waitFor(
            async () => {
                const n = await cluster.core.readNode({ name: node });
                ready = n.status?.conditions?.find((c) => c.type === "Ready");
                return ready?.status === "Unknown";
            },
            "Ready=Unknown",
            120_000,
        );
        const after = (Date.now() - stoppedAt) / 1000;
        assert.ok(after >= 40, `Unknown after only ${after}s: the grace period is 50 s after the last heartbeat`);
        assert.equal(ready!.reason, "NodeStatusUnknown");
        const taints = (await cluster.core.readNode({ name: node })).spec?.taints ?? [];
        assert.ok(taints.some((t) => t.key === "node.kubernetes.io/unreachable"));
        await cluster.core.deleteNode({ name: node });
    });
});
