/**
 * No error, warning or progress line carries any part of a kubeconfig's credentials, in any form
 * a user may pass it. One sentinel secret goes through every error path of both providers and of
 * the plugin, with an API server (a local HTTP listener) that echoes the credentials it was sent
 * in its error bodies, as a misconfigured proxy or webhook may.
 */
import * as assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { credentialStrings, kubeconfigForm, redact } from "../../../components/rules/credentials";
import { ImagePrePullerProvider } from "../../../components/plugin/provider";
import { cleanupProvider, prePullProvider } from "../../../components/pulumi/provider";

const SENTINEL = "s3ntinel-T0KEN-9f8e7d6c5b4a3928171605f4e3d2c1b0";
const PASSWORD = "pw-Zq8!short";

function yamlKubeconfig(server: string, user: string): string {
    return [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: u, user: ${user}}]`,
        "contexts: [{name: ctx, context: {cluster: c, user: u}}]",
        "current-context: ctx",
        "",
    ].join("\n");
}

/** Every form a kubeconfig reaches us in, each holding the sentinel. */
function forms(server: string): [string, string][] {
    const tokenYaml = yamlKubeconfig(server, `{token: ${SENTINEL}}`);
    const basicYaml = yamlKubeconfig(server, `{username: admin, password: "${PASSWORD}"}`);
    const execYaml = yamlKubeconfig(
        server,
        `{exec: {apiVersion: client.authentication.k8s.io/v1, command: /nonexistent/get-token, args: ["--token", "${SENTINEL}"], env: [{name: TOKEN, value: "${SENTINEL}"}], interactiveMode: Never}}`,
    );
    const json = JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server, "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { token: SENTINEL } }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
        "current-context": "ctx",
    });
    return [
        ["multi-line YAML with a token", tokenYaml],
        ["multi-line YAML with basic auth", basicYaml],
        ["JSON on one line", json],
        ["base64 of the YAML", Buffer.from(tokenYaml).toString("base64")],
        ["YAML with escaped newlines", tokenYaml.replace(/\n/g, "\\n")],
        ["a path-like string that is the secret", `/var/run/${SENTINEL}/kubeconfig`],
        ["an exec-plugin kubeconfig", execYaml],
    ];
}

/** Whether `text` holds the sentinel or password, a 12-character piece of either, or their base64. */
function leaks(text: string): string | undefined {
    for (const secret of [SENTINEL, PASSWORD]) {
        const candidates = [secret, Buffer.from(secret).toString("base64")];
        for (const c of candidates) {
            if (text.includes(c)) return c;
            for (let i = 0; i + 12 <= c.length; i++) if (text.includes(c.slice(i, i + 12))) return c.slice(i, i + 12);
        }
    }
    if (text.includes(PASSWORD)) return PASSWORD;
    return undefined;
}

/** An API server that denies every request (403) and echoes the credentials it received. */
async function echoingServer(): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
        res.writeHead(403, { "Content-Type": "application/json" });
        res.end(
            JSON.stringify({
                kind: "Status",
                apiVersion: "v1",
                status: "Failure",
                reason: "Forbidden",
                code: 403,
                message: `forbidden: credentials "${req.headers.authorization ?? ""}" rejected`,
            }),
        );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function outcome(work: () => Promise<unknown>): Promise<string> {
    try {
        await work();
        return "";
    } catch (e) {
        const err = e as Error;
        return `${err.message}\n${err.stack ?? ""}`;
    }
}

describe("credentials are never printed", function () {
    this.timeout(120_000);
    let api: { server: Server; url: string };
    const printed: string[] = [];
    const originalLog = console.log;

    before(async () => {
        api = await echoingServer();
        console.log = (...args: unknown[]) => printed.push(args.map(String).join(" "));
    });
    after(() => {
        console.log = originalLog;
        api.server.close();
    });

    it("recognises each form without reading a file", () => {
        const got = forms("https://127.0.0.1:1").map(([name, value]) => [name, kubeconfigForm(value)]);
        assert.deepEqual(got, [
            ["multi-line YAML with a token", "yaml"],
            ["multi-line YAML with basic auth", "yaml"],
            ["JSON on one line", "json"],
            ["base64 of the YAML", "base64"],
            ["YAML with escaped newlines", "escaped-newlines"],
            ["a path-like string that is the secret", "path"],
            ["an exec-plugin kubeconfig", "yaml"],
        ]);
    });

    it("redacts a credential whole, in part, and as base64", () => {
        const secrets = credentialStrings(yamlKubeconfig("https://h", `{token: ${SENTINEL}}`));
        for (const text of [
            `token ${SENTINEL} rejected`,
            `truncated ...${SENTINEL.slice(5, 30)}`,
            `header Basic ${Buffer.from(SENTINEL).toString("base64")}`,
        ]) {
            const out = redact(text, secrets);
            assert.equal(leaks(out), undefined, out);
            assert.match(out, /\[redacted\]/);
        }
        // Names and addresses stay readable.
        assert.equal(redact('context "ctx" on https://h', secrets), 'context "ctx" on https://h');
    });

    it("says what a base64 or escaped kubeconfig is and what to pass instead", async () => {
        const [, , , [, base64], [, escaped]] = forms("https://127.0.0.1:1");
        const b = await prePullProvider.check!({}, { images: ["python"], kubeconfig: base64 });
        assert.match(
            b.failures![0]!.reason,
            /base64-encoded kubeconfig contents \(\d+ characters, not shown\); decode/,
        );
        const e = await prePullProvider.check!({}, { images: ["python"], kubeconfig: escaped });
        assert.match(e.failures![0]!.reason, /literal "\\n" escapes .*pass the contents with real newlines/);
    });

    it("in no failure, error or progress line of check, create, update, read and delete of both providers and the plugin", async () => {
        const plugin = new ImagePrePullerProvider("0.1.0", "{}", {
            forResource: () => (line: string) => printed.push(line),
            flush: async () => undefined,
        });
        const secret = (value: unknown) => ({
            [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
            value,
        });
        const urn = (type: string) =>
            `urn:pulumi:dev::proj::pulumi:pulumi:Stack$image-prepuller:index:ImagePrePuller$image-prepuller:index:${type}::users`;
        const seen: string[] = [];
        for (const [name, kubeconfig] of forms(api.url)) {
            const inputs = {
                images: ["docker.io/library/python:3.12"],
                namespace: "jhub",
                ownerId: "prepull-0123456789",
                kubeconfig,
                timeoutSeconds: 5,
                pollIntervalSeconds: 2,
            };
            const props = { ...inputs, nodes: [], skipped: false, durationSeconds: 0, missingNodes: {} };
            const results: [string, string][] = [
                [
                    "check",
                    JSON.stringify(
                        await prePullProvider.check!({}, { images: ["python"], kubeconfig, context: "ctx" }),
                    ),
                ],
                [
                    "check, unknown context",
                    JSON.stringify(await prePullProvider.check!({}, { images: ["python"], kubeconfig, context: "x" })),
                ],
                [
                    "check, kubeconfig in context",
                    JSON.stringify(await prePullProvider.check!({}, { images: ["python"], context: kubeconfig })),
                ],
                ["create", await outcome(() => prePullProvider.create(inputs as never))],
                ["update", await outcome(() => prePullProvider.update!("jhub/x", props as never, inputs as never))],
                ["read", await outcome(() => prePullProvider.read!("jhub/x", props as never))],
                ["delete", await outcome(() => prePullProvider.delete!("jhub/x", props as never))],
                ["cleanup delete", await outcome(() => cleanupProvider.delete!("jhub/x", props as never))],
                [
                    "plugin check",
                    JSON.stringify(
                        await plugin.check(urn("PrePull"), {}, { images: ["python"], kubeconfig: secret(kubeconfig) }),
                    ),
                ],
                [
                    "plugin create",
                    await outcome(() => plugin.create(urn("PrePull"), { ...inputs, kubeconfig: secret(kubeconfig) })),
                ],
                [
                    "plugin read",
                    await outcome(() =>
                        plugin.read("jhub/x", urn("PrePull"), { ...props, kubeconfig: secret(kubeconfig) }),
                    ),
                ],
                [
                    "plugin delete",
                    await outcome(() =>
                        plugin.delete("jhub/x", urn("PrePullCleanup"), { ...props, kubeconfig: secret(kubeconfig) }),
                    ),
                ],
            ];
            for (const [path, text] of results) {
                const found = leaks(text.replace(JSON.stringify(kubeconfig), ""));
                assert.equal(found, undefined, `${name}, ${path}: printed "${found}" in ${text.slice(0, 400)}`);
                seen.push(`${name}: ${path}`);
            }
        }
        for (const line of printed) assert.equal(leaks(line), undefined, `a progress line: ${line}`);
        assert.equal(seen.length, 7 * 12);
    });
});
