import * as assert from "node:assert/strict";
import { ClusterClient } from "../../../components/cluster/client";
import { describeCallError, isRetryable, isTimeout } from "../../../components/cluster/errors";
import { unreachableKubeconfig } from "../fixtures/kubeconfig";

const kubeconfig = unreachableKubeconfig;
const client = (signal: AbortSignal = new AbortController().signal) =>
    ClusterClient.connect(kubeconfig, undefined, signal);

const timeoutError = () =>
    Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" });

describe("the cluster client's calls", () => {
    it("a request that timed out is retried, then named as the call that did not answer", async () => {
        let attempts = 0;
        await assert.rejects(
            client().call(
                { verb: "create", resource: "daemonsets", namespace: "jhub" },
                async () => {
                    attempts++;
                    throw timeoutError();
                },
                { attempts: 3 },
            ),
            /create daemonsets in namespace "jhub" did not answer \(3 attempts, each given up after at most 15s\)/,
        );
        assert.equal(attempts, 3);
    });

    it("retries stop when the run's signal fires, and each request carries that signal", async () => {
        const run = new AbortController();
        let attempts = 0;
        let lastSignal: AbortSignal | undefined;
        const failing = client(run.signal).call({ verb: "list", resource: "nodes" }, async (options) => {
            attempts++;
            // The middleware sets the request's signal; apply it to a fake context to read it.
            const context = { setSignal: (s: AbortSignal) => (lastSignal = s) };
            options.middleware![0]!.pre(context as never);
            throw timeoutError();
        });
        setTimeout(() => run.abort(), 300);
        await assert.rejects(failing, /list nodes did not answer/);
        assert.ok(attempts >= 1 && attempts <= 3, `${attempts} attempts`);
        assert.equal(lastSignal?.aborted, true, "the request's signal follows the run's");
    });

    it("a 403 names the verb, the resource and where; a 404 is not retried and keeps its code", async () => {
        const forbidden = describeCallError(
            { code: 403, body: { message: "nope" } },
            { verb: "list", resource: "nodes" },
        );
        assert.match(forbidden.message, /may not list nodes \(cluster-wide\); grant RBAC verb "list" on "nodes"/);
        let attempts = 0;
        await assert.rejects(
            client().call({ verb: "get", resource: "secrets", namespace: "ns" }, async () => {
                attempts++;
                throw { code: 404, body: '{"message":"secrets \\"x\\" not found"}' };
            }),
            (e: Error & { code?: number }) =>
                e.code === 404 && /get secrets in namespace "ns" failed: HTTP 404/.test(e.message),
        );
        assert.equal(attempts, 1);
    });

    it("classifies errors", () => {
        assert.ok(isTimeout(timeoutError()));
        assert.ok(isRetryable(timeoutError()));
        assert.ok(isRetryable({ code: 503 }));
        assert.ok(isRetryable({ code: 429 }));
        assert.ok(!isRetryable({ code: 409 }));
        assert.ok(isRetryable(new TypeError("fetch failed")));
    });
});
