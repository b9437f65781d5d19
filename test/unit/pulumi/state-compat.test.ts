/**
 * `delete` and `read` run the provider code stored in state, and a consumer's state stores
 * require()s of this package's modules by path. testdata/state-0.1.0/ holds the two providers
 * exactly as 0.1.0 serialized them for a consumer (a copy of the package under node_modules);
 * they are run here against today's compiled package, so a moved or renamed module, or an
 * export that changed shape, fails this test instead of a user's `pulumi destroy`.
 */
import * as assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import requireFromString from "require-from-string";
import { kubeconfigForServer } from "../fixtures/kubeconfig";

const root = path.resolve(__dirname, "../../..");
type StoredProvider = {
    delete(id: string, props: unknown): Promise<void>;
    read?(id: string, props: unknown): Promise<unknown>;
};

describe("state written by 0.1.0", function () {
    this.timeout(60_000);
    let consumer: string;
    let api: Server;
    let kubeconfig: string;
    const requests: string[] = [];

    before(async () => {
        // The package as a consumer has it (run `npm run build` first: npm run test:unit does).
        consumer = mkdtempSync(path.join(root, ".consumer-"));
        const installed = path.join(consumer, "node_modules", "pulumi-image-prepuller");
        cpSync(path.join(root, "dist", "components"), path.join(installed, "dist", "components"), { recursive: true });
        writeFileSync(
            path.join(installed, "package.json"),
            JSON.stringify({ name: "pulumi-image-prepuller", main: "dist/components/index.js" }),
        );
        // An API server that records what it is asked and denies it: the stored code got as far as a request.
        api = createServer((req, res) => {
            requests.push(`${req.method} ${req.url}`);
            res.writeHead(403, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: "forbidden" }));
        });
        await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
        const server = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
        kubeconfig = kubeconfigForServer(server);
    });
    after(() => {
        api.close();
        rmSync(consumer, { recursive: true, force: true });
    });

    function stored(name: string): StoredProvider {
        const text = readFileSync(path.join(__dirname, "..", "testdata", "state-0.1.0", `${name}-provider.js`), "utf8");
        // Resolved as in the consumer's program directory, where the engine runs it.
        const loaded = requireFromString(text, path.join(consumer, "index.js")) as { handler: () => StoredProvider };
        return loaded.handler();
    }

    for (const name of ["prepull", "cleanup"]) {
        it(`the stored ${name} provider deletes with today's modules: it reaches the API`, async () => {
            requests.length = 0;
            const provider = stored(name);
            const props = { namespace: "jhub", ownerId: "prepull-0123456789", kubeconfig };
            await assert.rejects(provider.delete("jhub/prepull-0123456789", props), (e: Error) => {
                assert.match(e.message, /list daemonsets in namespace "jhub" was refused: forbidden/);
                return true;
            });
            assert.ok(
                requests.some((r) => r.startsWith("GET /apis/apps/v1/namespaces/jhub/daemonsets")),
                requests.join(", "),
            );
            // State that lacks everything but an unparsable id still deletes, without a request.
            requests.length = 0;
            await provider.delete("", {});
            assert.deepEqual(requests, []);
        });
    }

    it("the stored prepull provider refreshes with today's modules: it reaches the API", async () => {
        requests.length = 0;
        const props = {
            images: ["docker.io/library/python:3.12"],
            namespace: "jhub",
            ownerId: "prepull-1",
            kubeconfig,
        };
        await assert.rejects(
            stored("prepull").read!("jhub/prepull-1", props),
            /list nodes \(cluster-wide\) was refused: forbidden/,
        );
        assert.ok(
            requests.some((r) => r.startsWith("GET /api/v1/nodes")),
            requests.join(", "),
        );
    });
});
