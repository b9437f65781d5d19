import * as assert from "node:assert/strict";
import { callApi, describeCallError, isRetryable, isTimeout } from "../../../components/cluster/kube";

const timeoutError = () =>
    Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" });

describe("API calls", () => {
    it("a request that timed out is retried, then named as the call that did not answer", async () => {
        let attempts = 0;
        await assert.rejects(
            callApi(
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

    it("retries stop at the deadline", async () => {
        const started = Date.now();
        await assert.rejects(
            callApi({ verb: "list", resource: "nodes" }, async () => Promise.reject(timeoutError()), {
                deadline: Date.now() + 1500,
            }),
            /list nodes did not answer/,
        );
        assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    });

    it("a 403 names the verb, the resource and where; a 404 is not retried and keeps its code", async () => {
        const forbidden = describeCallError(
            { code: 403, body: { message: "nope" } },
            { verb: "list", resource: "nodes" },
        );
        assert.match(forbidden.message, /may not list nodes \(cluster-wide\); grant RBAC verb "list" on "nodes"/);
        let attempts = 0;
        await assert.rejects(
            callApi({ verb: "get", resource: "secrets", namespace: "ns" }, async () => {
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
