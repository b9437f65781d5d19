/**
 * The provider's create/delete against a real control plane (etcd, kube-apiserver, DaemonSet
 * controller, scheduler, garbage collector) with simulated kubelets. Each scenario owns its
 * nodes (selected by a label) and namespace, and ends by asserting nothing of ours remains.
 */
import * as assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { prePullProvider } from "../../components/pulumi/provider";
import { targetNode } from "../../components/rules/problems";
import type { PullReport } from "../../components/rules/public-types";
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
    watchDaemonSets,
    type Scenario,
} from "../../harness/scenario";

const images = ["quay.io/jupyter/base-notebook:2025-01-01", "python:3.12-slim", "gcr.io/distroless/static:nonroot"];
const normalized = [
    "quay.io/jupyter/base-notebook:2025-01-01",
    "docker.io/library/python:3.12-slim",
    "gcr.io/distroless/static:nonroot",
];

describe("pre-pull on a real control plane", function () {
    this.timeout(180_000);
    let cluster: TestCluster;
    before(async function () {
        // A cold build of the cluster binary can take long; CI builds it before the tests.
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    async function scenario(title: string): Promise<Scenario> {
        return newScenario(cluster, title);
    }

    it("skips, creating no DaemonSet, when every eligible node already holds every image", async () => {
        const s = await scenario("skip");
        for (const name of ["a", "b"]) {
            const node = await addNode(cluster, s, name, { annotations: FAST_PULL });
            await seedImages(
                cluster,
                node,
                normalized.map((n, i) => ({ names: [n], sizeBytes: 1e8 + i })),
            );
        }
        const { result, seen } = await watchDaemonSets(cluster, s.namespace, () =>
            create(cluster, { images, namespace: s.namespace, nodeSelector: s.nodeSelector }),
        );
        assert.equal(result.skipped, true);
        assert.equal(result.nodes.length, 2);
        assert.deepEqual(seen, [], "a DaemonSet was created");
        await assertNothingLeft(cluster, s.namespace);
    });

    it("pulls 3 images onto 3 nodes and removes the DaemonSet", async () => {
        const s = await scenario("three-by-three");
        const nodes = await Promise.all(["a", "b", "c"].map((n) => addNode(cluster, s, n, { annotations: FAST_PULL })));
        const { result, seen } = await watchDaemonSets(cluster, s.namespace, () =>
            create(cluster, { images, namespace: s.namespace, nodeSelector: s.nodeSelector }),
        );
        assert.equal(result.skipped, false);
        assert.deepEqual(result.nodes, [...nodes].sort());
        assert.deepEqual(result.images, normalized);
        assert.equal(seen.length, 1);
        // The kubelet reports images after its status delay; pod evidence may have ended the wait first.
        for (const node of nodes) {
            await waitFor(
                async () => {
                    const held = await nodeImages(cluster, node);
                    return normalized.every((image) => held.includes(image));
                },
                `${node} to report all images`,
                10_000,
            );
        }
        // Each image's size in the pull report, though the nodes had not listed the fresh pulls by
        // the end of the run: the kubelet's Pulled events, read while the run waited.
        const listed = (await cluster.core.readNode({ name: nodes[0]! })).status?.images ?? [];
        for (const image of normalized) {
            const size = listed.find((i) => (i.names ?? []).includes(image))?.sizeBytes;
            assert.ok(size, `${nodes[0]} lists ${image} with a size`);
            assert.equal(result.pullReport?.images[image]?.sizeBytes, size, JSON.stringify(result.pullReport));
        }
        await assertNothingLeft(cluster, s.namespace);
    });

    it("parallelPulls: 2 spreads each node's images over two pods, which a kubelet with serializeImagePulls: false pulls at once, and removes both DaemonSets", async () => {
        const s = await scenario("parallel-pulls");
        const pull = { ...FAST_STATUS, [SIM.pullSeconds]: "3" };
        const parallel = { ...pull, [SIM.serializeImagePulls]: "false", [SIM.pullBandwidth]: "4" };
        const fast = await Promise.all(["a", "b"].map((n) => addNode(cluster, s, n, { annotations: parallel })));
        // A kubelet that serializes pulls (the default): the option changes nothing there but the pod count.
        const serial = await addNode(cluster, s, "serial", { annotations: pull });
        const wanted = [0, 1, 2, 3].map((i) => `registry.example.com/parallel/${s.id}-${i}:1`);
        const inputs = await checkedInputs(cluster, {
            images: wanted,
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            parallelPulls: 2,
        });
        const { result, events } = await recordWhile<
            k8s.V1DaemonSet,
            Awaited<ReturnType<typeof prePullProvider.create>>
        >(cluster, `/apis/apps/v1/namespaces/${s.namespace}/daemonsets`, () => prePullProvider.create(inputs));
        assert.deepEqual(result.outs.nodes, [...fast, serial].sort());
        const added = events.filter((e) => e.type === "ADDED").map((e) => e.obj);
        assert.deepEqual(added.map((d) => d.metadata?.name).sort(), [inputs.ownerId, `${inputs.ownerId}-p2`]);
        // Each DaemonSet pulls its share (the 1st and 3rd image, the 2nd and 4th) after the helper.
        for (const [group, ds] of added.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!)).entries()) {
            const pulled = ds.spec!.template.spec!.initContainers!.slice(1).map((c) => c.image);
            assert.deepEqual(pulled, [wanted[group], wanted[group + 2]]);
        }
        // From the kubelet's Pulled events: when each pull ran (one-second timestamps, 3 s pulls).
        const pulled = await cluster.core.listNamespacedEvent({
            namespace: s.namespace,
            fieldSelector: "reason=Pulled",
        });
        const runs = (node: string, image: string) =>
            pulled.items
                .filter((e) => e.source?.host === node && e.message?.includes(`"${image}"`))
                .map((e) => {
                    const took = Number(/ in ([\d.]+)s /.exec(e.message!)?.[1]);
                    const end = new Date(e.lastTimestamp!).getTime() / 1000;
                    return { start: end - took, end };
                });
        const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) =>
            Math.min(a.end, b.end) - Math.max(a.start, b.start);
        for (const node of fast) {
            const [first, second] = [runs(node, wanted[0]!), runs(node, wanted[1]!)];
            assert.equal(first.length, 1, `${node}: one pull of ${wanted[0]}`);
            assert.equal(second.length, 1, `${node}: one pull of ${wanted[1]}`);
            assert.ok(
                overlap(first[0]!, second[0]!) >= 1.5,
                `${node}: the two pods' first pulls overlap: ${JSON.stringify([first, second])}`,
            );
        }
        const [first, second] = [runs(serial, wanted[0]!), runs(serial, wanted[1]!)];
        assert.ok(
            overlap(first[0]!, second[0]!) <= 1,
            `${serial}: pulls one after another: ${JSON.stringify([first, second])}`,
        );
        // The pull report: every image timed on every node, and the serialized node (4 pulls of
        // 3 s in a row) named slowest, ahead of the parallel ones (2 pulls of 3 s per pod).
        const report = result.outs.pullReport as PullReport;
        for (const image of wanted) assert.equal(report.images[image]?.nodes, 3, JSON.stringify(report));
        assert.equal(report.slowestNodes[0]?.node, serial, JSON.stringify(report));
        assert.ok(report.slowestNodes[0]!.seconds >= 10, JSON.stringify(report));
        for (const node of fast) {
            const entry = report.slowestNodes.find((n) => n.node === node);
            assert.ok(entry && entry.seconds <= 8, JSON.stringify(report));
        }
        await assertNothingLeft(cluster, s.namespace);
    });

    it("excludes a tainted node, and includes it when the taint is tolerated", async () => {
        const s = await scenario("taint");
        const taint = { key: "hub.jupyter.org/dedicated", value: "user", effect: "NoSchedule" };
        const plain = await addNode(cluster, s, "plain", { annotations: FAST_PULL });
        const tainted = await addNode(cluster, s, "tainted", { annotations: FAST_PULL, taints: [taint] });
        const without = await create(cluster, {
            images: ["python:3.11"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        assert.deepEqual(without.nodes, [plain]);
        assert.ok(!(await nodeImages(cluster, tainted)).includes("docker.io/library/python:3.11"));
        const withToleration = await create(cluster, {
            images: ["python:3.11"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            tolerations: [{ key: taint.key, operator: "Equal", value: "user", effect: "NoSchedule" }],
        });
        assert.deepEqual(withToleration.nodes, [plain, tainted].sort());
        await assertNothingLeft(cluster, s.namespace);
    });

    it("honours nodeSelector and required node affinity", async () => {
        const s = await scenario("selector-affinity");
        const user = await addNode(cluster, s, "user", {
            annotations: FAST_PULL,
            labels: { purpose: "user", zone: "a" },
        });
        await addNode(cluster, s, "core", { annotations: FAST_PULL, labels: { purpose: "core", zone: "a" } });
        const userB = await addNode(cluster, s, "user-b", {
            annotations: FAST_PULL,
            labels: { purpose: "user", zone: "b" },
        });
        const result = await create(cluster, {
            images: ["python:3.10"],
            namespace: s.namespace,
            nodeSelector: { ...s.nodeSelector, purpose: "user" },
            affinity: {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
                    },
                },
            },
        });
        assert.deepEqual(result.nodes, [user]);
        assert.ok(!(await nodeImages(cluster, userB)).includes("docker.io/library/python:3.10"));
        await assertNothingLeft(cluster, s.namespace);
    });

    it("excludes cordoned and NotReady nodes, and no pre-pull pod lands on them", async () => {
        const s = await scenario("cordon-notready");
        const ok = await addNode(cluster, s, "ok", { annotations: { ...FAST_STATUS, [SIM.pullSeconds]: "3" } });
        const cordoned = await addNode(cluster, s, "cordoned", { annotations: FAST_PULL, unschedulable: true });
        const notReady = await addNode(cluster, s, "notready", {
            annotations: { ...FAST_PULL, [SIM.ready]: "false" },
            waitReady: false,
        });
        const { result, events } = await recordWhile<k8s.V1Pod, Awaited<ReturnType<typeof create>>>(
            cluster,
            `/api/v1/namespaces/${s.namespace}/pods`,
            () => create(cluster, { images: ["python:3.9"], namespace: s.namespace, nodeSelector: s.nodeSelector }),
        );
        assert.deepEqual(result.nodes, [ok]);
        const landed = new Set(events.map((e) => e.obj.spec?.nodeName ?? targetNode(e.obj as never)));
        assert.ok(landed.has(ok), `no pod on ${ok}: ${[...landed].join(", ")}`);
        assert.ok(!landed.has(cordoned), `a pre-pull pod was made for the cordoned node ${cordoned}`);
        assert.ok(!landed.has(notReady), `a pre-pull pod was made for the NotReady node ${notReady}`);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a node cordoned mid-run loses its pre-pull pod while the run goes on for the others", async () => {
        const s = await scenario("cordon-mid-run");
        const slow = { ...FAST_STATUS, [SIM.pullSeconds]: "20" };
        const staying = await addNode(cluster, s, "staying", { annotations: slow });
        const leaving = await addNode(cluster, s, "leaving", { annotations: slow });
        const creating = create(cluster, {
            images: ["python:3.9-slim"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 300,
        });
        const podOn = async (node: string) =>
            (await cluster.core.listNamespacedPod({ namespace: s.namespace })).items.find(
                (p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp,
            );
        await waitFor(
            async () => (await podOn(leaving)) !== undefined && (await podOn(staying)) !== undefined,
            "a pod on each node",
            30_000,
        );
        const stayingPod = (await podOn(staying))!.metadata!.uid;
        await cluster.core.patchNode(
            { name: leaving, body: { spec: { unschedulable: true } } },
            cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
        );
        const cordonedAt = Date.now();
        await waitFor(async () => (await podOn(leaving)) === undefined, "the cordoned node's pod to go", 20_000);
        const goneAfter = (Date.now() - cordonedAt) / 1000;
        assert.equal(
            (await podOn(staying))?.metadata?.uid,
            stayingPod,
            "the other node's pod keeps pulling, not restarted",
        );
        const result = await creating;
        assert.deepEqual(result.nodes, [staying]);
        assert.deepEqual(result.droppedNodes, { [leaving]: "cordoned" });
        assert.ok(goneAfter < 20, `the pod went ${goneAfter}s after the cordon`);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("covers a node that joins mid-pull", async () => {
        const s = await scenario("join");
        const slow = { [SIM.pullSeconds]: "3", ...FAST_STATUS };
        const first = await addNode(cluster, s, "first", { annotations: slow });
        const pending = create(cluster, {
            images: ["python:3.8"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        await waitFor(async () => (await leftovers(cluster, s.namespace)).length > 0, "the DaemonSet", 20_000);
        const late = await addNode(cluster, s, "late", { annotations: FAST_PULL });
        const result = await pending;
        assert.deepEqual(result.nodes, [first, late].sort());
        assert.ok((await nodeImages(cluster, late)).includes("docker.io/library/python:3.8"));
        await assertNothingLeft(cluster, s.namespace);
    });

    it("does not hang when a node is deleted mid-pull", async () => {
        const s = await scenario("vanish");
        const stays = await addNode(cluster, s, "stays", { annotations: FAST_PULL });
        const vanishes = await addNode(cluster, s, "vanishes", { annotations: { [SIM.pullSeconds]: "600" } });
        const pending = create(cluster, {
            images: ["python:3.7"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 120,
        });
        await waitFor(
            async () => (await leftovers(cluster, s.namespace)).some((o) => o.startsWith("pod/")),
            "pods",
            20_000,
        );
        await cluster.core.deleteNode({ name: vanishes });
        const startedWaiting = Date.now();
        const result = await pending;
        assert.deepEqual(result.nodes, [stays]);
        assert.ok(Date.now() - startedWaiting < 60_000);
        await waitFor(async () => (await leftovers(cluster, s.namespace)).length === 0, "cleanup", 30_000);
    });

    it("completes through pod evidence on a node whose 50 reported images exclude ours", async () => {
        const s = await scenario("sixty-images");
        const node = await addNode(cluster, s, "crowded", { annotations: FAST_PULL });
        const big = Array.from({ length: 60 }, (_, i) => ({
            names: [`registry.example.com/big/image-${i}:1`],
            sizeBytes: 50e9 + i,
        }));
        await seedImages(cluster, node, big);
        const result = await create(cluster, {
            images: ["python:3.6"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 60,
        });
        assert.equal(result.skipped, false);
        assert.deepEqual(result.nodes, [node]);
        const held = await nodeImages(cluster, node);
        assert.ok(
            !held.includes("docker.io/library/python:3.6"),
            "the node's capped list should not show our small image",
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("fails fast on an unpullable image, naming image, node and reason", async () => {
        const s = await scenario("unpullable");
        const bad = "registry.example.com/team/does-not-exist:1";
        const node = await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.unpullable]: bad } });
        const started = Date.now();
        await assert.rejects(
            create(cluster, { images: ["python:3.5", bad], namespace: s.namespace, nodeSelector: s.nodeSelector }),
            (e: Error) => {
                assert.match(e.message, new RegExp(bad.replace(/[.]/g, "\\.")));
                assert.match(e.message, new RegExp(node));
                assert.match(e.message, /ErrImagePull|ImagePullBackOff/);
                return true;
            },
        );
        assert.ok(Date.now() - started < 90_000, "took longer than the 60 s promise allows");
        await assertNothingLeft(cluster, s.namespace);
    });

    it("times out with a message naming every node still missing which images", async () => {
        const s = await scenario("timeout");
        const slow = await addNode(cluster, s, "slow", { annotations: { [SIM.pullSeconds]: "300" } });
        await assert.rejects(
            create(cluster, {
                images: ["python:3.4"],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                timeoutSeconds: 4,
                pollIntervalSeconds: 1,
            }),
            (e: Error) => {
                assert.match(e.message, /timed out after 4s/);
                assert.match(e.message, new RegExp(`${slow}: docker.io/library/python:3.4`));
                return true;
            },
        );
        await waitFor(async () => (await leftovers(cluster, s.namespace)).length === 0, "cleanup", 30_000);
    });

    it("pre-pulls an image that has no shell: its pull container runs (no shell involved) and completes", async () => {
        const s = await scenario("no-shell");
        const distroless = "gcr.io/distroless/base-debian12:nonroot";
        await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.noShell]: distroless } });
        const { result, events } = await recordWhile<k8s.V1Pod, Awaited<ReturnType<typeof create>>>(
            cluster,
            `/api/v1/namespaces/${s.namespace}/pods`,
            () => create(cluster, { images: [distroless], namespace: s.namespace, nodeSelector: s.nodeSelector }),
        );
        assert.equal(result.nodes.length, 1);
        // The image's container really ran: a shell command would have ended in StartError.
        const states = events
            .flatMap((e) => e.obj.status?.initContainerStatuses ?? [])
            .filter((c) => c.name === "pull-0");
        assert.ok(
            states.some((c) => c.state?.terminated?.reason === "Completed" && c.state.terminated.exitCode === 0),
            JSON.stringify(states.map((c) => c.state)),
        );
        assert.ok(!states.some((c) => (c.state?.terminated ?? c.lastState?.terminated)?.reason === "StartError"));
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a helper image that cannot run its copy step fails naming the install-noop container and the runtime's message", async () => {
        const s = await scenario("helper-no-cp");
        const helper = "registry.example.com/tools/static-only:1";
        await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.noShell]: helper } });
        const started = Date.now();
        await assert.rejects(
            create(cluster, {
                images: ["python:3.4-slim"],
                helperImage: helper,
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                timeoutSeconds: 300,
            }),
            (e: Error) => {
                assert.match(
                    e.message,
                    /container install-noop \(image registry\.example\.com\/tools\/static-only:1\)/,
                );
                assert.match(e.message, /StartError: .*exec: "cp": executable file not found in \$PATH/);
                return true;
            },
        );
        assert.ok(Date.now() - started < 90_000, `took ${(Date.now() - started) / 1000}s`);
        await assertNothingLeft(cluster, s.namespace);
    });

    for (const [change, patch] of [
        ["turns NotReady", { metadata: { annotations: { [SIM.ready]: "false" } } }],
        ["is cordoned", { spec: { unschedulable: true } }],
    ] as const) {
        it(`a node that ${change} mid-pull leaves the eligible set, and the create completes without it`, async () => {
            const s = await scenario(`mid-pull-${change.split(" ").pop()}`);
            const fast = await addNode(cluster, s, "fast", { annotations: FAST_PULL });
            const slow = await addNode(cluster, s, "slow", {
                annotations: { ...FAST_STATUS, [SIM.pullSeconds]: "120" },
            });
            const creating = create(cluster, {
                images: ["python:3.2-slim"],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                timeoutSeconds: 300,
            });
            await waitFor(
                async () => (await leftovers(cluster, s.namespace)).filter((o) => o.startsWith("pod/")).length === 2,
                "both pre-pull pods",
                30_000,
            );
            await cluster.core.patchNode(
                { name: slow, body: patch },
                cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
            );
            const started = Date.now();
            const result = await creating;
            assert.deepEqual(result.nodes, [fast]);
            assert.deepEqual(result.droppedNodes, { [slow]: change === "is cordoned" ? "cordoned" : "not-ready" });
            assert.ok(Date.now() - started < 60_000, "the create waited for the node that left");
            await assertNothingLeft(cluster, s.namespace);
        });
    }

    it("fails clearly when a referenced pull secret does not exist", async () => {
        const s = await scenario("pull-secret");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        await assert.rejects(
            create(cluster, {
                images: ["python:3.3"],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                imagePullSecrets: ["regcred"],
            }),
            /imagePullSecrets: secret "regcred" does not exist/,
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("delete removes a DaemonSet left by an interrupted run, and is idempotent", async () => {
        const s = await scenario("delete");
        await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "300" } });
        const inputs = await checkedInputs(cluster, {
            images: ["python:3.2"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 20,
        });
        // Start a pre-pull and abandon it, as a killed process would.
        void prePullProvider.create(inputs).catch(() => undefined);
        await waitFor(
            async () => (await leftovers(cluster, s.namespace)).some((o) => o.startsWith("pod/")),
            "pods",
            20_000,
        );
        await prePullProvider.delete!(`${s.namespace}/${inputs.ownerId}`, inputs);
        await assertNothingLeft(cluster, s.namespace);
        await prePullProvider.delete!(`${s.namespace}/${inputs.ownerId}`, inputs);
        // Old state without namespace/owner properties: the id names them.
        await prePullProvider.delete!(`${s.namespace}/${inputs.ownerId}`, { kubeconfig: cluster.kubeconfig });
    });
});
