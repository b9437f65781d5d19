/**
 * Pulumi cannot cancel a dynamic provider (the cancel RPC is a no-op), so a pre-pull must
 * survive a SIGKILL anywhere: the next run completes and nothing of ours is left behind.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { prePullProvider } from "../../components/pulumi/provider";
import { ApiProxy } from "../support/api-proxy";
import { repoRoot, sharedCluster, SIM, type TestCluster, FAST_STATUS } from "../../harness/cluster";
import {
    addNode,
    assertNothingLeft,
    checkedInputs,
    leftovers,
    newScenario,
    waitFor,
    type Scenario,
} from "../../harness/scenario";
import { seededRandom } from "../support/random";

type KillPoint = { afterMs: number } | { onLine: RegExp; holdDeletes?: boolean };

/** Runs a create in a child process and SIGKILLs it at the kill point; resolves with what it printed. */
function createAndKill(inputs: object, point: KillPoint): Promise<{ output: string; killed: boolean }> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", path.join(repoRoot, "test/support/run-create.ts")],
            {
                cwd: repoRoot,
                env: { ...process.env, PREPULL_INPUTS: JSON.stringify(inputs) },
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        let output = "";
        let killed = false;
        const kill = () => {
            if (!killed && child.exitCode === null) {
                killed = true;
                child.kill("SIGKILL");
            }
        };
        const onData = (d: Buffer) => {
            output += d.toString();
            if ("onLine" in point && point.onLine.test(output)) kill();
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        const timer = "afterMs" in point ? setTimeout(kill, point.afterMs) : undefined;
        child.on("error", reject);
        child.on("exit", () => {
            if (timer) clearTimeout(timer);
            resolve({ output, killed });
        });
    });
}

describe("killed mid-create", function () {
    this.timeout(900_000);
    let cluster: TestCluster;
    let s: Scenario;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        s = await newScenario(cluster, "kill");
        // 3 s pulls keep every kill point (0.8 to 5.8 s after start) inside a run rather than after it.
        for (const n of ["a", "b"])
            await addNode(cluster, s, n, { annotations: { [SIM.pullSeconds]: "3", ...FAST_STATUS } });
    });

    const random = seededRandom(20261123);
    const points: [string, KillPoint][] = [
        ["right after the DaemonSet is created", { onLine: /image-prepuller: pulling/ }],
        // The child's DELETE goes through a proxy that holds it unanswered: the kill surely falls
        // inside the deletion, which one request otherwise finishes in milliseconds.
        [
            "during deletion of the DaemonSet",
            { onLine: /image-prepuller: all \d+ eligible nodes hold/, holdDeletes: true },
        ],
        ["before the DaemonSet exists (at start-up)", { afterMs: 300 }],
    ];
    for (let i = points.length; i < 20; i++) {
        points.push([`at a seeded-random point (#${i})`, { afterMs: Math.round(800 + random() * 5000) }]);
    }

    points.forEach(([title, point], index) => {
        it(`the next run completes and nothing is left when killed ${title}`, async () => {
            const inputs = await checkedInputs(cluster, {
                images: [`registry.example.com/kill/image-${index}:1`],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
            });
            let proxy: ApiProxy | undefined;
            if ("holdDeletes" in point && point.holdDeletes) {
                proxy = await ApiProxy.start(cluster);
                await proxy.setFaults({ hang: ["delete"] });
            }
            const { output, killed } = await createAndKill(
                proxy ? { ...inputs, kubeconfig: proxy.kubeconfig } : inputs,
                point,
            ).finally(() => proxy?.stop());
            // The kill must have happened inside the run, as the title says.
            assert.ok(killed, `the child was not killed (it ended first):\n${output}`);
            assert.doesNotMatch(output, /CREATE-DONE|CREATE-FAILED/);
            // The next run of the same resource (same owner) cleans up and completes.
            const result = await prePullProvider.create(inputs);
            assert.equal(result.outs.nodes.length, 2);
            await assertNothingLeft(cluster, s.namespace);
        });
    });

    it("an orphaned run (its engine gone) stops, removes only what it created, and never the DaemonSet a newer run of the same resource created", async function () {
        this.timeout(300_000);
        const slow = await newScenario(cluster, "orphan");
        for (const n of ["a", "b"])
            await addNode(cluster, slow, n, { annotations: { [SIM.pullSeconds]: "20", ...FAST_STATUS } });
        const inputs = await checkedInputs(cluster, {
            images: ["registry.example.com/kill/orphan:1"],
            namespace: slow.namespace,
            nodeSelector: slow.nodeSelector,
        });
        // An engine the test controls: the orphan's watchdog looks for it every 2 s.
        const engine = net.createServer((socket) => socket.end());
        await new Promise<void>((r) => engine.listen(0, "127.0.0.1", r));
        const address = `127.0.0.1:${(engine.address() as net.AddressInfo).port}`;
        const orphan = spawn(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                path.join(repoRoot, "test/support/dynamic-provider-orphan.ts"),
                address,
            ],
            {
                cwd: repoRoot,
                env: { ...process.env, PREPULL_INPUTS: JSON.stringify(inputs) },
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        let output = "";
        orphan.stdout.on("data", (d: Buffer) => (output += d.toString()));
        orphan.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const exited = new Promise<number | null>((r) => orphan.on("exit", (code) => r(code)));
        await waitFor(async () => /image-prepuller: pulling/.test(output), "the orphan's DaemonSet", 60_000);
        const orphanDaemonSet = await cluster.apps.readNamespacedDaemonSet({
            name: inputs.ownerId,
            namespace: slow.namespace,
        });

        // A newer run of the same resource starts: it removes the leftover and creates its own.
        const newer = prePullProvider.create(inputs);
        let newerUid = "";
        await waitFor(
            async () => {
                const ds = await cluster.apps
                    .readNamespacedDaemonSet({ name: inputs.ownerId, namespace: slow.namespace })
                    .catch(() => undefined);
                newerUid = ds?.metadata?.uid ?? "";
                return newerUid !== "" && newerUid !== orphanDaemonSet.metadata!.uid;
            },
            "the newer run's DaemonSet",
            60_000,
        );
        // Now the orphan's engine goes: it notices, stops, cleans up by UID, and exits.
        await new Promise((r) => engine.close(() => r(undefined)));
        const goneAt = Date.now();
        const code = await exited;
        assert.ok(Date.now() - goneAt < 20_000, `the orphan took ${(Date.now() - goneAt) / 1000}s to stop`);
        assert.notEqual(code, 0);
        assert.match(output, /the Pulumi engine that started this pre-pull .* is gone/);
        const still = await cluster.apps.readNamespacedDaemonSet({ name: inputs.ownerId, namespace: slow.namespace });
        assert.equal(still.metadata?.uid, newerUid, "the orphan's cleanup touched the newer run's DaemonSet");
        const result = await newer;
        assert.equal(result.outs.nodes.length, 2);
        await assertNothingLeft(cluster, slow.namespace);
    });

    it("delete alone (as pulumi destroy would) removes what a killed run left", async () => {
        const inputs = await checkedInputs(cluster, {
            images: ["registry.example.com/kill/destroy:1"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        await createAndKill(inputs, { onLine: /image-prepuller: pulling/ });
        assert.notDeepEqual(await leftovers(cluster, s.namespace), []);
        await prePullProvider.delete!(`${s.namespace}/${inputs.ownerId}`, inputs);
        await assertNothingLeft(cluster, s.namespace);
    });
});
