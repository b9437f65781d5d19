import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
    clusterIdentity,
    loadClientLibrary,
    loadKubeConfig,
    quickClusterIdentity,
} from "../../../components/cluster/kubeconfig";

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n").toString("base64");

function kubeconfig(cluster: string, extra = ""): string {
    return `apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {${cluster}}
- name: two
  cluster: {server: "https://two.example:6443", certificate-authority-data: ${CA}}
contexts:
- {name: a, context: {cluster: one, user: u}}
- {name: b, context: {cluster: two, user: u, namespace: jhub}}
- {name: a, context: {cluster: two, user: u}}
current-context: a
users:
- {name: u, user: {token: t0k3n}}
${extra}`;
}

/** What client-node gives, or its error. */
function full(value: string, context?: string): string {
    try {
        return clusterIdentity(loadKubeConfig(loadClientLibrary(), value, context));
    } catch (e) {
        return `error: ${(e as Error).message}`;
    }
}

describe("the cluster identity read without client-node", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "prepuller-kubeconfig-"));
    after(() => rmSync(dir, { recursive: true, force: true }));

    const same: [string, string, string?][] = [
        ["server and CA data", kubeconfig(`server: "https://one.example:6443", certificate-authority-data: ${CA}`)],
        ["a trailing slash on the server", kubeconfig(`server: "https://one.example:6443/"`)],
        ["a CA file", kubeconfig(`server: "https://one.example", certificate-authority: /etc/ca.pem`)],
        ["a named context", kubeconfig(`server: "https://one.example"`), "b"],
        ["a duplicated context name (the first wins)", kubeconfig(`server: "https://one.example"`), "a"],
        [
            "JSON contents",
            JSON.stringify({
                clusters: [{ name: "c", cluster: { server: "https://c.example" } }],
                contexts: [{ name: "x", context: { cluster: "c" } }],
                "current-context": "x",
            }),
        ],
        [
            "an exec user",
            kubeconfig(`server: "https://one.example"`).replace(
                "{token: t0k3n}",
                "{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws-iam-authenticator}}",
            ),
        ],
    ];
    for (const [what, value, context] of same) {
        it(`matches client-node: ${what}`, () => {
            const quick = quickClusterIdentity(value, context);
            assert.ok(quick !== undefined, "the quick reading gave up");
            assert.equal(quick, full(value, context));
        });
    }

    it("matches client-node for a file, with a CA path relative to the file", () => {
        const file = path.join(dir, "config");
        writeFileSync(file, kubeconfig(`server: "https://one.example", certificate-authority: ca/ca.pem`));
        const quick = quickClusterIdentity(file, undefined);
        assert.ok(quick !== undefined);
        assert.equal(quick, full(file));
        assert.notEqual(
            quick,
            quickClusterIdentity(
                kubeconfig(`server: "https://one.example", certificate-authority: ca/ca.pem`),
                undefined,
            ),
            "the relative CA path was not resolved against the file's directory",
        );
    });

    it("tells clusters apart and leaves credentials out", () => {
        const one = kubeconfig(`server: "https://one.example"`);
        assert.notEqual(quickClusterIdentity(one, "a"), quickClusterIdentity(one, "b"));
        assert.equal(quickClusterIdentity(one, "a"), quickClusterIdentity(one.replace("t0k3n", "r0tat3d"), "a"));
    });

    // Each of these is an error (or a file read) in client-node: the quick reading leaves it to it.
    const unsure: [string, string, string?][] = [
        ["a cluster without a server", kubeconfig(`certificate-authority-data: ${CA}`)],
        ["a context that is not there", kubeconfig(`server: "https://one.example"`), "nope"],
        [
            "a current context naming no cluster",
            kubeconfig(`server: "https://one.example"`).replace("cluster: one", "cluster: gone"),
        ],
        ["a user without a name", kubeconfig(`server: "https://one.example"`, "- {user: {token: x}}\n")],
        [
            "a token file",
            kubeconfig(`server: "https://one.example"`).replace("{token: t0k3n}", "{token-file: /nonexistent/token}"),
        ],
        ["YAML that does not parse", "apiVersion: v1\nclusters: [\n"],
        ["a path with no file", path.join(dir, "missing")],
        ["base64 contents", Buffer.from(kubeconfig(`server: "https://one.example"`)).toString("base64")],
    ];
    for (const [what, value, context] of unsure) {
        it(`gives up, for client-node to judge: ${what}`, () => {
            assert.equal(quickClusterIdentity(value, context), undefined);
        });
    }

    it("check does not load client-node for a well-formed kubeconfig, and still does for a broken one", () => {
        const probe = (value: string) =>
            execFileSync(
                process.execPath,
                [
                    "--require",
                    "ts-node/register/transpile-only",
                    "-e",
                    `const Module = require("module");
                     let loaded = false;
                     const original = Module.prototype.require;
                     Module.prototype.require = function (id) {
                         if (id === "@kubernetes/client-node") loaded = true;
                         return original.apply(this, arguments);
                     };
                     const { prePullProvider } = require("./components/pulumi/provider");
                     prePullProvider.check({}, { images: ["busybox"], kubeconfig: ${JSON.stringify(value)} }).then((r) => {
                         console.log(JSON.stringify({ loaded, failures: r.failures.length }));
                     });`,
                ],
                { encoding: "utf8", cwd: path.join(__dirname, "../../..") },
            );
        assert.deepEqual(JSON.parse(probe(kubeconfig(`server: "https://one.example"`))), {
            loaded: false,
            failures: 0,
        });
        assert.deepEqual(JSON.parse(probe(kubeconfig(`certificate-authority-data: ${CA}`))), {
            loaded: true,
            failures: 1,
        });
    });
});
