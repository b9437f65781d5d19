/**
 * A success is never reported as a failure: at 500 nodes, with the stock controller-manager (20
 * requests a second, so its garbage collector needs about 25 s to delete 500 pods), the create
 * returns within seconds of presence being decided, and every pod is gone afterwards.
 */
import * as assert from "node:assert/strict";
import { prePullProvider } from "../../components/pulumi/provider";
import { privateCluster, stopCluster, type TestCluster } from "../../harness/cluster";
import { assertNothingLeft, checkedInputs } from "../../harness/scenario";

const NODES = 500;

describe("cleanup at 500 nodes with the stock controller-manager", function () {
    this.timeout(900_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(30 * 60 * 1000);
        cluster = await privateCluster(["--nodes", String(NODES), "--pull-seconds", "1", "--timeout", "600"]);
    });
    after(async function () {
        this.timeout(120_000);
        if (cluster) await stopCluster(cluster);
    });

    it("returns within seconds of presence being decided, and the garbage collector removes every pod", async () => {
        await cluster.core.createNamespace({ body: { metadata: { name: "scale" } } });
        const inputs = await checkedInputs(cluster, {
            images: ["registry.example.com/scale/notebook:1"],
            namespace: "scale",
            timeoutSeconds: 600,
        });
        const stamped: { at: number; line: string }[] = [];
        const original = console.log;
        console.log = (...args: unknown[]) => void stamped.push({ at: Date.now(), line: args.join(" ") });
        let returnedAt = 0;
        try {
            const result = await prePullProvider.create(inputs);
            returnedAt = Date.now();
            assert.equal(result.outs.nodes.length, NODES);
        } finally {
            console.log = original;
        }
        const decided = stamped.find((s) => /all \d+ eligible nodes hold all 1 images/.test(s.line));
        assert.ok(decided, stamped.map((s) => s.line).join("\n"));
        const seconds = (returnedAt - decided.at) / 1000;
        assert.ok(seconds <= 10, `create returned ${seconds}s after presence was decided`);
        // The garbage collector deletes the 500 pods at its client rate; nothing is left after.
        await assertNothingLeft(cluster, "scale", 180_000);
    });
});
