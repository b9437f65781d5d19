/**
 * `npm run bench:noop-up [-- --rounds N]`: the cost of the component on a no-op `pulumi up` of
 * the example stack (programs/jupyterhub), against the same stack with `prePuller: false`, both
 * through the real engine on the local cluster and measured in the same run, interleaved. The
 * example imports the sources; the same program as a consumer's (the package installed under
 * node_modules, as npm installs it) is measured beside it, with and without the component.
 * One more no-op up of the consumer's stack, untimed, runs with the engine's log, to show where
 * the dynamic-provider host's start falls (hostStartFromEngineLog).
 * Needs `npm run build`. Writes bench/results/noop-up.{json,md}.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { LocalWorkspace, type Stack, type UpResult } from "@pulumi/pulumi/automation";
import { FAST_STATUS, repoRoot, sharedCluster, SIM, stopSharedCluster } from "../harness/cluster";
import { exampleStack, removeStack, sharedEngine } from "../harness/engine";
import { type InstalledCopy, installedCopy } from "../harness/installed-copy";
import { addUserNode } from "../harness/scenario";
import { describeHostStart, type HostStart, hostStartFromEngineLog } from "./engine-log";
import { machineDescription } from "./machine";
import { median } from "./report";

interface Variant {
    name: "with" | "without" | "consumer-with" | "consumer-without";
    stack: Stack;
    seconds: number[];
}

/**
 * The example program as a consumer's project: the built package installed under node_modules
 * (harness/installed-copy.ts) and the program importing it by name.
 */
function consumerProject(): InstalledCopy {
    const copy = installedCopy(".noop-consumer-");
    const program = readFileSync(path.join(repoRoot, "programs", "jupyterhub", "index.ts"), "utf8");
    if (!program.includes('from "../../components"')) throw new Error("the example no longer imports ../../components");
    writeFileSync(
        path.join(copy.dir, "index.ts"),
        program.replace('from "../../components"', 'from "pulumi-image-prepuller"'),
    );
    writeFileSync(
        path.join(copy.dir, "Pulumi.yaml"),
        [
            "name: noop-consumer",
            "runtime:",
            "  name: nodejs",
            "  options:",
            "    typescript: true",
            "main: index.ts",
            "",
        ].join("\n"),
    );
    return copy;
}

/** Fails unless the up changed nothing, so that a real update is never taken for a no-op. */
function expectNoop(variant: Variant, result: UpResult): void {
    const changes = Object.entries(result.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
    if (changes.length > 0) {
        throw new Error(`the ${variant.name} stack's up was not a no-op: ${JSON.stringify(changes)}`);
    }
}

/** One timed no-op `pulumi up`. */
async function timedNoopUp(variant: Variant): Promise<void> {
    const started = process.hrtime.bigint();
    const result = await variant.stack.up();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expectNoop(variant, result);
    variant.seconds.push(seconds);
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
    const rounds = Number(values.rounds);
    const uptimeBefore = execFileSync("uptime", { encoding: "utf8" }).trim();
    const cluster = await sharedCluster();
    await addUserNode(cluster, "noop-user-1", { [SIM.pullSeconds]: "0.5", ...FAST_STATUS });
    const variants: Variant[] = [];
    let consumer: InstalledCopy | undefined;
    let hostStart: HostStart | undefined;
    try {
        const { envVars, command } = await sharedEngine();
        for (const name of ["with", "without", "consumer-with", "consumer-without"] as const) {
            const config = {
                kubeconfig: { value: cluster.kubeconfig, secret: true },
                namespace: { value: `noop-${name}` },
                prePuller: { value: String(!name.endsWith("without")) },
            };
            let stack: Stack;
            if (name.startsWith("consumer")) {
                consumer ??= consumerProject();
                stack = await LocalWorkspace.createStack(
                    { stackName: `noop-${name}-${process.pid}`, workDir: consumer.dir },
                    { envVars, pulumiCommand: command, pulumiHome: envVars.PULUMI_HOME },
                );
                await stack.setAllConfig(config);
            } else {
                stack = await exampleStack(`noop-${name}-${process.pid}`, config);
            }
            variants.push({ name, stack, seconds: [] });
            console.error(`noop-up: first up of the stack ${name} the pre-puller`);
            await stack.up();
        }
        // Interleaved, so that a change in the machine's load affects every variant alike.
        for (let round = 1; round <= rounds; round++) {
            for (const variant of variants) await timedNoopUp(variant);
            console.error(
                `noop-up: round ${round}: ${variants.map((v) => `${v.name} ${v.seconds.at(-1)!.toFixed(2)} s`).join(", ")}`,
            );
        }
        const tracedVariant = variants.find((v) => v.name === "consumer-with")!;
        const traced = await tracedVariant.stack.up({ logVerbosity: 7, logToStdErr: true });
        expectNoop(tracedVariant, traced);
        hostStart = hostStartFromEngineLog(traced.stderr);
        if (!hostStart) console.error("noop-up: the engine's log did not show the dynamic-provider host's start");
    } finally {
        for (const { stack } of variants) {
            await stack.destroy().catch((e: Error) => console.error(`destroy ${stack.name}: ${e.message}`));
            await removeStack(stack);
        }
        await stopSharedCluster();
        consumer?.remove();
    }
    const [withComponent, without, consumerWith, consumerWithout] = variants.map((v) => median(v.seconds)) as [
        number,
        number,
        number,
        number,
    ];
    const result = {
        machine: machineDescription(),
        date: new Date().toISOString(),
        uptimeBefore,
        rounds,
        withSeconds: variants[0]!.seconds,
        withoutSeconds: variants[1]!.seconds,
        medianWithSeconds: withComponent,
        medianWithoutSeconds: without,
        ratio: withComponent / without,
        consumerWithSeconds: variants[2]!.seconds,
        consumerWithoutSeconds: variants[3]!.seconds,
        medianConsumerWithSeconds: consumerWith,
        medianConsumerWithoutSeconds: consumerWithout,
        consumerRatio: consumerWith / consumerWithout,
        hostStart,
    };
    const results = path.join(repoRoot, "bench", "results");
    writeFileSync(path.join(results, "noop-up.json"), JSON.stringify(result, null, 2) + "\n");
    const line = (v: Variant) => v.seconds.map((s) => s.toFixed(2)).join(", ");
    writeFileSync(
        path.join(results, "noop-up.md"),
        [
            `Measured ${result.date} on ${result.machine}; load before: ${uptimeBefore}.`,
            "",
            "| stack | no-op `pulumi up` s (each round) | median s |",
            "| --- | --- | ---: |",
            `| example (with ImagePrePuller) | ${line(variants[0]!)} | ${withComponent.toFixed(2)} |`,
            `| same, \`prePuller: false\` | ${line(variants[1]!)} | ${without.toFixed(2)} |`,
            `| the same program as a consumer's (package installed under node_modules) | ${line(variants[2]!)} | ${consumerWith.toFixed(2)} |`,
            `| same, \`prePuller: false\` | ${line(variants[3]!)} | ${consumerWithout.toFixed(2)} |`,
            "",
            `Ratio of medians: a consumer's stack **${result.consumerRatio.toFixed(3)}**, the example (sources, providers' code inlined) **${result.ratio.toFixed(3)}** (target ≤ 1.10).`,
            "",
            hostStart
                ? `In one more no-op up of the consumer's stack, read from the engine's log (\`-v=7\`), ${describeHostStart(hostStart)}. The median difference between the consumer's two stacks was ${(consumerWith - consumerWithout).toFixed(2)} s.`
                : "The engine's log of one more no-op up did not show the dynamic-provider host's start.",
            "",
        ].join("\n"),
    );
    console.log(JSON.stringify(result));
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
