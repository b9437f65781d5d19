/**
 * A consumer's install, end to end: a stack outside the repository installs the packed package
 * (`npm pack`) beside the newest @pulumi/pulumi and @pulumi/kubernetes from the registry, ends with
 * exactly one copy of each SDK and of @kubernetes/client-node, and runs up, refresh and destroy on
 * the local cluster with a Deployment that depends on the pre-puller.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { FAST_STATUS, repoRoot, sharedCluster, SIM, type TestCluster } from "../../harness/cluster";
import { sharedEngine } from "../../harness/engine";
import { addUserNode, assertHubAfterPulls, assertNothingLeft, recordEvents } from "../../harness/scenario";

const run = promisify(execFile);

/** Every directory under node_modules that holds a package of this name (nested copies too). */
function copiesOf(nodeModules: string, name: string): string[] {
    const found: string[] = [];
    const visit = (dir: string) => {
        let entries: string[];
        try {
            entries = readdirSync(dir);
        } catch {
            return;
        }
        for (const entry of entries) {
            const full = path.join(dir, entry);
            if (entry.startsWith("@")) {
                for (const scoped of readdirSync(full)) {
                    const pkg = path.join(full, scoped);
                    if (`${entry}/${scoped}` === name) found.push(pkg);
                    visit(path.join(pkg, "node_modules"));
                }
            } else if (entry !== ".bin" && statSync(full).isDirectory()) {
                if (entry === name) found.push(full);
                visit(path.join(full, "node_modules"));
            }
        }
    };
    visit(nodeModules);
    return found;
}

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { ImagePrePuller } = require("pulumi-image-prepuller");

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const namespace = config.require("namespace");
const cluster = new k8s.Provider("cluster", { kubeconfig });
const ns = new k8s.core.v1.Namespace("ns", { metadata: { name: namespace } }, { provider: cluster });
const scheduling = {
    nodeSelector: { "hub.jupyter.org/node-purpose": "user" },
    tolerations: [{ key: "hub.jupyter.org/dedicated", operator: "Equal", value: "user", effect: "NoSchedule" }],
};
const image = "quay.io/jupyter/minimal-notebook:2025-03-14";
const prePuller = new ImagePrePuller(
    "consumer-images",
    { images: [image], namespace, ...scheduling, kubeconfig },
    { providers: [cluster], dependsOn: [ns] },
);
const labels = { app: "consumer" };
const app = new k8s.apps.v1.Deployment(
    "app",
    {
        metadata: { name: "app", namespace, labels },
        spec: {
            selector: { matchLabels: labels },
            template: { metadata: { labels }, spec: { ...scheduling, containers: [{ name: "app", image }] } },
        },
    },
    { provider: cluster, dependsOn: [prePuller] },
);
exports.nodes = prePuller.nodes;
exports.app = app.metadata.name;
`;

describe("a consumer's install of the packed package", function () {
    this.timeout(1_200_000);
    let cluster: TestCluster;
    let dir: string;
    let stack: Stack;
    const namespace = `consumer-${randomBytes(3).toString("hex")}`;
    const node = `${namespace}-user`;
    const versions: Record<string, string> = {};

    before(async function () {
        this.timeout(1_200_000);
        cluster = await sharedCluster();
        const { envVars } = await sharedEngine();
        dir = mkdtempSync(path.join(tmpdir(), "prepuller-consumer-"));
        const packed = (
            await run("npm", ["pack", "--json", "--pack-destination", dir], {
                cwd: repoRoot,
                maxBuffer: 16 * 1024 * 1024,
            })
        ).stdout;
        const tarball = path.join(dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
        for (const name of ["@pulumi/pulumi", "@pulumi/kubernetes"]) {
            versions[name] = (await run("npm", ["view", name, "dist-tags.latest"], { cwd: dir })).stdout.trim();
        }
        writeFileSync(
            path.join(dir, "package.json"),
            JSON.stringify(
                {
                    name: "consumer-stack",
                    private: true,
                    main: "index.js",
                    dependencies: {
                        "pulumi-image-prepuller": `file:${tarball}`,
                        "@pulumi/pulumi": versions["@pulumi/pulumi"],
                        "@pulumi/kubernetes": versions["@pulumi/kubernetes"],
                    },
                    // The kubernetes SDK's install script downloads its plugin: no internet here.
                    allowScripts: { "@pulumi/kubernetes": false, protobufjs: true },
                },
                null,
                2,
            ),
        );
        writeFileSync(path.join(dir, "index.js"), PROGRAM);
        // The kubernetes plugin built for the tests (4.24.1) serves the SDK's requests whatever
        // version it asks for: a project plugin without a version matches any.
        const plugin = path.dirname(
            realpathSync(
                path.join(envVars.PULUMI_HOME!, "plugins/resource-kubernetes-v4.24.1/pulumi-resource-kubernetes"),
            ),
        );
        writeFileSync(
            path.join(dir, "Pulumi.yaml"),
            [
                "name: consumer",
                "runtime: nodejs",
                "plugins:",
                "  providers:",
                "    - name: kubernetes",
                `      path: ${plugin}`,
                "",
            ].join("\n"),
        );
        await run("npm", ["install", "--no-fund", "--no-audit", "--loglevel=error"], {
            cwd: dir,
            env: process.env,
            maxBuffer: 64 * 1024 * 1024,
        });
        await addUserNode(cluster, node, { [SIM.pullSeconds]: "1", ...FAST_STATUS });
        const { command } = await sharedEngine();
        stack = await LocalWorkspace.createStack(
            { stackName: `consumer-${randomBytes(3).toString("hex")}`, workDir: dir },
            { envVars, pulumiCommand: command, pulumiHome: envVars.PULUMI_HOME },
        );
        await stack.setAllConfig({
            kubeconfig: { value: cluster.kubeconfig, secret: true },
            namespace: { value: namespace },
        });
    });
    after(async function () {
        this.timeout(300_000);
        await stack?.destroy().catch(() => undefined);
        await stack?.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        await cluster?.core.deleteNode({ name: node }).catch(() => undefined);
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("has exactly one copy of @pulumi/pulumi, @pulumi/kubernetes and @kubernetes/client-node, the consumer's", () => {
        const nodeModules = path.join(dir, "node_modules");
        for (const name of ["@pulumi/pulumi", "@pulumi/kubernetes", "@kubernetes/client-node"]) {
            const copies = copiesOf(nodeModules, name);
            assert.equal(copies.length, 1, `${name}: ${copies.join(", ")}`);
            if (versions[name]) {
                const installed = (
                    JSON.parse(readFileSync(path.join(copies[0]!, "package.json"), "utf8")) as { version: string }
                ).version;
                assert.equal(installed, versions[name], `${name} is not the consumer's version`);
            }
        }
    });

    it("up pre-pulls before the Deployment, refresh finds no drift, and state holds the provider by reference", async () => {
        // The namespace does not exist yet: watch cluster-wide and filter.
        const changes = await recordEvents(cluster, ["/api/v1/pods", "/apis/apps/v1/deployments"], { fromNow: true });
        const up = await stack.up().finally(() => changes.stop());
        assert.deepEqual(up.outputs.nodes!.value, [node]);
        assert.equal(up.outputs.app!.value, "app");
        assertHubAfterPulls(changes.events, namespace, [node], 1, "app");
        const refreshed = await stack.refresh();
        assert.equal(refreshed.summary.result, "succeeded");
        assert.deepEqual(Object.keys(refreshed.summary.resourceChanges ?? {}), ["same"], "refresh found drift");
        const exported = (await stack.exportStack()).deployment as {
            resources: { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[];
        };
        const prePull = exported.resources.find((r) => r.type === "pulumi-nodejs:dynamic/image-prepuller:PrePull");
        assert.ok(
            prePull,
            `no dynamic PrePull resource in the state: ${exported.resources.map((r) => r.type).join(", ")}`,
        );
        const provider = String(prePull.outputs!.__provider);
        // A reference to the installed package's provider: neither its code nor the serializer's walk.
        assert.equal(
            provider,
            'exports.handler = () => require("pulumi-image-prepuller/dist/components/pulumi/provider.js").prePullProvider;\n',
            "the provider's code was inlined",
        );
        const bytes = Buffer.byteLength(JSON.stringify(prePull));
        console.log(
            `      state of the PrePull resource: ${bytes} bytes (provider: ${Buffer.byteLength(provider)} bytes)`,
        );
        const cleanup = exported.resources.find(
            (r) => r.type === "pulumi-nodejs:dynamic/image-prepuller:PrePullCleanup",
        );
        assert.equal(
            String(cleanup?.outputs?.__provider),
            'exports.handler = () => require("pulumi-image-prepuller/dist/components/pulumi/provider.js").cleanupProvider;\n',
        );
    });

    it("destroy leaves nothing of ours", async () => {
        await stack.destroy();
        await assertNothingLeft(cluster, namespace);
    });
});
