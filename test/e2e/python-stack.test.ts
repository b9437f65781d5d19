/**
 * The example JupyterHub stack written in Python (programs/jupyterhub-python) through the real
 * Pulumi engine: the CLI, the Python language host, the generated SDK in a venv, and our provider
 * plugin serving the component (construct) and its children (CRUD) on the local cluster.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { promisify } from "node:util";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { repoRoot, sharedCluster, SIM, FAST_STATUS, type TestCluster } from "../../harness/cluster";
import { sharedEngine } from "../../harness/engine";
import { addUserNode, assertHubAfterPulls, assertNothingLeft, recordEvents } from "../../harness/scenario";
import type { PullReport } from "../../components/rules/public-types";

const run = promisify(execFile);
const programDir = path.join(repoRoot, "programs/jupyterhub-python");

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

/** The last line a setup script prints on stdout (its result), or an error with its stderr. */
async function lastLine(script: string): Promise<string> {
    try {
        const { stdout } = await run("bash", [path.join(repoRoot, script)], { maxBuffer: 64 * 1024 * 1024 });
        return stdout.trim().split("\n").pop()!.trim();
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`${script} failed: ${err.message}\n${(err.stderr ?? "").slice(-4000)}`);
    }
}

let python: Promise<Record<string, string>> | undefined;

/** The engine's environment for Python programs: the venv's python first on PATH (the v3.68 host ignores `virtualenv`). */
function pythonEngine(): Promise<Record<string, string>> {
    python ??= (async () => {
        const { envVars } = await sharedEngine();
        const venv = await lastLine("programs/jupyterhub-python/venv.sh");
        return { ...envVars, PATH: [path.join(venv, "bin"), envVars.PATH].join(path.delimiter) };
    })();
    return python;
}

async function pythonStack(prefix: string, config: Record<string, { value: string; secret?: boolean }>) {
    const envVars = await pythonEngine();
    const { command } = await sharedEngine();
    const stack = await LocalWorkspace.createStack(
        { stackName: `${prefix}-${randomBytes(3).toString("hex")}`, workDir: programDir },
        { envVars, pulumiCommand: command, pulumiHome: envVars.PULUMI_HOME },
    );
    await stack.setAllConfig(config);
    return stack;
}

async function removeStack(stack: Stack | undefined): Promise<void> {
    if (!stack) return;
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
    await run("rm", ["-f", path.join(programDir, `Pulumi.${stack.name}.yaml`)]);
}

describe("the example stack in Python, through the real engine and the provider plugin", function () {
    this.timeout(600_000);

    describe("preview without a cluster", () => {
        let stack: Stack;
        before(async function () {
            this.timeout(60 * 60 * 1000);
            stack = await pythonStack("py-offline", {
                kubeconfig: { value: unreachableKubeconfig, secret: true },
                images: { value: JSON.stringify(userImages) },
            });
        });
        after(async () => removeStack(stack));

        it("plans the component and its plugin-served children with no cluster reachable", async () => {
            const result = await stack.preview();
            const planned = result.stdout;
            assert.match(planned, /image-prepuller:index:ImagePrePuller\s+user-images\s+create/);
            assert.match(planned, /image-prepuller:index:PrePull\s+user-images\s+create/);
            assert.match(planned, /image-prepuller:index:PrePullCleanup\s+user-images-cleanup\s+create/);
            assert.doesNotMatch(planned, /pulumi-nodejs:dynamic/);
            assert.ok((result.changeSummary.create ?? 0) >= 6, JSON.stringify(result.changeSummary));
        });

        it("fails on bad input, naming the property", async () => {
            await stack.setConfig("images", { value: JSON.stringify([userImages[0], "Bad/Image"]) });
            await assert.rejects(stack.preview(), (e: Error) => {
                assert.match(e.message, /images\[1\]/);
                assert.match(e.message, /lowercase/);
                return true;
            });
        });
    });

    describe("lifecycle on the local cluster", () => {
        let cluster: TestCluster;
        let stack: Stack | undefined;
        const namespace = `jhub-py-${randomBytes(3).toString("hex")}`;
        const nodes = [1, 2].map((i) => `${namespace}-user-${i}`);
        const images = [...userImages, hubImage];

        before(async function () {
            this.timeout(60 * 60 * 1000);
            cluster = await sharedCluster();
            for (const node of nodes) await addUserNode(cluster, node, { [SIM.pullSeconds]: "2", ...FAST_STATUS });
            stack = await pythonStack("py-e2e", {
                kubeconfig: { value: cluster.kubeconfig, secret: true },
                namespace: { value: namespace },
                images: { value: JSON.stringify(userImages) },
                hubImage: { value: hubImage },
            });
        });
        after(async function () {
            this.timeout(300_000);
            await stack?.destroy().catch(() => undefined);
            await removeStack(stack);
            // Other stacks on the shared cluster select user nodes too: leave none of ours behind.
            for (const node of nodes) await cluster?.core.deleteNode({ name: node }).catch(() => undefined);
        });

        it("up creates the hub only after every user node holds every image, with progress shown", async () => {
            const changes = await recordEvents<k8s.KubernetesObject>(
                cluster,
                ["/api/v1/pods", "/apis/apps/v1/deployments"],
                { fromNow: true },
            );
            let output = "";
            const result = await stack!.up({ onOutput: (line) => (output += line) });
            changes.stop();
            assertHubAfterPulls(changes.events, namespace, nodes, images.length);

            await assertNothingLeft(cluster, namespace);
            assert.deepEqual(result.outputs.images!.value, images);
            assert.deepEqual(
                (result.outputs.nodes!.value as string[]).filter((n) => nodes.includes(n)).sort(),
                [...nodes].sort(),
            );
            assert.equal(result.outputs.skipped!.value, false);
            assert.equal(result.outputs.hubDeployment!.value, `${namespace}/hub`);
            // The plugin's progress lines, sent through the engine's log service.
            assert.match(output, /image-prepuller: pulling 3 images/);
            assert.match(output, /nodes ready/);
            // The pull report reaches a Python program through the SDK's output types.
            const report = result.outputs.pullReport!.value as PullReport;
            for (const image of images) assert.ok((report.images[image]?.nodes ?? 0) >= 1, JSON.stringify(report));
            assert.match(output, /image-prepuller: pulls: slowest node /);
        });

        it("keeps the kubeconfig secret in the stack's state", async () => {
            const { stdout } = await run("pulumi", ["stack", "export", "--stack", stack!.name], {
                cwd: programDir,
                env: { ...process.env, ...(await pythonEngine()) },
                maxBuffer: 64 * 1024 * 1024,
            });
            const credential = /client-key-data:\s*(\S+)|token:\s*(\S+)/.exec(cluster.kubeconfig);
            assert.ok(credential, "the test kubeconfig has no credential to look for");
            assert.ok(
                !stdout.includes(credential[1] ?? credential[2]!),
                "the kubeconfig's credential is in plain text",
            );
            const state = JSON.parse(stdout) as { deployment: { resources: { type: string; provider?: string }[] } };
            const prePull = state.deployment.resources.find((r) => r.type === "image-prepuller:index:PrePull");
            assert.match(String(prePull?.provider), /pulumi:providers:image-prepuller::default_0_1_0::/);
        });

        it("a second up changes nothing and writes nothing to the cluster", async () => {
            const changes = await recordEvents<k8s.KubernetesObject>(
                cluster,
                [
                    `/api/v1/namespaces/${namespace}/pods`,
                    `/apis/apps/v1/namespaces/${namespace}/daemonsets`,
                    `/apis/apps/v1/namespaces/${namespace}/deployments`,
                ],
                { fromNow: true },
            );
            const result = await stack!.up();
            await new Promise((r) => setTimeout(r, 500));
            changes.stop();
            assert.deepEqual(Object.keys(result.summary.resourceChanges ?? {}), ["same"]);
            assert.deepEqual(
                changes.events.map((e) => `${e.type} ${e.obj.kind} ${e.obj.metadata?.name}`),
                [],
            );
        });

        it("destroy leaves nothing of ours in the cluster", async () => {
            await stack!.destroy();
            await assertNothingLeft(cluster, namespace);
            await assert.rejects(cluster.apps.readNamespacedDeployment({ name: "hub", namespace }), /404|not found/i);
        });
    });
});
