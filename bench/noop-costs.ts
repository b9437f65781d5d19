/**
 * `npm run bench:noop-costs [-- --rounds N]`: the fixed costs that the component adds to a no-op
 * `pulumi up`, each measured on its own in fresh Node processes (median of N), beside the
 * baselines every stack pays anyway. Needs `npm run build` (it loads the compiled package, as a
 * user's program does). Writes bench/results/noop-costs.{json,md}; bench:noop-up measures the
 * whole-process difference that these parts make up.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../harness/cluster";
import { installedCopy } from "../harness/installed-copy";
import { providerReferenceText } from "../components/pulumi/component";
import { machineDescription } from "./machine";
import { median } from "./report";

const dist = path.join(repoRoot, "dist", "components");

/** A kubeconfig as a cloud CLI writes one: a CA of a real certificate's size and a token. */
function sampleKubeconfig(): string {
    const ca = Buffer.from("x".repeat(1150)).toString("base64");
    return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: prod\n  cluster:\n    server: https://203.0.113.10:6443\n    certificate-authority-data: ${ca}`,
        "contexts:",
        "- name: prod\n  context:\n    cluster: prod\n    user: admin",
        "current-context: prod",
        "users:",
        `- name: admin\n  user:\n    token: ${"t".repeat(900)}`,
        "",
    ].join("\n");
}

/**
 * Runs `setup` then `measured` in a fresh `node` (an async function body each) and returns the
 * milliseconds of `measured` alone, timed inside the process: Node's own start and the setup
 * are left out.
 */
function inFreshNode(setup: string, measured: string, env: Record<string, string> = {}): number {
    const script = `${setup}\nconst t0 = process.hrtime.bigint();\n${measured}\nconst ms = Number(process.hrtime.bigint() - t0) / 1e6;\nprocess.stdout.write(JSON.stringify({ ms }));\nprocess.exit(0);`;
    const wrapped = `(async () => {\n${script}\n})().catch((e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync(process.execPath, ["-e", wrapped], {
        cwd: repoRoot,
        encoding: "utf8",
        env: { ...process.env, ...env },
    });
    return (JSON.parse(out) as { ms: number }).ms;
}

/** Wall-clock milliseconds of a whole `node` process (start to exit). */
function wholeProcess(args: string[]): number {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: "ignore" });
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Milliseconds from spawning Pulumi's dynamic-provider host until it prints its port. */
function providerHostStart(): Promise<number> {
    const host = require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js", { paths: [repoRoot] });
    return new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const child = spawn(process.execPath, [host, "127.0.0.1:1"], { cwd: repoRoot });
        child.stdout.once("data", () => {
            resolve(Number(process.hrtime.bigint() - t0) / 1e6);
            child.kill();
        });
        child.once("exit", (code) => reject(new Error(`the provider host exited ${code} before printing a port`)));
    });
}

interface Part {
    name: string;
    whose: "component" | "every stack";
    what: string;
    /** One round's milliseconds. */
    measure: () => number | Promise<number>;
    ms: number[];
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { rounds: { type: "string", default: "9" } } });
    const rounds = Number(values.rounds);
    if (!existsSync(path.join(dist, "index.js"))) throw new Error("run npm run build first");
    const uptimeBefore = execFileSync("uptime", { encoding: "utf8" }).trim();
    const tmp = mkdtempSync(path.join(tmpdir(), "noop-costs-"));
    const kubeconfigFile = path.join(tmp, "kubeconfig");
    writeFileSync(kubeconfigFile, sampleKubeconfig());
    const env = { NOOP_KUBECONFIG: kubeconfigFile };
    const kubeconfigModule = JSON.stringify(path.join(dist, "cluster", "kubeconfig.js"));
    const indexModule = JSON.stringify(path.join(dist, "index.js"));
    const providerModule = JSON.stringify(path.join(dist, "pulumi", "provider.js"));

    // A consumer: the package installed under node_modules (inside the repository, so that it
    // resolves @pulumi/pulumi and client-node from ours). Its state holds a reference to the
    // package's provider; this repository's example stack, importing the source, holds the code.
    const copy = installedCopy(".noop-consumer-");
    const consumerProvider = JSON.stringify(copy.file("dist/components/pulumi/provider.js"));
    const stored = { inRepo: path.join(tmp, "in-repo.js"), consumer: path.join(tmp, "consumer.js") };
    writeFileSync(stored.consumer, providerReferenceText("prePullProvider"));
    inFreshNode(
        `const pulumi = require("@pulumi/pulumi"); const { prePullProvider } = require(${providerModule});
         const { text } = await pulumi.runtime.serializeFunction(() => prePullProvider);
         require("fs").writeFileSync(${JSON.stringify(stored.inRepo)}, text);`,
        "",
    );
    const serialize = (module: string, cwd: string) =>
        inFreshNode(
            `const pulumi = require("@pulumi/pulumi"); const p = require(${module}); process.chdir(${JSON.stringify(cwd)});`,
            `await pulumi.runtime.serializeFunction(() => p.prePullProvider);
             await pulumi.runtime.serializeFunction(() => p.cleanupProvider);`,
        );
    const loadStored = (file: string, cwd: string) =>
        inFreshNode(
            `require("@pulumi/pulumi"); const text = require("fs").readFileSync(${JSON.stringify(file)}, "utf8");
             process.chdir(${JSON.stringify(cwd)});`,
            `require("require-from-string")(text).handler();`,
        );

    const parts: Part[] = [
        {
            name: "Node's own start (`node -e 0`, whole process)",
            whose: "every stack",
            what: "the program and each provider host pay it",
            measure: () => wholeProcess(["-e", "0"]),
            ms: [],
        },
        {
            name: "load `@pulumi/pulumi`",
            whose: "every stack",
            what: "the program pays it; the dynamic-provider host pays it again",
            measure: () => inFreshNode("", `require("@pulumi/pulumi");`),
            ms: [],
        },
        {
            name: "check's kubeconfig reading, with `@kubernetes/client-node` (before)",
            whose: "component",
            what: "load client-node, parse, hash server and CA",
            measure: () =>
                inFreshNode(
                    "",
                    `const k = require(${kubeconfigModule});
                     k.clusterIdentity(k.loadKubeConfig(k.loadClientLibrary(), process.env.NOOP_KUBECONFIG, undefined));`,
                    env,
                ),
            ms: [],
        },
        {
            name: "check's kubeconfig reading, with `js-yaml` (now)",
            whose: "component",
            what: "load js-yaml, parse, hash server and CA",
            measure: () =>
                inFreshNode(
                    "",
                    `const k = require(${kubeconfigModule});
                     if (!k.quickClusterIdentity(process.env.NOOP_KUBECONFIG, undefined)) throw new Error("fell back");`,
                    env,
                ),
            ms: [],
        },
        {
            name: "load the component in the program (`@pulumi/pulumi` loaded)",
            whose: "component",
            what: "require of the package's index",
            measure: () => inFreshNode(`require("@pulumi/pulumi");`, `require(${indexModule});`),
            ms: [],
        },
        {
            name: "serialize both providers' closures, for a consumer",
            whose: "component",
            what: "Pulumi's closure serializer, once per `up` and provider: what a consumer paid until 2026-12-06; now state holds a reference to the installed package and nothing is serialized",
            measure: () => serialize(consumerProvider, copy.dir),
            ms: [],
        },
        {
            name: "serialize both providers' closures, in this repository",
            whose: "component",
            what: "the same, for the example stack that imports the source: the code is inlined",
            measure: () => serialize(providerModule, repoRoot),
            ms: [],
        },
        {
            name: "dynamic-provider host: start until it listens",
            whose: "component",
            what: "a second Node process with `@pulumi/pulumi` and gRPC",
            measure: providerHostStart,
            ms: [],
        },
        {
            name: "dynamic-provider host: load the stored provider, for a consumer",
            whose: "component",
            what: "require-from-string of the state's reference (`@pulumi/pulumi` loaded): the installed provider module",
            measure: () => loadStored(stored.consumer, copy.dir),
            ms: [],
        },
        {
            name: "dynamic-provider host: load the stored provider, in this repository",
            whose: "component",
            what: "the same, for the inlined code",
            measure: () => loadStored(stored.inRepo, repoRoot),
            ms: [],
        },
    ];
    try {
        // Interleaved rounds, so that a change in the machine's load touches every part alike.
        for (let round = 1; round <= rounds; round++) {
            for (const part of parts) part.ms.push(await part.measure());
            console.error(`noop-costs: round ${round} of ${rounds}`);
        }
    } finally {
        rmSync(tmp, { recursive: true, force: true });
        copy.remove();
    }
    const result = {
        machine: machineDescription(),
        date: new Date().toISOString(),
        uptimeBefore,
        rounds,
        parts: parts.map(({ measure: _measure, ...p }) => ({ ...p, medianMs: median(p.ms) })),
    };
    const results = path.join(repoRoot, "bench", "results");
    writeFileSync(path.join(results, "noop-costs.json"), JSON.stringify(result, null, 2) + "\n");
    writeFileSync(
        path.join(results, "noop-costs.md"),
        [
            `Measured ${result.date} on ${result.machine}, ${rounds} rounds; load before: ${uptimeBefore}.`,
            "Each part in fresh Node processes; the median of its rounds.",
            "",
            "| part | paid by | what | median ms |",
            "| --- | --- | --- | ---: |",
            ...result.parts.map((p) => `| ${p.name} | ${p.whose} | ${p.what} | ${p.medianMs.toFixed(0)} |`),
            "",
        ].join("\n"),
    );
    console.log(JSON.stringify(result.parts.map((p) => ({ name: p.name, medianMs: Math.round(p.medianMs) }))));
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
