/**
 * The example JupyterHub stack through the real Pulumi engine (CLI, Node.js language host,
 * file:// backend) on the local cluster: preview, up, no-op up, update, refresh, destroy.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Stack } from "@pulumi/pulumi/automation";
import { repoRoot, sharedCluster, SIM, type TestCluster, FAST_STATUS } from "../../harness/cluster";
import { exampleStack, jupyterhubValues, removeStack, sharedEngine } from "../../harness/engine";
import { addUserNode, assertHubAfterPulls, assertNothingLeft, recordEvents } from "../../harness/scenario";
import type { PullReport } from "../../components/rules/public-types";

const unreachableKubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{name: nowhere, cluster: {server: 'https://127.0.0.1:1'}}]",
    "users: [{name: u, user: {token: not-a-real-token}}]",
    "contexts: [{name: nowhere, context: {cluster: nowhere, user: u}}]",
    "current-context: nowhere",
].join("\n");

const userImages = ["quay.io/jupyter/scipy-notebook:2025-03-14", "quay.io/jupyter/r-notebook:2025-03-14"];
const hubImage = "quay.io/jupyterhub/k8s-hub:4.4.0";

/** `pulumi stack export` as a user runs it (the Automation API's exportStack shows secrets). */
async function exportedState(stack: Stack): Promise<string> {
    const { envVars } = await sharedEngine();
    const { stdout } = await promisify(execFile)("pulumi", ["stack", "export", "--stack", stack.name], {
        cwd: repoRoot,
        env: { ...process.env, ...envVars },
        maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
}

function userNodeAnnotations(pullSeconds: string): Record<string, string> {
    return { [SIM.pullSeconds]: pullSeconds, ...FAST_STATUS };
}

function stackName(prefix: string): string {
    return `${prefix}-${randomBytes(3).toString("hex")}`;
}

type WatchedObject = k8s.KubernetesObject & { status?: unknown; spec?: unknown };

/** Changes made from now on to the objects under `paths`. */
function recordChanges(cluster: TestCluster, paths: string[]) {
    return recordEvents<WatchedObject>(cluster, paths, { fromNow: true });
}

describe("the example stack through the real Pulumi engine", function () {
    this.timeout(600_000);

    describe("preview without a cluster", () => {
        let stack: Stack;
        before(async function () {
            this.timeout(60 * 60 * 1000);
            stack = await exampleStack(stackName("offline"), {
                kubeconfig: { value: unreachableKubeconfig, secret: true },
                jupyterhubValues: { value: JSON.stringify(jupyterhubValues(userImages, hubImage)) },
            });
        });
        after(async () => removeStack(stack));

        it("plans the pre-puller with no cluster reachable", async () => {
            const result = await stack.preview();
            assert.ok((result.changeSummary.create ?? 0) >= 4, JSON.stringify(result.changeSummary));
            assert.match(result.stdout, /ImagePrePuller|image-prepuller/);
        });

        it("fails on bad input, naming the property", async () => {
            await stack.setConfig("jupyterhubValues", {
                value: JSON.stringify(
                    jupyterhubValues(["quay.io/jupyter/scipy-notebook:2025-03-14", "Bad/Image"], hubImage),
                ),
            });
            await assert.rejects(stack.preview(), (e: Error) => {
                assert.match(e.message, /singleuser\.profileList\[0\]\.kubespawner_override\.image/);
                assert.match(e.message, /lowercase/);
                return true;
            });
        });
    });

    describe("lifecycle on the local cluster", () => {
        let cluster: TestCluster;
        let stack: Stack;
        const namespace = `jhub-${randomBytes(3).toString("hex")}`;
        const nodes = [1, 2, 3].map((i) => `${namespace}-user-${i}`);

        before(async function () {
            this.timeout(60 * 60 * 1000);
            cluster = await sharedCluster();
            for (const node of nodes) await addUserNode(cluster, node, userNodeAnnotations("2"));
            stack = await exampleStack(stackName("e2e"), {
                kubeconfig: { value: cluster.kubeconfig, secret: true },
                namespace: { value: namespace },
                hubImage: { value: hubImage },
                jupyterhubValues: { value: JSON.stringify(jupyterhubValues(userImages, hubImage)) },
            });
        });
        after(async function () {
            this.timeout(300_000);
            if (stack) {
                await stack.destroy().catch(() => undefined);
                await removeStack(stack);
            }
            // Other stacks on the shared cluster select user nodes too: leave none of ours behind.
            for (const node of [...nodes, `${namespace}-user-late`]) {
                await cluster?.core.deleteNode({ name: node }).catch(() => undefined);
            }
        });

        it("up creates the hub only after every user node holds every image, and leaves no DaemonSet", async () => {
            // The namespace does not exist yet: watch cluster-wide and filter.
            const changes = await recordChanges(cluster, ["/api/v1/pods", "/apis/apps/v1/deployments"]);
            let output = "";
            const result = await stack.up({ onOutput: (line) => (output += line) });
            changes.stop();
            // One pull container per user image, and one for the hub image.
            assertHubAfterPulls(changes.events, namespace, nodes, userImages.length + 1);

            await assertNothingLeft(cluster, namespace);
            const outputs = result.outputs;
            assert.deepEqual(outputs.images!.value, [...userImages, hubImage]);
            assert.deepEqual(
                [...(outputs.nodes!.value as string[])].filter((n) => nodes.includes(n)).sort(),
                [...nodes].sort(),
            );
            assert.equal(outputs.skipped!.value, false);
            assert.ok((outputs.durationSeconds!.value as number) > 0);
            assert.match(output, /image-prepuller: pulling 3 images/);
            assert.match(output, /nodes ready/);
            // The pull report: each image timed on every user node it was pulled on, the slowest named.
            const report = outputs.pullReport!.value as PullReport;
            for (const image of userImages) {
                assert.ok((report.images[image]?.nodes ?? 0) >= 1, JSON.stringify(report));
                assert.ok(nodes.includes(report.images[image]!.slowestNode), JSON.stringify(report));
            }
            assert.ok(report.slowestNodes.length > 0, JSON.stringify(report));
            assert.match(output, /image-prepuller: pulls: slowest node /);
        });

        it("the hub pod started on a node that already held its image: no pull happened", async () => {
            const pods = await cluster.core.listNamespacedPod({
                namespace,
                labelSelector: "app=jupyterhub,component=hub",
            });
            assert.equal(pods.items.length, 1, "one hub pod");
            const pod = pods.items[0]!;
            assert.equal(pod.status?.phase, "Running");
            assert.ok(nodes.includes(pod.spec!.nodeName!), `the hub runs on ${pod.spec!.nodeName}, not a user node`);
            const events = (await cluster.core.listNamespacedEvent({ namespace })).items.filter(
                (e) => e.involvedObject.uid === pod.metadata!.uid,
            );
            const reasons = events.map((e) => `${e.reason}: ${e.message}`);
            assert.ok(
                reasons.some((r) => r.startsWith("Pulled: ") && r.includes(`"${hubImage}" already present on machine`)),
                reasons.join("\n"),
            );
            assert.ok(
                !reasons.some((r) => r.startsWith("Pulling:")),
                `the hub pod pulled its image:\n${reasons.join("\n")}`,
            );
        });

        it("a second up changes nothing and writes nothing to the cluster", async () => {
            const changes = await recordChanges(cluster, [
                `/api/v1/namespaces/${namespace}/pods`,
                `/apis/apps/v1/namespaces/${namespace}/daemonsets`,
                `/apis/apps/v1/namespaces/${namespace}/deployments`,
                "/api/v1/namespaces",
            ]);
            const result = await stack.up();
            await new Promise((r) => setTimeout(r, 500));
            changes.stop();
            const summary = result.summary.resourceChanges ?? {};
            assert.deepEqual(Object.keys(summary), ["same"], JSON.stringify(summary));
            assert.deepEqual(
                changes.events.map((e) => `${e.type} ${e.obj.kind} ${e.obj.metadata?.name}`),
                [],
            );
        });

        it("changing the images re-pulls them", async () => {
            const changed = [...userImages, "quay.io/jupyter/julia-notebook:2025-03-14"];
            await stack.setConfig("jupyterhubValues", { value: JSON.stringify(jupyterhubValues(changed, hubImage)) });
            const result = await stack.up();
            assert.deepEqual(result.outputs.images!.value, [...changed, hubImage]);
            assert.equal(result.outputs.skipped!.value, false);
            assert.equal(result.summary.resourceChanges?.update, 1, JSON.stringify(result.summary.resourceChanges));
            await assertNothingLeft(cluster, namespace);
        });

        it("refresh shows a node that joined without the images, and the next up heals it", async () => {
            const late = `${namespace}-user-late`;
            await addUserNode(cluster, late, userNodeAnnotations("1"));
            await stack.refresh();
            // Refresh updates resource state, not the stack's exported outputs: read the resource.
            const state = JSON.parse(await exportedState(stack)) as {
                deployment: { resources: { type: string; outputs?: { missingNodes?: Record<string, string[]> } }[] };
            };
            const prePull = state.deployment.resources.find((r) => r.type.endsWith("image-prepuller:PrePull"));
            const drift = prePull?.outputs?.missingNodes ?? {};
            assert.deepEqual(Object.keys(drift), [late]);
            const result = await stack.up();
            assert.deepEqual(result.outputs.missingNodes!.value, {});
            assert.ok((result.outputs.nodes!.value as string[]).includes(late));
        });

        it("stack export shows the kubeconfig only as a secret", async () => {
            const exported = await exportedState(stack);
            const credential = /client-key-data:\s*(\S+)|token:\s*(\S+)/.exec(cluster.kubeconfig);
            assert.ok(credential, "the test kubeconfig has no credential to look for");
            const secretText = credential[1] ?? credential[2]!;
            assert.ok(!exported.includes(secretText), "the kubeconfig's credential appears in plain text in the state");
            assert.ok(exported.includes("4dabf18193072939515e22adb298388d"), "no secret values in the state at all");
        });

        it("destroy leaves nothing of ours in the cluster", async () => {
            await stack.destroy();
            await assertNothingLeft(cluster, namespace);
            await assert.rejects(cluster.apps.readNamespacedDeployment({ name: "hub", namespace }), /404|not found/i);
        });
    });
});
