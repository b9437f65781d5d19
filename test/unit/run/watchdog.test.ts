import * as assert from "node:assert/strict";
import * as net from "node:net";
import { engineAddress, watchEngine } from "../../../components/run/watchdog";

describe("the engine watchdog", () => {
    it("finds the engine address only in a provider host's arguments", () => {
        const host = "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js";
        assert.equal(engineAddress(["node", host, "127.0.0.1:40123"]), "127.0.0.1:40123");
        assert.equal(engineAddress(["node", "/x/node_modules/.bin/mocha", "127.0.0.1:40123"]), undefined);
        assert.equal(engineAddress(["node", host]), undefined);
    });

    it("without an engine it never fires", async () => {
        const watch = watchEngine(undefined);
        const outcome = await Promise.race([
            watch.gone.then(
                () => "resolved",
                () => "rejected",
            ),
            new Promise((r) => setTimeout(() => r("quiet"), 300)),
        ]);
        watch.stop();
        assert.equal(outcome, "quiet");
        assert.equal(watch.fired(), false);
    });

    it("fires within seconds once the engine's address refuses connections, and not before", async function () {
        this.timeout(20_000);
        const server = net.createServer((socket) => socket.end());
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
        const watch = watchEngine(address);
        let firedAt: number | undefined;
        watch.gone.catch(() => (firedAt = Date.now()));
        await new Promise((r) => setTimeout(r, 5000));
        assert.equal(firedAt, undefined, "fired while the engine was still there");
        const closedAt = Date.now();
        await new Promise<void>((r) => server.close(() => r()));
        await assert.rejects(watch.gone, /engine .* is gone/);
        assert.ok(firedAt! - closedAt < 8000, `took ${firedAt! - closedAt} ms`);
        watch.stop();
    });
});
