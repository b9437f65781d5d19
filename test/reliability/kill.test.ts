/**
 * Pulumi cannot cancel a dynamic provider (the cancel RPC is a no-op), so a pre-pull must
 * survive a SIGKILL anywhere: the next run completes and nothing of ours is left behind.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { prePullProvider } from "../../components/provider";
import { repoRoot, sharedCluster, SIM, type TestCluster, FAST_STATUS } from "../support/cluster";
import { addNode, assertNothingLeft, checkedInputs, leftovers, newScenario, type Scenario } from "../support/scenario";

/** A small seeded generator (mulberry32), so that kill points are random but reproducible. */
function seededRandom(seed: number): () => number {
    let a = seed;
    return () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

type KillPoint = { afterMs: number } | { onLine: RegExp };

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
        ["during deletion of the DaemonSet", { onLine: /image-prepuller: deleted DaemonSet/ }],
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
            const { output, killed } = await createAndKill(inputs, point);
            assert.ok(killed || /CREATE-DONE/.test(output), `the child neither finished nor was killed:\n${output}`);
            // The next run of the same resource (same owner) cleans up and completes.
            const result = await prePullProvider.create(inputs);
            assert.equal(result.outs.nodes.length, 2);
            await assertNothingLeft(cluster, s.namespace);
        });
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
