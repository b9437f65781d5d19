/**
 * The @pulumi/kubernetes plugin the tests build (from the one provider module version the Go proxy
 * serves, stamped 4.24.1) serves the resource types of the npm SDK the repository pins. Resource
 * lists do not tell 4.23.0, 4.24.1 and 4.25.0 apart; 4.24.1 is the nearest published release after
 * the module's commit (2026-01-15), and the module builds against sdk/v4 v4.24.0.
 *
 * The build registers the objects of the plugin's own components (ConfigGroup/ConfigFile v2,
 * Chart v4) as untyped resources under their own type tokens, not as the typed Go structs of its
 * SDK, which it then need not compile (test/toolchain/kubernetes-plugin/ensure.sh): a ConfigGroup
 * is deployed through the real engine here to show that the engine and the cluster see the same.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { repoRoot, sharedCluster, type TestCluster } from "../../harness/cluster";
import { sharedEngine } from "../../harness/engine";

/** The Pulumi types the SDK's resource classes register, from its compiled JavaScript. */
function sdkResourceTypes(dir: string): Set<string> {
    const types = new Set<string>();
    const visit = (d: string) => {
        for (const entry of readdirSync(d)) {
            const full = path.join(d, entry);
            if (statSync(full).isDirectory()) {
                if (entry !== "node_modules") visit(full);
            } else if (entry.endsWith(".js")) {
                for (const m of readFileSync(full, "utf8").matchAll(/__pulumiType = '([^']+)'/g)) types.add(m[1]!);
            }
        }
    };
    visit(dir);
    return types;
}

describe("the @pulumi/kubernetes plugin built for the tests", function () {
    this.timeout(60 * 60 * 1000);
    let schema: { resources: Record<string, unknown> };
    let binary: string;

    before(async () => {
        const { stdout } = await promisify(execFile)(
            "bash",
            [path.join(repoRoot, "test/toolchain/kubernetes-plugin/ensure.sh"), "--no-installed"],
            {
                maxBuffer: 64 * 1024 * 1024,
            },
        );
        binary = stdout.trim().split("\n").pop()!.trim();
        schema = JSON.parse(readFileSync(path.join(path.dirname(binary), "schema.json"), "utf8"));
    });

    it("is the version the pinned SDK asks for", () => {
        const sdk = JSON.parse(
            readFileSync(path.join(repoRoot, "node_modules/@pulumi/kubernetes/package.json"), "utf8"),
        ) as {
            version: string;
            pulumi: { version: string };
        };
        assert.equal(sdk.version, "4.24.1");
        assert.equal(sdk.pulumi.version, "4.24.1");
        assert.match(binary, /kubernetes-4\.24\.1-/);
    });

    it("serves exactly the resource types of the pinned SDK (besides its TypeScript overlays)", () => {
        const sdk = sdkResourceTypes(path.join(repoRoot, "node_modules/@pulumi/kubernetes"));
        sdk.delete("kubernetes"); // the provider resource
        const served = new Set(Object.keys(schema.resources));
        // Implemented in the SDK's TypeScript, on top of other resources.
        const overlays = [
            "kubernetes:apiextensions.k8s.io:CustomResource",
            "kubernetes:apiextensions.k8s.io:CustomResourcePatch",
            "kubernetes:kustomize:Directory",
            "kubernetes:yaml:ConfigFile",
            "kubernetes:yaml:ConfigGroup",
        ];
        for (const overlay of overlays) served.delete(overlay);
        assert.deepEqual(
            [...sdk].filter((t) => !served.has(t)),
            [],
            "types the SDK has and the plugin does not serve",
        );
        assert.deepEqual(
            [...served].filter((t) => !sdk.has(t)),
            [],
            "types the plugin serves and the SDK lacks",
        );
        assert.ok(sdk.has("kubernetes:apps/v1:DaemonSet") && sdk.size > 400);
    });
});

describe("a ConfigGroup (yaml/v2) through the built plugin and the real engine", function () {
    this.timeout(600_000);
    let cluster: TestCluster;
    let stack: Stack | undefined;
    const suffix = randomBytes(3).toString("hex");
    const namespace = `configgroup-${suffix}`;
    const secretValue = `not-in-state-${suffix}`;

    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        const { envVars, command } = await sharedEngine();
        const program = async () => {
            const k8s = await import("@pulumi/kubernetes");
            const provider = new k8s.Provider("cluster", { kubeconfig: cluster.kubeconfig });
            const group = new k8s.yaml.v2.ConfigGroup(
                "objects",
                {
                    objs: [
                        { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
                        {
                            apiVersion: "v1",
                            kind: "ConfigMap",
                            metadata: { name: "settings", namespace },
                            data: { greeting: "hello" },
                        },
                        {
                            apiVersion: "v1",
                            kind: "Secret",
                            metadata: { name: "token", namespace },
                            stringData: { token: secretValue },
                        },
                        {
                            apiVersion: "apps/v1",
                            kind: "Deployment",
                            metadata: { name: "web", namespace },
                            spec: {
                                replicas: 0,
                                selector: { matchLabels: { app: "web" } },
                                template: {
                                    metadata: { labels: { app: "web" } },
                                    spec: { containers: [{ name: "web", image: "registry.example/web:1" }] },
                                },
                            },
                        },
                    ],
                },
                { provider },
            );
            return { count: group.resources.apply((r) => r.length) };
        };
        stack = await LocalWorkspace.createStack(
            { stackName: `configgroup-${suffix}`, projectName: "configgroup", program },
            { envVars, pulumiCommand: command, pulumiHome: envVars.PULUMI_HOME },
        );
    });
    after(async function () {
        this.timeout(300_000);
        if (stack) {
            await stack.destroy().catch(() => undefined);
            await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        }
        await cluster?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
    });

    it("creates each object as the resource type of its kind, with the Secret's data secret in state", async () => {
        const result = await stack!.up();
        assert.equal(result.outputs.count!.value, 4);
        const configMap = await cluster.core.readNamespacedConfigMap({ name: "settings", namespace });
        assert.deepEqual(configMap.data, { greeting: "hello" });
        const secret = await cluster.core.readNamespacedSecret({ name: "token", namespace });
        assert.equal(Buffer.from(secret.data!.token!, "base64").toString(), secretValue);
        await cluster.apps.readNamespacedDeployment({ name: "web", namespace });

        // The checkpoint the file:// backend holds (`pulumi stack export` would decrypt the secrets).
        const { stateDir } = await sharedEngine();
        const checkpointFile = path.join(stateDir, ".pulumi/stacks/configgroup", `${stack!.name}.json`);
        const checkpoint = readFileSync(checkpointFile, "utf8");
        for (const form of [secretValue, Buffer.from(secretValue).toString("base64")]) {
            assert.ok(!checkpoint.includes(form), `the Secret's value is in the state as '${form.length} characters'`);
        }
        const resources = (
            JSON.parse(checkpoint) as {
                checkpoint: { latest: { resources: { type: string; urn: string; parent?: string }[] } };
            }
        ).checkpoint.latest.resources;
        const group = resources.find((r) => r.type === "kubernetes:yaml/v2:ConfigGroup");
        assert.ok(group, "no ConfigGroup in the state");
        assert.deepEqual(
            resources
                .filter((r) => r.parent === group.urn)
                .map((r) => r.type)
                .sort(),
            [
                "kubernetes:apps/v1:Deployment",
                "kubernetes:core/v1:ConfigMap",
                "kubernetes:core/v1:Namespace",
                "kubernetes:core/v1:Secret",
            ],
        );
    });
});
