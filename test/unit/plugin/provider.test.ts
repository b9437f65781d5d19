/**
 * The provider plugin's dispatch and wire-format handling, offline, and its executable as the
 * engine starts it. The plugin serving a Python program through the real engine is in
 * test/e2e/python-stack.test.ts.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { engineAddressOf } from "../../../components/plugin/main";
import { ImagePrePullerProvider, keepSecrets, reveal } from "../../../components/plugin/provider";

const root = path.resolve(__dirname, "../../..");
const secret = (value: unknown) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });
const urnOf = (type: string) =>
    `urn:pulumi:dev::proj::pulumi:pulumi:Stack$image-prepuller:index:ImagePrePuller$${type}::users`;

describe("the provider plugin", () => {
    const provider = new ImagePrePullerProvider("0.1.0", "{}");

    it("checks the pre-pull offline, keeping the kubeconfig secret and naming bad properties", async () => {
        const news = { images: ["python:3.12"], kubeconfig: secret("/nonexistent/kubeconfig"), namespace: "jhub" };
        const result = await provider.check(urnOf("image-prepuller:index:PrePull"), {}, news);
        assert.deepEqual(result.inputs.kubeconfig, secret("/nonexistent/kubeconfig"));
        assert.deepEqual(result.inputs.images, ["docker.io/library/python:3.12"]);
        assert.deepEqual(
            result.failures?.map((f) => f.property),
            ["kubeconfig"],
        );
        const bad = await provider.check(urnOf("image-prepuller:index:PrePull"), {}, { images: ["Bad/Image"] });
        assert.match(JSON.stringify(bad.failures), /"property":"images\[0\]"/);
    });

    it("rejects types it does not serve, for CRUD and construct", async () => {
        await assert.rejects(
            provider.check(urnOf("image-prepuller:index:Other"), {}, {}),
            /unknown resource type image-prepuller:index:Other/,
        );
        await assert.rejects(
            provider.delete("x", urnOf("pulumi-nodejs:dynamic:Resource"), {}),
            /unknown resource type/,
        );
        await assert.rejects(
            provider.construct("x", "image-prepuller:index:Other", {}, {}),
            /unknown resource type image-prepuller:index:Other/,
        );
    });

    it("deletes from state that lacks everything but the id, without contacting a cluster", async () => {
        await provider.delete("", urnOf("image-prepuller:index:PrePull"), {});
        await provider.delete("not-an-id", urnOf("image-prepuller:index:PrePullCleanup"), {
            __provider: "exports.handler = ...",
        });
    });

    it("diffs offline on revealed values", async () => {
        const olds = { images: ["docker.io/library/python:3.12"], kubeconfig: secret("a") };
        const same = await provider.diff("id", urnOf("image-prepuller:index:PrePull"), olds, {
            ...olds,
            kubeconfig: secret("a"),
        });
        assert.equal(same.changes, false);
        const changed = await provider.diff("id", urnOf("image-prepuller:index:PrePull"), olds, {
            ...olds,
            kubeconfig: secret("b"),
        });
        assert.equal(changed.changes, true);
    });

    it("removes secret markers and puts them back where the inputs had them", () => {
        const ins = { kubeconfig: secret("k"), nested: { token: secret("t"), plain: 1 }, list: [secret("x")] };
        assert.deepEqual(reveal(ins), { kubeconfig: "k", nested: { token: "t", plain: 1 }, list: ["x"] });
        const outs = { kubeconfig: "k", nested: { token: "t", plain: 1 }, list: ["x"], extra: "e" };
        assert.deepEqual(keepSecrets(outs, ins), {
            kubeconfig: secret("k"),
            nested: { token: secret("t"), plain: 1 },
            list: secret(["x"]),
            extra: "e",
        });
    });

    it("takes the engine address the way the engine passes it", () => {
        assert.equal(engineAddressOf(["127.0.0.1:5000"]), "127.0.0.1:5000");
        assert.equal(
            engineAddressOf(["--logtostderr", "-v=9", "--tracing", "tcp://t", "127.0.0.1:5000"]),
            "127.0.0.1:5000",
        );
        assert.equal(engineAddressOf([]), undefined);
    });

    it("its executable prints the port first, from any working directory (needs npm run build)", async function () {
        this.timeout(30_000);
        const child = spawn(path.join(root, "bin/pulumi-resource-image-prepuller"), ["127.0.0.1:1"], {
            cwd: "/",
            stdio: ["ignore", "pipe", "pipe"],
        });
        try {
            const first = await new Promise<string>((resolve, reject) => {
                let out = "";
                let err = "";
                child.stdout.on("data", (d: Buffer) => {
                    out += d.toString();
                    if (out.includes("\n")) resolve(out.split("\n")[0]!);
                });
                child.stderr.on("data", (d: Buffer) => (err += d.toString()));
                child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
            });
            assert.match(first, /^\d+$/);
        } finally {
            child.kill();
        }
    });
});
