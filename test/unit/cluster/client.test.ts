import * as assert from "node:assert/strict";
import { ClusterClient, RBAC_PROPAGATION_SECONDS } from "../../../components/cluster/client";
import { describeCallError, isRetryable, isTimeout } from "../../../components/cluster/errors";
import { unreachableKubeconfig } from "../fixtures/kubeconfig";

const kubeconfig = unreachableKubeconfig;
const client = (signal: AbortSignal = new AbortController().signal) =>
    ClusterClient.connect(kubeconfig, undefined, signal);

const timeoutError = () =>
    Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" });

/** The authorizer's message for a request RBAC does not allow (k8s.io/apiserver, forbidden()). */
function rbacDenial(verb: string, resource: string): string {
    return `${resource} is forbidden: User "system:serviceaccount:jhub:prepuller" cannot ${verb} resource "${resource}" in API group "" at the cluster scope`;
}

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
            { code: 403, body: { message: rbacDenial("list", "nodes") } },
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

    describe("a 403 says whether RBAC or admission refused the call, and what to change", () => {
        const create = { verb: "create", resource: "daemonsets", namespace: "jhub" };
        const table: [string, string, RegExp][] = [
            [
                "RBAC",
                'daemonsets.apps is forbidden: User "u" cannot create resource "daemonsets" in API group "apps" in the namespace "jhub"',
                /may not create daemonsets in namespace "jhub"; grant RBAC verb "create" on "daemonsets"/,
            ],
            [
                "a terminating namespace",
                'daemonsets.apps "prepull-x" is forbidden: unable to create new content in namespace jhub because it is being terminated',
                /create daemonsets in namespace "jhub" was refused: .*being terminated \(namespace "jhub" is being deleted; wait until it is gone/,
            ],
            [
                "a quota on DaemonSets",
                'daemonsets.apps "prepull-x" is forbidden: exceeded quota: objects, requested: count/daemonsets.apps=1, used: count/daemonsets.apps=1, limited: count/daemonsets.apps=1',
                /was refused: .*exceeded quota.*\(a ResourceQuota in namespace "jhub" allows no more daemonsets/,
            ],
            [
                "an admission webhook",
                'admission webhook "policy.example.com" denied the request: DaemonSets need an owner label',
                /was refused: admission webhook "policy\.example\.com" denied the request.*\(an admission webhook refuses the pre-puller's daemonsets/,
            ],
            ["another admission plugin", "forbidden for reasons of its own", /was refused: .*RBAC allowed it/],
        ];
        for (const [title, message, expected] of table) {
            it(title, () => {
                const error = describeCallError({ code: 403, body: JSON.stringify({ message }) }, create);
                assert.match(error.message, expected);
                assert.equal((error as Error & { code?: number }).code, 403);
                if (title !== "RBAC") assert.doesNotMatch(error.message, /grant RBAC/);
            });
        }
        it("a namespace that does not exist (404) says so", () => {
            const error = describeCallError(
                { code: 404, body: JSON.stringify({ message: 'namespaces "jhub" not found' }) },
                create,
            );
            assert.match(error.message, /namespace "jhub" does not exist; create it first/);
        });
    });

    describe("RBAC made in the same up: a denial is retried while it propagates", () => {
        const denied = () => ({ code: 403, body: JSON.stringify({ message: rbacDenial("list", "nodes") }) });

        it("a required call denied twice, then allowed, succeeds", async () => {
            let attempts = 0;
            const result = await client().call({ verb: "list", resource: "nodes" }, async () => {
                if (++attempts <= 2) throw denied();
                return "listed";
            });
            assert.equal(result, "listed");
            assert.equal(attempts, 3);
        });

        it("an optional call's denial is final at once", async () => {
            let attempts = 0;
            await assert.rejects(
                client().call(
                    { verb: "list", resource: "events", namespace: "jhub" },
                    async () => {
                        attempts++;
                        throw denied();
                    },
                    { optional: true },
                ),
                /may not list events/,
            );
            assert.equal(attempts, 1);
        });

        it("a denial that persists fails once the propagation window is over", async function () {
            this.timeout(30_000);
            const started = Date.now();
            await assert.rejects(
                client().call({ verb: "list", resource: "nodes" }, async () => {
                    throw denied();
                }),
                /may not list nodes \(cluster-wide\)/,
            );
            const seconds = (Date.now() - started) / 1000;
            assert.ok(seconds >= RBAC_PROPAGATION_SECONDS - 1, `gave up after ${seconds}s`);
        });
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
