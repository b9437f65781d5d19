/**
 * Pods that cannot be created, scheduled or started fail the create early (within 60 s of the
 * first sign, with a 300 s timeout), naming the cause the API gives, with progress lines showing
 * it meanwhile; and nothing of ours is left. One test per cause.
 */
import * as assert from "node:assert/strict";
import { prePullProvider } from "../../components/pulumi/provider";
import { DEFAULT_HELPER_IMAGE } from "../../components/rules/inputs";
import { PROBLEM_TOLERANCE_SECONDS } from "../../components/run/waiting";
import { FAST_PULL, FAST_STATUS, sharedCluster, SIM, type TestCluster } from "../../harness/cluster";
import {
    addNode,
    annotateNode,
    assertNothingLeft,
    checkedInputs,
    newScenario,
    waitFor,
    type Scenario,
} from "../../harness/scenario";
import { withConsoleLines } from "../support/console";
import { denyPodsIn, WEBHOOK_MESSAGE, WEBHOOK_NAME } from "../support/webhook";

/** How soon after the first sign the create must fail: the problem tolerance (30 s) and slack. */
const EARLY_SECONDS = 60;

describe("pods that cannot be created or scheduled fail the create early, naming the cause", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    async function scenario(title: string, annotations: Record<string, string> = FAST_PULL): Promise<Scenario> {
        const s = await newScenario(cluster, title);
        await addNode(cluster, s, "a", { annotations });
        return s;
    }

    /** Runs a create expected to fail; returns its error, its progress lines and how long it took. */
    async function failingCreate(s: Scenario, extra: Record<string, unknown>) {
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/failures/${s.id}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 300,
            ...extra,
        });
        const lines: string[] = [];
        const original = console.log;
        console.log = (...args: unknown[]) => void lines.push(args.join(" "));
        const started = Date.now();
        try {
            await prePullProvider.create(inputs);
        } catch (e) {
            return { error: e as Error, lines, seconds: (Date.now() - started) / 1000 };
        } finally {
            console.log = original;
        }
        throw new Error(`the create succeeded, but it should have failed:\n${lines.join("\n")}`);
    }

    function assertEarly(result: { seconds: number }) {
        assert.ok(result.seconds < EARLY_SECONDS, `failed after ${result.seconds}s of a 300 s timeout`);
    }

    it("a PriorityClass that does not exist (the DaemonSet's FailedCreate)", async () => {
        const s = await scenario("no-priority-class");
        const result = await failingCreate(s, { priorityClassName: "does-not-exist" });
        assertEarly(result);
        assert.match(
            result.error.message,
            /cannot create pre-pull pods: FailedCreate: .*no PriorityClass with name does-not-exist was found/,
        );
        assert.match(result.error.message, /create that PriorityClass/);
        assert.ok(
            result.lines.some((l) => /problems: .*PriorityClass/.test(l)),
            result.lines.join("\n"),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a ResourceQuota that allows no more pods", async () => {
        const s = await scenario("quota");
        await cluster.core.createNamespacedResourceQuota({
            namespace: s.namespace,
            body: { metadata: { name: "no-pods" }, spec: { hard: { pods: "0" } } },
        });
        const result = await failingCreate(s, {});
        assertEarly(result);
        assert.match(result.error.message, /FailedCreate: .*exceeded quota: no-pods.*ResourceQuota/);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("Pod Security rejecting the pods (a daemonSetPatch that runs them as root)", async () => {
        const s = await scenario("pod-security");
        await cluster.core.patchNamespace(
            {
                name: s.namespace,
                body: { metadata: { labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
            },
            cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
        );
        const result = await failingCreate(s, {
            daemonSetPatch: {
                spec: { template: { spec: { securityContext: { runAsNonRoot: false, runAsUser: 0 } } } },
            },
        });
        assertEarly(result);
        assert.match(result.error.message, /FailedCreate: .*violates PodSecurity "restricted/);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("an admission webhook denying the pods", async () => {
        const s = await scenario("webhook");
        const webhook = await denyPodsIn(cluster, s.namespace);
        try {
            const result = await failingCreate(s, {});
            assertEarly(result);
            assert.match(
                result.error.message,
                new RegExp(
                    `FailedCreate: .*admission webhook "${WEBHOOK_NAME.replace(/\./g, "\\.")}" denied the request: ${WEBHOOK_MESSAGE.replace(/[()]/g, "\\$&")}`,
                ),
            );
            assert.ok(webhook.reviews() > 0, "the webhook was never called");
        } finally {
            await webhook.stop();
        }
        await assertNothingLeft(cluster, s.namespace);
    });

    it("the only node full: the pod stays Pending, Too many pods; with no node to skip to, the create fails", async () => {
        const s = await scenario("full-node", { ...FAST_PULL, [SIM.maxPods]: "0" });
        const result = await failingCreate(s, {});
        assertEarly(result);
        assert.match(
            result.error.message,
            new RegExp(`node ${s.id}-a: the pre-pull pod cannot be scheduled: Too many pods`),
        );
        assert.match(result.error.message, /maxPods/);
        assert.ok(
            result.lines.some((l) => /problems: .*Too many pods/.test(l)),
            result.lines.join("\n"),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("one full node among two does not block the rollout: it is skipped (the default), named, and not covered", async () => {
        const s = await newScenario(cluster, "one-full");
        const full = await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.maxPods]: "0" } });
        const ok = await addNode(cluster, s, "b", { annotations: FAST_PULL });
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/failures/${s.id}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const lines: string[] = [];
        const result = await withConsoleLines(lines, () => prePullProvider.create(inputs));
        assert.deepEqual(result.outs.nodes, [ok]);
        assert.deepEqual(Object.keys(result.outs.skippedNodes), [full]);
        assert.match(result.outs.skippedNodes[full], /^Too many pods/);
        assert.ok(
            lines.some((l) => new RegExp(`skipping node ${full}: its pre-pull pod could not be scheduled`).test(l)),
            lines.join("\n"),
        );
        assert.ok(
            lines.some((l) => new RegExp(`1 node skipped, their pre-pull pod could not be scheduled: ${full}`).test(l)),
            lines.join("\n"),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("parallelPulls: a node with room for only one of its two pre-pull pods is skipped, naming the pod limit and parallelPulls", async () => {
        const s = await newScenario(cluster, "parallel-full");
        const full = await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.maxPods]: "1" } });
        const ok = await addNode(cluster, s, "b", { annotations: FAST_PULL });
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/failures/${s.id}-1:1`, `registry.example.com/failures/${s.id}-2:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            parallelPulls: 2,
        });
        const lines: string[] = [];
        const result = await withConsoleLines(lines, () => prePullProvider.create(inputs));
        assert.deepEqual(result.outs.nodes, [ok]);
        assert.deepEqual(Object.keys(result.outs.skippedNodes), [full]);
        assert.match(
            result.outs.skippedNodes[full],
            /^Too many pods.*with parallelPulls, each node takes that many pre-pull pods/,
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it('unschedulableNodes: "fail" fails on one full node among two, naming it', async () => {
        const s = await newScenario(cluster, "one-full-fails");
        const full = await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.maxPods]: "0" } });
        await addNode(cluster, s, "b", { annotations: FAST_PULL });
        const result = await failingCreate(s, { unschedulableNodes: "fail" });
        assertEarly(result);
        assert.match(
            result.error.message,
            new RegExp(`node ${full}: the pre-pull pod cannot be scheduled: Too many pods`),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a node without room for the pods' requests: Insufficient cpu", async () => {
        const s = await scenario("insufficient-cpu");
        const result = await failingCreate(s, {
            daemonSetPatch: {
                spec: {
                    template: {
                        spec: {
                            containers: [
                                {
                                    name: "pause",
                                    image: "registry.k8s.io/pause:3.10",
                                    resources: { requests: { cpu: "64" } },
                                },
                            ],
                        },
                    },
                },
            },
        });
        assertEarly(result);
        assert.match(
            result.error.message,
            new RegExp(`node ${s.id}-a: the pre-pull pod cannot be scheduled: Insufficient cpu`),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a runtime that cannot create the pod's sandbox (FailedCreatePodSandBox, as the real node showed for runc)", async () => {
        const message =
            "failed to create containerd task: OCI runtime create failed: runc create failed: unable to start container process";
        const s = await scenario("sandbox", { ...FAST_PULL, [SIM.sandboxError]: message });
        const result = await failingCreate(s, {});
        assertEarly(result);
        assert.match(
            result.error.message,
            new RegExp(
                `node ${s.id}-a: the pre-pull pod cannot start: FailedCreatePodSandBox: .*unable to start container process`,
            ),
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a sandbox error that clears after its first warning ends in success, though the warning lives on", async () => {
        // The pulls (helper and image, 20 s each) outlast the 30 s tolerance: a warning that still
        // counted would fail the create.
        const s = await newScenario(cluster, "sandbox-clears");
        const node = await addNode(cluster, s, "a", {
            annotations: { ...FAST_STATUS, [SIM.pullSeconds]: "20", [SIM.sandboxError]: "runc create failed" },
        });
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/failures/${s.id}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const lines: string[] = [];
        const creating = withConsoleLines(lines, () => prePullProvider.create(inputs));
        await waitFor(
            async () =>
                (
                    await cluster.core.listNamespacedEvent({
                        namespace: s.namespace,
                        fieldSelector: "reason=FailedCreatePodSandBox",
                    })
                ).items.length > 0,
            "the first FailedCreatePodSandBox warning",
            60_000,
        );
        await annotateNode(cluster, node, { [SIM.sandboxError]: null });
        const result = await creating;
        assert.deepEqual(result.outs.nodes, [node]);
        assert.ok(
            lines.some((l) => /problems: .*FailedCreatePodSandBox/.test(l)),
            `the warning was shown while it was current:\n${lines.join("\n")}`,
        );
        const warnings = await cluster.core.listNamespacedEvent({
            namespace: s.namespace,
            fieldSelector: "reason=FailedCreatePodSandBox",
        });
        assert.ok(warnings.items.length > 0, "the warning still exists after the success");
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a webhook that denies only the first pod, with maxParallelNodes: 1, ends in success", async () => {
        // Node b has no pod while a pulls (helper and image, 20 s each: past the tolerance), by
        // design of the batch: the old FailedCreate must not count for it.
        const s = await newScenario(cluster, "webhook-blip");
        const slow = { ...FAST_STATUS, [SIM.pullSeconds]: "20" };
        const nodes = [
            await addNode(cluster, s, "a", { annotations: slow }),
            await addNode(cluster, s, "b", { annotations: FAST_PULL }),
        ];
        const webhook = await denyPodsIn(cluster, s.namespace, { denials: 1 });
        try {
            const inputs = await checkedInputs(cluster, {
                images: [`registry.example.com/failures/${s.id}:1`],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                maxParallelNodes: 1,
            });
            const lines: string[] = [];
            const result = await withConsoleLines(lines, () => prePullProvider.create(inputs));
            assert.deepEqual(result.outs.nodes, nodes.sort(), lines.join("\n"));
            const denied = await cluster.core.listNamespacedEvent({
                namespace: s.namespace,
                fieldSelector: "reason=FailedCreate",
            });
            assert.ok(
                denied.items.some((e) => /denied the request/.test(e.message ?? "")),
                "the webhook denied a pod",
            );
        } finally {
            await webhook.stop();
        }
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a DaemonSet deleted by someone else mid-run (a GitOps prune) fails the create within seconds, naming that", async () => {
        const s = await newScenario(cluster, "ds-deleted");
        await addNode(cluster, s, "a", { annotations: { ...FAST_STATUS, [SIM.pullSeconds]: "120" } });
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/failures/${s.id}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const lines: string[] = [];
        const creating = withConsoleLines(lines, () => prePullProvider.create(inputs)).then(
            () => undefined,
            (e: Error) => e,
        );
        let name = "";
        await waitFor(
            async () => {
                const found = await cluster.apps.listNamespacedDaemonSet({ namespace: s.namespace });
                name = found.items[0]?.metadata?.name ?? "";
                return name !== "";
            },
            "the pre-pull DaemonSet",
            30_000,
        );
        // Once the wait has begun (its first look read the DaemonSet back), as a prune would come.
        await waitFor(async () => lines.some((l) => /0\/1 nodes ready/.test(l)), "the wait to begin", 30_000);
        await new Promise((r) => setTimeout(r, 2000));
        const deleted = Date.now();
        await cluster.apps.deleteNamespacedDaemonSet({ name, namespace: s.namespace });
        const error = await creating;
        assert.ok(error, `the create succeeded:\n${lines.join("\n")}`);
        assert.match(
            error.message,
            new RegExp(
                `the DaemonSet ${s.namespace}/${name} was deleted while 1 of 1 eligible nodes still missed images`,
            ),
        );
        const seconds = (Date.now() - deleted) / 1000;
        assert.ok(seconds < 20, `failed ${seconds}s after the DaemonSet was deleted`);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a namespace being deleted: the error says so, not RBAC", async () => {
        const s = await scenario("terminating");
        // A finalizer holds the namespace in Terminating until the test lets it go.
        await cluster.core.createNamespacedConfigMap({
            namespace: s.namespace,
            body: { metadata: { name: "hold", finalizers: ["prepuller.test/hold"] } },
        });
        await cluster.core.deleteNamespace({ name: s.namespace });
        try {
            await waitFor(
                async () => (await cluster.core.readNamespace({ name: s.namespace })).status?.phase === "Terminating",
                "the namespace to be Terminating",
                30_000,
            );
            const result = await failingCreate(s, {});
            assertEarly(result);
            assert.match(
                result.error.message,
                new RegExp(
                    `create daemonsets in namespace "${s.namespace}" was refused: .*being terminated.*is being deleted`,
                ),
            );
            assert.doesNotMatch(result.error.message, /grant RBAC/);
        } finally {
            await cluster.core.patchNamespacedConfigMap(
                { name: "hold", namespace: s.namespace, body: { metadata: { finalizers: null } } },
                cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
            );
        }
    });

    it("a ResourceQuota that allows no DaemonSets: the error names the quota, not RBAC", async () => {
        const s = await scenario("ds-quota");
        await cluster.core.createNamespacedResourceQuota({
            namespace: s.namespace,
            body: { metadata: { name: "no-daemonsets" }, spec: { hard: { "count/daemonsets.apps": "0" } } },
        });
        await waitFor(
            async () =>
                (await cluster.core.readNamespacedResourceQuota({ name: "no-daemonsets", namespace: s.namespace }))
                    .status?.hard !== undefined,
            "the quota controller to count the namespace",
            30_000,
        );
        const result = await failingCreate(s, {});
        assertEarly(result);
        assert.match(
            result.error.message,
            /was refused: .*exceeded quota: no-daemonsets.*a ResourceQuota in namespace/,
        );
        assert.doesNotMatch(result.error.message, /grant RBAC/);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a namespace that does not exist, with pull secrets: the error names the namespace, not the secret", async () => {
        const s = await scenario("no-namespace");
        const result = await failingCreate(s, {
            namespace: `${s.id}-missing`,
            imagePullSecrets: ["regcred"],
        });
        assertEarly(result);
        assert.match(result.error.message, new RegExp(`namespace "${s.id}-missing" does not exist; create it first`));
        assert.doesNotMatch(result.error.message, /secret/);
    });

    it("Docker Hub's rate limit on the helper image is waited out past the tolerance, naming helperImage, and the create ends when it lifts", async () => {
        const s = await newScenario(cluster, "rate-limit");
        const node = await addNode(cluster, s, "a", {
            annotations: { ...FAST_PULL, [SIM.rateLimited]: DEFAULT_HELPER_IMAGE },
        });
        const inputs = await checkedInputs(cluster, {
            images: [`registry.example.com/failures/${s.id}:1`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const lines: string[] = [];
        let finished = false;
        const creating = withConsoleLines(lines, () => prePullProvider.create(inputs)).finally(() => (finished = true));
        await waitFor(
            async () => lines.some((l) => /toomanyrequests/.test(l)),
            "a progress line showing the rate limit",
            60_000,
        );
        // Past the 30 s tolerance, the run still waits.
        await new Promise((r) => setTimeout(r, (PROBLEM_TOLERANCE_SECONDS + 10) * 1000));
        assert.equal(finished, false, `the create ended during the rate limit:\n${lines.join("\n")}`);
        assert.ok(
            lines.some((l) => /container install-noop .*toomanyrequests.*point helperImage at a mirror/.test(l)),
            lines.join("\n"),
        );
        await annotateNode(cluster, node, { [SIM.rateLimited]: null });
        const result = await creating;
        assert.deepEqual(result.outs.nodes, [node]);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("a pull error that clears within the tolerance does not fail the create", async () => {
        const image = "registry.example.com/failures/flaky:1";
        const s = await newScenario(cluster, "transient");
        const node = await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.unpullable]: image } });
        const inputs = await checkedInputs(cluster, {
            images: [image],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
        });
        const lines: string[] = [];
        const creating = withConsoleLines(lines, () => prePullProvider.create(inputs));
        // The pull failed (the run shows it), and the registry comes back before the 30 s
        // tolerance runs out: the next back-off pull succeeds.
        await waitFor(
            async () => lines.some((l) => /problems: .*(ErrImagePull|ImagePullBackOff)/.test(l)),
            "the pull error in a progress line",
            25_000,
        );
        await annotateNode(cluster, node, { [SIM.unpullable]: null });
        const result = await creating;
        assert.deepEqual(result.outs.nodes, [node], lines.join("\n"));
        await assertNothingLeft(cluster, s.namespace);
    });
});
