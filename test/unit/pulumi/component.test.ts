import * as assert from "node:assert/strict";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import { installedCopy } from "../../../harness/installed-copy";

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    parent?: string;
}

describe("ImagePrePuller component (under pulumi mocks)", () => {
    const registered: Registered[] = [];
    let componentModule: typeof import("../../../components");

    before(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource(args) {
                    registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                    return {
                        id: `${args.name}-id`,
                        state: {
                            ...args.inputs,
                            nodes: ["node-1"],
                            skipped: false,
                            durationSeconds: 1.5,
                            missingNodes: {},
                        },
                    };
                },
                call: () => ({}),
            },
            "project",
            "stack",
            false,
        );
        // Loaded after setMocks, as the component reads the project and stack when constructed.
        componentModule = require("../../../components");
    });

    function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
        return new Promise((resolve) => output.apply(resolve));
    }

    it("registers the component type with its dynamic resource as a child", async () => {
        const puller = new componentModule.ImagePrePuller("users", {
            images: ["python:3.12"],
            kubeconfig: "apiVersion: v1\nkind: Config\n",
            namespace: "jhub",
        });
        const urn = await outputValue(puller.urn);
        assert.match(urn, /image-prepuller:index:ImagePrePuller::users$/);
        assert.deepEqual(await outputValue(puller.nodes), ["node-1"]);
        const child = registered.find((r) => r.type !== componentModule.COMPONENT_TYPE && r.name === "users");
        assert.ok(child, `child not registered: ${JSON.stringify(registered.map((r) => r.type))}`);
        assert.match(child.type, /dynamic.*PrePull/);
        assert.equal(child.inputs.namespace, "jhub");
        assert.match(String(child.inputs.ownerId), /^prepull-users-[0-9a-f]{10}$/);
        assert.deepEqual(await outputValue(puller.nodes), ["node-1"]);
        assert.equal(await outputValue(puller.skipped), false);
        assert.equal(await outputValue(puller.durationSeconds), 1.5);
    });

    it("owner ids differ across organizations, stacks, parents and names but are stable for one resource", async () => {
        const { ownerIdFor } =
            require("../../../components/pulumi/component") as typeof import("../../../components/pulumi/component");
        const scope = { organization: "org", project: "p", stack: "dev" };
        const id = ownerIdFor("users", scope);
        assert.equal(id, ownerIdFor("users", { ...scope }));
        for (const other of [
            ownerIdFor("users", { ...scope, stack: "prod" }),
            ownerIdFor("users2", scope),
            ownerIdFor("users", { ...scope, organization: "other-org" }),
            ownerIdFor("users", {
                ...scope,
                urn: "urn:pulumi:dev::p::my:index:Hub$image-prepuller:index:ImagePrePuller::users",
            }),
        ]) {
            assert.notEqual(other, id);
        }
        assert.notEqual(
            ownerIdFor("users", {
                ...scope,
                urn: "urn:pulumi:dev::p::my:index:Hub$image-prepuller:index:ImagePrePuller::users",
            }),
            ownerIdFor("users", {
                ...scope,
                urn: "urn:pulumi:dev::p::my:index:Lab$image-prepuller:index:ImagePrePuller::users",
            }),
        );
        assert.ok(ownerIdFor("A very Long_Name with spaces and UPPER case letters", scope).length <= 50);
    });

    it("two same-named pre-pullers under different parent components get different owner ids", async () => {
        class Hub extends pulumi.ComponentResource {}
        const ids: unknown[] = [];
        for (const parentType of ["test:index:Hub", "test:index:Lab"]) {
            const hub = new Hub(parentType, "hub", {});
            new componentModule.ImagePrePuller("user-images", { images: ["python:3.12"] }, { parent: hub });
        }
        const prePulls = () => registered.filter((r) => /:PrePull$/.test(r.type) && r.name === "user-images");
        for (let waited = 0; prePulls().length < 2 && waited < 15_000; waited += 50) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        for (const r of prePulls()) ids.push(r.inputs.ownerId);
        assert.equal(ids.length, 2, JSON.stringify(registered.map((r) => [r.type, r.name])));
        assert.notEqual(ids[0], ids[1]);
    });

    it("passes the kubeconfig to its dynamic resource as a secret", async () => {
        const { prePullProps } =
            require("../../../components/pulumi/component") as typeof import("../../../components/pulumi/component");
        const props = prePullProps("secretive", { images: ["python"], kubeconfig: "apiVersion: v1\n" });
        assert.equal(await pulumi.isSecret(props.kubeconfig as pulumi.Output<string>), true);
        assert.equal(prePullProps("none", { images: ["python"] }).kubeconfig, undefined);
    });

    it("creates the continuous puller, a kubernetes DaemonSet child, only when continuous is true", async () => {
        const without = new componentModule.ImagePrePuller("plain", { images: ["python:3.12"] });
        assert.equal(await outputValue(without.continuousDaemonSet), undefined);
        const puller = new componentModule.ImagePrePuller("always", {
            images: ["python:3.12"],
            namespace: "jhub",
            continuous: true,
        });
        await outputValue(puller.urn);
        await outputValue(puller.nodes);
        await new Promise((r) => setTimeout(r, 100));
        const continuous = registered.filter((r) => r.type === "kubernetes:apps/v1:DaemonSet");
        assert.deepEqual(
            continuous.map((r) => r.name),
            ["always-continuous"],
        );
        const manifest = continuous[0]!.inputs as {
            metadata: { name: string; namespace: string };
            spec: { template: { spec: { initContainers: { image: string }[] } } };
        };
        assert.match(manifest.metadata.name, /^continuous-always-[0-9a-f]{10}$/);
        assert.equal(manifest.metadata.namespace, "jhub");
        assert.deepEqual(manifest.spec.template.spec.initContainers.map((c) => c.image).slice(1), [
            "docker.io/library/python:3.12",
        ]);
        assert.match(
            await outputValue(puller.continuousDaemonSet as pulumi.Output<string>),
            /^jhub\/continuous-always-/,
        );
    });

    it("given a kubernetes provider but no kubeconfig, fails before creating any child, saying what to pass", async () => {
        const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
        const provider = new k8s.Provider("elsewhere", { kubeconfig: "apiVersion: v1\nkind: Config\n" });
        const before = registered.length;
        assert.throws(
            () =>
                new componentModule.ImagePrePuller(
                    "wrong-cluster",
                    { images: ["python:3.12"] },
                    { providers: [provider] },
                ),
            /kubernetes provider is set .* but kubeconfig is not: .*Pass the kubeconfig/,
        );
        await new Promise((r) => setTimeout(r, 100));
        const children = registered
            .slice(before)
            .filter((r) => r.name.startsWith("wrong-cluster") && r.type !== componentModule.COMPONENT_TYPE);
        assert.deepEqual(children, []);
        // With the kubeconfig the provider was made from, the pre-pull goes ahead on that cluster.
        const right = new componentModule.ImagePrePuller(
            "right-cluster",
            { images: ["python:3.12"], kubeconfig: "apiVersion: v1\nkind: Config\n" },
            { providers: [provider] },
        );
        await outputValue(right.nodes);
    });
    it("gives its dynamic children the provider by reference where the package is installed, inlined from source", async function () {
        this.timeout(60_000);
        /** The two children's `__provider` inputs, once the mocks have seen both registered. */
        const providersOf = async (name: string) => {
            const find = (kind: string) =>
                registered.find(
                    (r) => r.name === (kind === "PrePull" ? name : `${name}-cleanup`) && r.type.endsWith(`:${kind}`),
                );
            const deadline = Date.now() + 20_000;
            while (!(find("PrePull") && find("PrePullCleanup")) && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 50));
            }
            return ["PrePull", "PrePullCleanup"].map((kind) => {
                const child = find(kind);
                assert.ok(child, `${kind} of ${name} not registered`);
                assert.equal(child.type, `pulumi-nodejs:dynamic/image-prepuller:${kind}`);
                return String(child.inputs.__provider);
            });
        };
        const kubeconfig = "apiVersion: v1\nkind: Config\n";

        // From source (this repository's example stack): the serializer inlines the code.
        new componentModule.ImagePrePuller("from-source", { images: ["python:3.12"], kubeconfig });
        for (const text of await providersOf("from-source")) {
            assert.match(text, /^exports\.handler = /);
            assert.match(text, /function \/\*(check|diff)\*\//, "the source's code is not inlined");
        }

        // Installed under node_modules (it resolves @pulumi/pulumi, and with it these mocks, from ours).
        const copy = installedCopy();
        const previous = process.cwd();
        try {
            const installedModule = require(
                copy.file("dist/components/index.js"),
            ) as typeof import("../../../components");
            process.chdir(copy.dir);
            new installedModule.ImagePrePuller("installed", { images: ["python:3.12"], kubeconfig });
            // Run from a directory where the package name resolves to no copy: it falls back.
            process.chdir(path.resolve(__dirname, "../../.."));
            new installedModule.ImagePrePuller("elsewhere", { images: ["python:3.12"], kubeconfig });

            const [prePull, cleanup] = await providersOf("installed");
            const module = "pulumi-image-prepuller/dist/components/pulumi/provider.js";
            assert.equal(prePull, `exports.handler = () => require("${module}").prePullProvider;\n`);
            assert.equal(cleanup, `exports.handler = () => require("${module}").cleanupProvider;\n`);
            // As the dynamic-provider host loads it, from the program's directory.
            process.chdir(copy.dir);
            const installedProvider = require(copy.file("dist/components/pulumi/provider.js")) as {
                prePullProvider: unknown;
                cleanupProvider: unknown;
            };
            const load = (text: string) => (requireFromString(text) as { handler: () => unknown }).handler();
            assert.equal(load(prePull!), installedProvider.prePullProvider);
            assert.equal(load(cleanup!), installedProvider.cleanupProvider);

            for (const text of await providersOf("elsewhere")) {
                assert.match(text, /function \/\*(check|diff)\*\//, "fell back to a reference that cannot resolve");
            }
        } finally {
            process.chdir(previous);
            copy.remove();
        }
    });
});
