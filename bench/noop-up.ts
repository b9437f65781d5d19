/**
 * `npm run bench:noop-up [-- --rounds N]`: the cost of the component on a no-op `pulumi up` of
 * the example stack (programs/jupyterhub), against the same stack with `prePuller: false`, both
 * through the real engine on the local cluster and measured in the same run, interleaved.
 * Writes bench/results/noop-up.{json,md}.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Stack } from "@pulumi/pulumi/automation";
import { FAST_STATUS, repoRoot, sharedCluster, SIM, stopSharedCluster } from "../harness/cluster";
import { exampleStack, removeStack } from "../harness/engine";
import { addUserNode } from "../harness/scenario";
import { machineDescription } from "./machine";
import { median } from "./report";

interface Variant {
    name: "with" | "without";
    stack: Stack;
    seconds: number[];
}

/** One `pulumi up`; fails unless it changed nothing, so a slow real update is never timed as a no-op. */
async function timedNoopUp(variant: Variant): Promise<void> {
    const started = process.hrtime.bigint();
    const result = await variant.stack.up();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const changes = Object.entries(result.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
    if (changes.length > 0) {
        throw new Error(`the ${variant.name} stack's up was not a no-op: ${JSON.stringify(changes)}`);
    }
    variant.seconds.push(seconds);
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
    const rounds = Number(values.rounds);
    const uptimeBefore = execFileSync("uptime", { encoding: "utf8" }).trim();
    const cluster = await sharedCluster();
    await addUserNode(cluster, "noop-user-1", { [SIM.pullSeconds]: "0.5", ...FAST_STATUS });
    const variants: Variant[] = [];
    try {
        for (const name of ["with", "without"] as const) {
            const stack = await exampleStack(`noop-${name}-${process.pid}`, {
                kubeconfig: { value: cluster.kubeconfig, secret: true },
                namespace: { value: `noop-${name}` },
                prePuller: { value: String(name === "with") },
            });
            variants.push({ name, stack, seconds: [] });
            console.error(`noop-up: first up of the stack ${name} the pre-puller`);
            await stack.up();
        }
        // Interleaved, so that a change in the machine's load affects both alike.
        for (let round = 1; round <= rounds; round++) {
            for (const variant of variants) await timedNoopUp(variant);
            console.error(
                `noop-up: round ${round}: ${variants.map((v) => `${v.name} ${v.seconds.at(-1)!.toFixed(2)} s`).join(", ")}`,
            );
        }
    } finally {
        for (const { stack } of variants) {
            await stack.destroy().catch((e: Error) => console.error(`destroy ${stack.name}: ${e.message}`));
            await removeStack(stack);
        }
        await stopSharedCluster();
    }
    const [withComponent, without] = variants.map((v) => median(v.seconds)) as [number, number];
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
            "",
            `Ratio of medians: **${result.ratio.toFixed(3)}** (target ≤ 1.10).`,
            "",
        ].join("\n"),
    );
    console.log(JSON.stringify(result));
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
