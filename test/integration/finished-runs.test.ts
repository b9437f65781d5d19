/**
 * A finished run leaves nothing running: after create, read or delete returns or throws, no
 * timer, watch or socket of that run keeps its process alive. Each outcome runs in a process of
 * its own (test/support/run-operation.ts), which must end by itself soon after; a provider host
 * or the plugin, which serves many runs, would otherwise accumulate what each run left.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { FAST_PULL, repoRoot, sharedCluster, type TestCluster } from "../../harness/cluster";
import { addNode, checkedInputs, newScenario } from "../../harness/scenario";

/** Client-node's idle keep-alive sockets close after 4 s; the process then has nothing left. */
const ENDS_WITHIN_MS = 20_000;

/** Runs one provider method in a child; resolves with its outcome and how long it lived after. */
function runAlone(method: "create" | "read" | "delete", props: object) {
    return new Promise<{ outcome: string; active: string; livedAfterMs: number; exited: boolean }>(
        (resolve, reject) => {
            const child = spawn(
                process.execPath,
                ["-r", "ts-node/register/transpile-only", path.join(repoRoot, "test/support/run-operation.ts")],
                {
                    cwd: repoRoot,
                    env: { ...process.env, PREPULL_METHOD: method, PREPULL_PROPS: JSON.stringify(props) },
                    stdio: ["ignore", "pipe", "pipe"],
                },
            );
            let output = "";
            let doneAt: number | undefined;
            let killer: NodeJS.Timeout | undefined;
            child.stdout.on("data", (d: Buffer) => {
                output += d.toString();
                if (doneAt === undefined && /^OP-(DONE|FAILED)/m.test(output)) {
                    doneAt = Date.now();
                    killer = setTimeout(() => child.kill("SIGKILL"), ENDS_WITHIN_MS);
                }
            });
            child.stderr.on("data", (d: Buffer) => (output += d.toString()));
            child.on("error", reject);
            child.on("exit", (code, signal) => {
                clearTimeout(killer);
                if (doneAt === undefined) {
                    reject(new Error(`the operation never finished (exit ${code ?? signal}):\n${output}`));
                    return;
                }
                resolve({
                    outcome: /^(OP-\S+.*)$/m.exec(output)![1]!,
                    active: /^ACTIVE (.*)$/m.exec(output)?.[1] ?? "[]",
                    livedAfterMs: Date.now() - doneAt,
                    exited: signal !== "SIGKILL",
                });
            });
        },
    );
}

describe("a finished run leaves nothing running", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    function assertEnded(result: Awaited<ReturnType<typeof runAlone>>) {
        assert.ok(
            result.exited,
            `the process was still alive ${ENDS_WITHIN_MS / 1000}s after "${result.outcome}"; active: ${result.active}`,
        );
    }

    /** A scenario with one fast node, and checked inputs that pull a new image onto it. */
    async function oneNodeInputs(title: string, extra: Record<string, unknown> = {}) {
        const s = await newScenario(cluster, title);
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        return checkedInputs(cluster, {
            images: [`registry.example.com/finished/${s.id}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 300,
            ...extra,
        });
    }

    it("after a create that succeeded, a refresh and a delete", async () => {
        const inputs = await oneNodeInputs("finished-ok");
        const created = await runAlone("create", inputs);
        assert.equal(created.outcome, "OP-DONE");
        assertEnded(created);
        const props = { ...inputs, nodes: [], skipped: false, durationSeconds: 1, missingNodes: {} };
        const read = await runAlone("read", props);
        assert.equal(read.outcome, "OP-DONE");
        assertEnded(read);
        const deleted = await runAlone("delete", props);
        assert.equal(deleted.outcome, "OP-DONE");
        assertEnded(deleted);
    });

    it("after a create that failed early (a missing PriorityClass)", async () => {
        const inputs = await oneNodeInputs("finished-failed", { priorityClassName: "does-not-exist" });
        const failed = await runAlone("create", inputs);
        assert.match(failed.outcome, /^OP-FAILED .*cannot pre-pull images/);
        assertEnded(failed);
    });
});
