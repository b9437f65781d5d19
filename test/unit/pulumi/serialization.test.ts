import * as assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import { cleanupProvider, prePullProvider } from "../../../components/pulumi/provider";
import { installedCopy } from "../../../harness/installed-copy";
import { kubeconfigForServer } from "../fixtures/kubeconfig";

type Provider = pulumi.dynamic.ResourceProvider;

/** What Pulumi stores in state for a dynamic resource, and how the provider host loads it back. */
async function roundTrip(provider: Provider): Promise<{ text: string; loaded: Provider }> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider);
    const loaded = (requireFromString(serialized.text) as { handler: () => Provider }).handler();
    return { text: serialized.text, loaded };
}

const cases: Record<string, unknown>[] = [
    { images: ["python:3.12", "docker.io/library/python:3.12", "Bad/Image"] },
    { images: ["python"], namespace: "Bad_NS", tolerations: [{ key: "k", operator: "Sometimes" }] },
    { images: ["python"], nodeSelector: { a: "b c" }, affinity: { podAffinity: {} } },
    { images: ["python"], imagePullSecrets: ["regcred", { name: "x" }], pollIntervalSeconds: 5, timeoutSeconds: 1 },
    { images: [`python@sha256:${"a".repeat(64)}`], helperImage: "mirror.example.com/busybox:1" },
    { images: ["python"], unknown: 1 },
    { images: ["python"], continuous: true, maxParallelNodes: 2 },
    { images: ["python"], continuous: "yes", maxParallelNodes: 0.5 },
    // The cluster identity, read without client-node (js-yaml, required inside the closure).
    { images: ["python"], kubeconfig: kubeconfigForServer("https://10.0.0.1:6443") },
];

describe("the provider as Pulumi serializes it into state", () => {
    it("behaves exactly like the source for check and diff", async function () {
        this.timeout(60_000);
        const { loaded } = await roundTrip(prePullProvider);
        for (const news of cases) {
            const olds = { ownerId: "prepull-fixed" };
            const expected = await prePullProvider.check!(olds, news);
            const actual = await loaded.check!(olds, news);
            assert.deepEqual(actual, expected, JSON.stringify(news));
            if (news.kubeconfig !== undefined) {
                assert.match(
                    String((actual.inputs as { clusterIdentity?: unknown }).clusterIdentity),
                    /^[0-9a-f]{16}$/,
                );
            }
            for (const failure of actual.failures ?? []) assert.ok(failure.reason.length > 0, JSON.stringify(failure));
            const diffExpected = await prePullProvider.diff!("id", expected.inputs, cases[0]!);
            assert.deepEqual(await loaded.diff!("id", expected.inputs, cases[0]!), diffExpected);
        }
    });

    it("the cleanup guard serializes too", async function () {
        this.timeout(60_000);
        const { loaded } = await roundTrip(cleanupProvider);
        const created = await loaded.create({ ownerId: "prepull-x" });
        assert.equal(created.id, "default/prepull-x");
    });

    it("runs a create as Pulumi stores it: watches, change signals and the wait all survive serialization", async function () {
        // Pulumi's serializer drops class field initializers and refuses closures that use a
        // variable declared later; only code that runs after the round trip shows the first.
        this.timeout(60_000);
        const image = "docker.io/library/python:3.12";
        const node = {
            metadata: { name: "n1", resourceVersion: "1", labels: {} },
            spec: {},
            status: { conditions: [{ type: "Ready", status: "True" }], images: [{ names: [image], sizeBytes: 1 }] },
        };
        const watches: ServerResponse[] = [];
        const api = createServer((req, res) => {
            const url = new URL(req.url!, "http://x");
            res.setHeader("Content-Type", "application/json");
            if (url.searchParams.get("watch") === "true") {
                watches.push(res);
                res.writeHead(200);
                res.write(
                    `${JSON.stringify({ type: "ADDED", object: { kind: "Node", apiVersion: "v1", ...node } })}\n`,
                );
                return;
            }
            const kind = url.pathname.endsWith("/nodes") ? "NodeList" : "DaemonSetList";
            const items = kind === "NodeList" ? [node] : [];
            res.end(JSON.stringify({ kind, apiVersion: "v1", metadata: { resourceVersion: "1" }, items }));
        });
        await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
        try {
            const server = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
            const kubeconfig = kubeconfigForServer(server);
            const { loaded } = await roundTrip(prePullProvider);
            const { inputs } = await loaded.check!({}, { images: [image], kubeconfig, namespace: "jhub" });
            const created = await loaded.create(inputs);
            assert.equal(created.outs.skipped, true);
            assert.deepEqual(created.outs.nodes, ["n1"]);
            assert.ok(watches.length >= 1, "the node watch ran");
        } finally {
            for (const w of watches) w.destroy();
            api.close();
        }
    });

    // What the component stores for an installed copy is a reference, not the serializer's output
    // (component.test.ts); this bounds what the serializer writes where it still runs.
    it("the serializer writes, for a consumer's installed module, a require of the package, not its code", async function () {
        this.timeout(60_000);
        const copy = installedCopy();
        const consumer = copy.dir;
        try {
            const consumerModule = require(
                copy.file("dist/components/index.js"),
            ) as typeof import("../../../components");
            const previous = process.cwd();
            process.chdir(consumer);
            let text: string;
            try {
                ({ text } = await pulumi.runtime.serializeFunction(() => consumerModule.prePullProvider));
            } finally {
                process.chdir(previous);
            }
            assert.match(text, /require\("pulumi-image-prepuller\/dist\/components\/[a-z-]+(\.js)?"\)/);
            assert.doesNotMatch(text, /function \/\*evaluatePresence\*\//, "library code was inlined into state");
            const consumerBytes = Buffer.byteLength(text);
            console.log(`      serialized provider: ${consumerBytes} bytes for a consumer`);
            // The target: at most 20 KB of state per resource (README, State size).
            assert.ok(consumerBytes <= 20 * 1024, `a consumer's state holds ${consumerBytes} bytes of provider`);
        } finally {
            copy.remove();
        }
        const inRepo = await roundTrip(prePullProvider);
        const inRepoBytes = Buffer.byteLength(inRepo.text);
        console.log(`      serialized provider: ${inRepoBytes} bytes in this repository (code inlined)`);
        // Inlined, the library's code is the provider: bounded so that a dependency pulled in by
        // accident (client-node inlined, say) shows up.
        assert.ok(inRepoBytes <= 250 * 1024, `${inRepoBytes} bytes inlined into state in this repository`);
    });
});
