/**
 * API faults between the provider and the apiserver: throttling and server errors on a share of
 * requests and an API that never answers (injected by a TLS-terminating proxy), every connection
 * cut mid-wait (a TCP forwarder), and the whole control plane killed and restarted mid-wait. The
 * pre-pull completes or fails clearly, and nothing of ours is left behind (checked with admin
 * credentials, not through a proxy).
 */
import * as assert from "node:assert/strict";
import { CLEANUP_BUDGET_SECONDS } from "../../components/run/cleanup";
import { ApiProxy, type RequestKind } from "../support/api-proxy";
import {
    privateCluster,
    restartControlPlane,
    sharedCluster,
    SIM,
    stopCluster,
    type TestCluster,
} from "../../harness/cluster";
import {
    addNode,
    assertNothingLeft,
    checkedInputs,
    leftovers,
    newScenario,
    removeAllOurs,
    waitFor,
} from "../../harness/scenario";
import { TcpProxy } from "../../harness/tcp-proxy";
import { prePullProvider } from "../../components/pulumi/provider";

/** A scenario of two nodes, and checked inputs whose kubeconfig goes through the proxy. */
async function throughProxy(
    cluster: TestCluster,
    proxy: ApiProxy,
    title: string,
    pullSeconds: string,
    timeoutSeconds?: number,
) {
    const s = await newScenario(cluster, title);
    for (const n of ["a", "b"]) await addNode(cluster, s, n, { annotations: { [SIM.pullSeconds]: pullSeconds } });
    const inputs = await checkedInputs(cluster, {
        images: [`registry.example.com/faults/${title}:1`],
        namespace: s.namespace,
        nodeSelector: s.nodeSelector,
        timeoutSeconds,
    });
    return { s, inputs: { ...inputs, kubeconfig: proxy.kubeconfig } };
}

describe("API faults", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    let proxy: ApiProxy;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        proxy = await ApiProxy.start(cluster);
    });
    afterEach(async () => proxy.setFaults({ errorEvery: 0, hang: [] }));
    after(async () => proxy?.stop());

    const prepare = (title: string, pullSeconds: string) => throughProxy(cluster, proxy, title, pullSeconds);

    for (const status of [429, 500, 503]) {
        it(`completes with every third request answered ${status}`, async () => {
            const { s, inputs } = await prepare(`errors-${status}`, "2");
            await proxy.resetStats();
            await proxy.setFaults({ errorEvery: 3, errorStatus: status });
            const result = await prePullProvider.create(inputs);
            assert.equal(result.outs.nodes.length, 2);
            assert.ok((await proxy.stats()).injectedErrors > 0, "no fault was injected");
            await assertNothingLeft(cluster, s.namespace);
        });
    }

    it("fails clearly, and leaves nothing, when the API answers nothing but errors", async () => {
        const { s, inputs } = await prepare("lost-for-good", "1");
        // Every request fails: the create must give up with a clear message, never hang.
        await proxy.setFaults({ errorEvery: 1, errorStatus: 503 });
        // Clear: it names the operation that failed and the apiserver's answer.
        await assert.rejects(prePullProvider.create(inputs), /image-prepuller: (list|watch) \w+ failed: HTTP 503/);
        await proxy.setFaults({ errorEvery: 0 });
        assert.deepEqual(await leftovers(cluster, s.namespace), []);
    });
});

describe("an API that accepts requests and never answers", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    let proxy: ApiProxy;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        proxy = await ApiProxy.start(cluster);
    });
    afterEach(async () => proxy.setFaults({ errorEvery: 0, hang: [] }));
    after(async () => proxy?.stop());

    const prepare = (title: string, pullSeconds: string, timeoutSeconds: number) =>
        throughProxy(cluster, proxy, title, pullSeconds, timeoutSeconds);

    /** Runs `body` with console.log captured (the provider's progress and warnings). */
    async function capturingLog<T>(body: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
        const lines: string[] = [];
        const original = console.log;
        console.log = (...args: unknown[]) => void lines.push(args.join(" "));
        try {
            return { result: await body(), lines };
        } finally {
            console.log = original;
        }
    }

    const cases: [RequestKind, RegExp][] = [
        ["get", /image-prepuller: list nodes did not answer/],
        ["create", /image-prepuller: create daemonsets in namespace "[^"]+" did not answer/],
    ];
    for (const [kind, message] of cases) {
        it(`a ${kind} that is never answered ends the create by its timeout, naming the call`, async () => {
            const { s, inputs } = await prepare(`hang-${kind}`, "1", 20);
            await proxy.setFaults({ hang: [kind] });
            const started = Date.now();
            await assert.rejects(prePullProvider.create(inputs), message);
            const seconds = (Date.now() - started) / 1000;
            // timeoutSeconds plus the cleanup budget (nothing to clean here), with a little slack.
            assert.ok(seconds <= 20 + CLEANUP_BUDGET_SECONDS + 5, `took ${seconds}s`);
            assert.ok(((await proxy.stats()).hung ?? 0) > 0, "no request was held");
            await proxy.setFaults({ hang: [] });
            await removeAllOurs(cluster, s.namespace);
        });
    }

    it("a delete that is never answered does not turn a finished pre-pull into a failure; the next delete removes the DaemonSet", async () => {
        const { s, inputs } = await prepare("hang-delete", "2", 120);
        await proxy.setFaults({ hang: ["delete"] });
        const { result, lines } = await capturingLog(() => prePullProvider.create(inputs));
        assert.equal(result.outs.nodes.length, 2);
        const decided = lines.findIndex((l) => /all 2 eligible nodes hold all 1 images/.test(l));
        assert.ok(decided >= 0, lines.join("\n"));
        assert.ok(
            lines.some((l) =>
                /warning: .*delete daemonsets in namespace .* did not answer.*removed by the next pulumi up or destroy/.test(
                    l,
                ),
            ),
            lines.join("\n"),
        );
        assert.deepEqual(
            (await leftovers(cluster, s.namespace)).filter((o) => o.startsWith("daemonset/")),
            [`daemonset/${inputs.ownerId}`],
        );
        await proxy.setFaults({ hang: [] });
        await prePullProvider.delete!(`${s.namespace}/${inputs.ownerId}`, inputs);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("watches that deliver nothing are re-listed, and the create completes", async () => {
        const { s, inputs } = await prepare("silent-watch", "2", 120);
        await proxy.setFaults({ hang: ["watch"] });
        const result = await prePullProvider.create(inputs);
        assert.equal(result.outs.nodes.length, 2);
        assert.ok(((await proxy.stats()).hung ?? 0) > 0, "no watch was held silent");
        await proxy.setFaults({ hang: [] });
        await assertNothingLeft(cluster, s.namespace);
    });
});

describe("connections cut and the control plane restarted", function () {
    this.timeout(300_000);

    /** Two nodes pulling slowly, and a create running against them; resolves once it is mid-wait. */
    async function startSlowPrePull(cluster: TestCluster, title: string, kubeconfig: string) {
        const s = await newScenario(cluster, title);
        for (const n of ["a", "b"]) await addNode(cluster, s, n, { annotations: { [SIM.pullSeconds]: "10" } });
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/faults/${title}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            // A watch that silently stopped delivering would run into this, not pass.
            timeoutSeconds: 120,
        });
        const creating = prePullProvider.create({ ...inputs, kubeconfig });
        creating.catch(() => undefined); // awaited by the test; not unhandled while it sets up faults
        // Mid-wait: the DaemonSet's pods exist and are pulling.
        await waitFor(
            async () => (await leftovers(cluster, s.namespace)).filter((o) => o.startsWith("pod/")).length === 2,
            "both pre-pull pods",
            60_000,
        );
        return { s, creating };
    }

    it("completes when every connection to the apiserver is cut three times while waiting", async () => {
        const cluster = await sharedCluster();
        const proxy = await TcpProxy.start(cluster);
        try {
            const { s, creating } = await startSlowPrePull(cluster, "cut-connections", proxy.kubeconfig);
            const cut: number[] = [];
            for (let i = 0; i < 3; i++) {
                // Cut once the provider has reconnected (its watches restart after a short pause).
                await waitFor(async () => proxy.openConnections > 0, "the provider reconnecting", 30_000);
                await new Promise((r) => setTimeout(r, 1000));
                cut.push(proxy.cutAll());
            }
            const connectionsAfterLastCut = proxy.connections;
            const result = await creating;
            assert.deepEqual([...result.outs.nodes].sort(), [`${s.id}-a`, `${s.id}-b`]);
            assert.ok(
                cut.every((n) => n > 0),
                `each cut must break live connections (cut: ${cut.join(", ")})`,
            );
            assert.ok(proxy.connections > connectionsAfterLastCut, "the provider reconnected after the cuts");
            await assertNothingLeft(cluster, s.namespace);
        } finally {
            await proxy.stop();
        }
    });

    describe("on a cluster of its own", function () {
        let cluster: TestCluster;
        before(async function () {
            this.timeout(10 * 60 * 1000);
            cluster = await privateCluster();
        });
        after(async () => cluster && stopCluster(cluster));

        it("completes when the control plane (apiserver, etcd, controllers) is killed and restarted while waiting", async () => {
            const { s, creating } = await startSlowPrePull(cluster, "restart", cluster.kubeconfig);
            const before = await cluster.core.readNamespace({ name: s.namespace });
            await restartControlPlane(cluster);
            // The same cluster came back (same etcd data), not a fresh one.
            const after = await cluster.core.readNamespace({ name: s.namespace });
            assert.equal(after.metadata?.uid, before.metadata?.uid);
            const result = await creating;
            assert.deepEqual([...result.outs.nodes].sort(), [`${s.id}-a`, `${s.id}-b`]);
            await assertNothingLeft(cluster, s.namespace);
        });
    });
});
