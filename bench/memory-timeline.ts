/**
 * `npm run bench:memory-timeline [-- --nodes 2000 --time-scale 0.05 --runs 1 --compare='--flag NAME=value' --heap-snapshot]`:
 * where ours' memory goes during one pre-pull. Starts a cluster of the realistic profile, runs the
 * module floor and ours (the provider's create, as the bench runs it), each in its own process,
 * and prints the peak of each phase (the period after each line ours logged), and how its resident
 * memory by kind of mapping (the C library's heaps, node's binary, the rest) moved over the run. With --compare (which
 * may be given more than once), each run is repeated with those arguments to node (V8 flags, which
 * NODE_OPTIONS mostly refuses) and NAME=value environment settings (MALLOC_ARENA_MAX=2) on the same
 * cluster, floor included. With --heap-snapshot, each run of ours also writes a heap
 * snapshot once presence is decided (its path is printed; open it in Chrome's DevTools, Memory tab).
 * Figures only: nothing is judged here (see bench/run.ts for the report).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { prePullProvider } from "../components/pulumi/provider";
import type { PrePullInputs } from "../components/rules/inputs";
import { privateCluster, stopCluster } from "../harness/cluster";
import { benchImages } from "./images";
import { clusterArguments, PROFILES } from "./profiles";
import type { Measured, Mode } from "./run-one";
import { runOne } from "./run-one-process";

interface Sample {
    ms: number;
    rss?: number;
    heapTotal?: number;
    heapUsed?: number;
    external?: number;
    arrayBuffers?: number;
    log?: string;
    /** Every 2 s: resident memory by kind of mapping (bench/process-memory.ts residentByKindMb). */
    resident?: Record<string, number>;
}

/** An environment setting among the compared options (node's own arguments start with "-"). */
const ENV_SETTING = /^[A-Z_][A-Z0-9_]*=/;

/**
 * One run of `mode` with the timeline written to `timeline`; `options` is one compared setting:
 * node arguments and NAME=value environment settings, separated by spaces.
 */
function measure(
    mode: Mode,
    inputs: PrePullInputs | undefined,
    timeline: string,
    options: string,
    heapSnapshot?: string,
) {
    const words = options.split(" ").filter(Boolean);
    return runOne<Measured>(
        mode,
        { inputs },
        {
            nodeArguments: words.filter((w) => !ENV_SETTING.test(w)),
            env: {
                ...Object.fromEntries(words.filter((w) => ENV_SETTING.test(w)).map((w) => w.split(/=(.*)/s, 2))),
                BENCH_MEMORY_TIMELINE: timeline,
                ...(heapSnapshot ? { BENCH_HEAP_SNAPSHOT: heapSnapshot } : {}),
            },
        },
    );
}

function phases(samples: Sample[]): { phase: string; fromMs: number; peak: Sample }[] {
    const out: { phase: string; fromMs: number; peak: Sample }[] = [];
    let phase = "start";
    let fromMs = 0;
    let peak: Sample | undefined;
    for (const s of samples) {
        if (s.log !== undefined) {
            if (peak) out.push({ phase, fromMs, peak });
            phase = s.log.replace(/^image-prepuller: /, "").slice(0, 70);
            fromMs = s.ms;
            peak = undefined;
        } else if (!peak || (s.rss ?? 0) > (peak.rss ?? 0)) peak = s;
    }
    if (peak) out.push({ phase, fromMs, peak });
    return out;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            nodes: { type: "string", default: "2000" },
            "time-scale": { type: "string", default: "0.05" },
            runs: { type: "string", default: "1" },
            compare: { type: "string", multiple: true },
            "heap-snapshot": { type: "boolean", default: false },
        },
    });
    const nodes = Number(values.nodes);
    const profile = PROFILES.realistic;
    const cluster = await privateCluster(clusterArguments(profile, nodes, Number(values["time-scale"])));
    const dir = mkdtempSync(path.join(os.tmpdir(), "memory-timeline-"));
    try {
        const variants = ["", ...(values.compare ?? [])];
        const floors = new Map<string, number>();
        for (const options of variants) {
            const floor = await measure("idle", undefined, path.join(dir, "idle.jsonl"), options);
            floors.set(options, floor.peakRssMb);
            console.log(`module floor${options ? ` with ${options}` : ""}: ${floor.peakRssMb} MB peak RSS`);
        }
        for (let run = 1; run <= Number(values.runs); run++) {
            for (const options of variants) {
                const { inputs } = (await prePullProvider.check!(
                    {},
                    {
                        images: benchImages(`timeline-${nodes}-${run}-${Date.now().toString(36)}`, 1),
                        namespace: "default",
                        kubeconfig: cluster.kubeconfig,
                        timeoutSeconds: 1800,
                    },
                )) as { inputs: PrePullInputs };
                const file = path.join(dir, `ours-${run}-${variants.indexOf(options)}.jsonl`);
                const snapshot = values["heap-snapshot"] ? file.replace(/\.jsonl$/, ".heapsnapshot") : undefined;
                const measured = await measure("ours", inputs, file, options, snapshot);
                if (snapshot) console.log(`heap snapshot once presence was decided: ${snapshot}`);
                const samples = readFileSync(file, "utf8")
                    .trim()
                    .split("\n")
                    .map((l) => JSON.parse(l) as Sample);
                const floor = floors.get(options)!;
                console.log(
                    `run ${run}${options ? ` with ${options}` : ""}: ${nodes} nodes, ${measured.error ? `failed: ${measured.error}; ` : ""}peak RSS ${measured.peakRssMb} MB (kernel), ${measured.peakRssMb - floor} MB above the floor; heap after GC ${measured.extra.heapUsedAfterGcMb} MB; CPU ${measured.extra.cpuSeconds} s; ${((measured.returnedAt - measured.startedAt) / 1000).toFixed(1)} s`,
                );
                console.log(
                    "| from s | phase (the line ours logged) | peak rss | heapTotal | heapUsed | external | arrayBuffers | at s |",
                );
                console.log("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
                for (const p of phases(samples.filter((x) => !x.resident))) {
                    const s = p.peak;
                    console.log(
                        `| ${(p.fromMs / 1000).toFixed(1)} | ${p.phase.replace(/\|/g, "/")} | ${s.rss} | ${s.heapTotal} | ${s.heapUsed} | ${s.external} | ${s.arrayBuffers} | ${(s.ms / 1000).toFixed(1)} |`,
                    );
                }
                const resident = samples.filter((x) => x.resident);
                const firstLine = samples.find((x) => x.log !== undefined)?.ms ?? 0;
                const from = resident.find((x) => x.ms >= firstLine) ?? resident[0];
                const to = resident.at(-1);
                if (from && to) {
                    const kinds = Object.keys(to.resident!).map(
                        (k) => `${k} ${from.resident![k]} -> ${to.resident![k]}`,
                    );
                    console.log(
                        `resident MB by mapping, from ours' first line (${(from.ms / 1000).toFixed(1)} s) to the end: ${kinds.join(", ")}`,
                    );
                }
            }
        }
    } finally {
        await stopCluster(cluster);
    }
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
