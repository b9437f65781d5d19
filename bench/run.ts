/**
 * `npm run bench [-- --nodes N --images K]`: pre-pull cost on the local cluster, ours beside the
 * seed's polling design, measured in the same run. Writes bench/results/latest.{json,md,svg}.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import { prePullProvider } from "../components/provider";

const run = promisify(execFile);
// Runs compiled, from dist/bench (npm run bench compiles first).
const root = path.resolve(__dirname, "../..");
const results = path.join(root, "bench", "results");

interface Measured {
    startedAt: number;
    detectedAt: number;
    returnedAt: number;
    requests: number;
    apiBytes: number;
    peakRssMb: number;
}

interface Record_ {
    nodes: number;
    images: number;
    maxParallelNodes?: number;
    createSeconds: number;
    floorSeconds: number;
    detectionLatencySeconds: number;
    apiRequests: number;
    apiBytes: number;
    providerPeakRssMb: number;
    baselineCreateSeconds: number;
    baselineFloorSeconds: number;
    baselineDetectionLatencySeconds: number;
    baselineApiRequests: number;
    baselineApiBytes: number;
    baselinePeakRssMb: number;
}

async function metrics(metricsUrl: string): Promise<{ lastImageRecordedUnixNano: number }> {
    const response = await fetch(metricsUrl);
    return (await response.json()) as { lastImageRecordedUnixNano: number };
}

async function measure(mode: "ours" | "baseline", inputs: object): Promise<Measured> {
    const { stdout } = await run(process.execPath, [path.join(root, "dist", "bench", "run-one.js"), mode], {
        cwd: root,
        env: { ...process.env, BENCH_INPUTS: JSON.stringify(inputs) },
        maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split("\n").pop()!) as Measured;
}

async function scenario(
    kubeconfig: string,
    metricsUrl: string,
    nodes: number,
    images: number,
    round: number,
    maxParallelNodes: number | undefined,
): Promise<Record_> {
    const namespace = "default";
    const imageList = (tag: string) =>
        Array.from({ length: images }, (_, i) => `registry.example.com/bench/image-${i}:${tag}`);
    const results: Partial<Record_> = { nodes, images, maxParallelNodes };
    for (const mode of ["baseline", "ours"] as const) {
        const { inputs } = await prePullProvider.check!(
            {},
            {
                images: imageList(`${mode}-${nodes}-${round}`),
                namespace,
                kubeconfig,
                timeoutSeconds: 3600,
                // The seed has no such limit: only ours is throttled.
                ...(mode === "ours" && maxParallelNodes ? { maxParallelNodes } : {}),
            },
        );
        const measured = await measure(mode, inputs);
        // The simulator's clock for when the last image landed on the last node: the physical floor.
        const floorAt = (await metrics(metricsUrl)).lastImageRecordedUnixNano / 1e6;
        const floor = (floorAt - measured.startedAt) / 1000;
        const latency = (measured.detectedAt - floorAt) / 1000;
        if (mode === "ours") {
            Object.assign(results, {
                createSeconds: (measured.returnedAt - measured.startedAt) / 1000,
                floorSeconds: floor,
                detectionLatencySeconds: latency,
                apiRequests: measured.requests,
                apiBytes: measured.apiBytes,
                providerPeakRssMb: measured.peakRssMb,
            });
        } else {
            Object.assign(results, {
                baselineCreateSeconds: (measured.returnedAt - measured.startedAt) / 1000,
                baselineFloorSeconds: floor,
                baselineDetectionLatencySeconds: latency,
                baselineApiRequests: measured.requests,
                baselineApiBytes: measured.apiBytes,
                baselinePeakRssMb: measured.peakRssMb,
            });
        }
    }
    return results as Record_;
}

function table(records: Record_[]): string {
    const fmt = (n: number, d = 2) => n.toFixed(d);
    const lines = [
        "| nodes | images | max parallel | create s (seed) | floor s (seed) | create/floor (seed) | detect latency s (seed) | API requests (seed) | API KB (seed) | bytes ratio | RSS MB (seed) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const r of records) {
        lines.push(
            `| ${r.nodes} | ${r.images} | ${r.maxParallelNodes ?? "all"} | ${fmt(r.createSeconds)} (${fmt(r.baselineCreateSeconds)}) | ${fmt(r.floorSeconds)} (${fmt(r.baselineFloorSeconds)}) | ${fmt(r.createSeconds / r.floorSeconds)} (${fmt(r.baselineCreateSeconds / r.baselineFloorSeconds)}) | ${fmt(r.detectionLatencySeconds)} (${fmt(r.baselineDetectionLatencySeconds)}) | ${r.apiRequests} (${r.baselineApiRequests}) | ${fmt(r.apiBytes / 1024, 0)} (${fmt(r.baselineApiBytes / 1024, 0)}) | ${fmt(r.apiBytes / r.baselineApiBytes, 3)} | ${r.providerPeakRssMb} (${r.baselinePeakRssMb}) |`,
        );
    }
    return lines.join("\n");
}

/** A small SVG of create time and API bytes against nodes, ours and the seed's, hand-drawn: two series per panel. */
function plot(records: Record_[]): string {
    const images = Math.max(...records.map((r) => r.images));
    const rows = records.filter((r) => r.images === images).sort((a, b) => a.nodes - b.nodes);
    const panel = (x0: number, title: string, ours: number[], seed: number[], unit: string) => {
        const w = 360,
            h = 220,
            max = Math.max(...ours, ...seed) * 1.1 || 1;
        const px = (i: number) => x0 + 50 + (i * (w - 70)) / Math.max(1, rows.length - 1);
        const py = (v: number) => 30 + h - (v / max) * h;
        const line = (vals: number[], color: string) =>
            `<polyline fill="none" stroke="${color}" stroke-width="2" points="${vals.map((v, i) => `${px(i)},${py(v)}`).join(" ")}"/>` +
            vals.map((v, i) => `<circle cx="${px(i)}" cy="${py(v)}" r="3" fill="${color}"/>`).join("");
        const labels = rows
            .map((r, i) => `<text x="${px(i)}" y="${h + 48}" font-size="11" text-anchor="middle">${r.nodes}</text>`)
            .join("");
        return (
            `<text x="${x0 + 50}" y="18" font-size="13">${title} (${unit}), ${images} image(s), by nodes</text>` +
            `<line x1="${x0 + 50}" y1="${h + 30}" x2="${x0 + w - 20}" y2="${h + 30}" stroke="#888"/>` +
            `<text x="${x0 + 5}" y="40" font-size="11">${max.toFixed(1)}</text>` +
            labels +
            line(seed, "#d62728") +
            line(ours, "#1f77b4")
        );
    };
    return (
        `<svg xmlns="http://www.w3.org/2000/svg" width="780" height="300" font-family="sans-serif">` +
        `<rect width="780" height="300" fill="white"/>` +
        panel(
            0,
            "create time",
            rows.map((r) => r.createSeconds),
            rows.map((r) => r.baselineCreateSeconds),
            "s",
        ) +
        panel(
            390,
            "API traffic",
            rows.map((r) => r.apiBytes / 1024),
            rows.map((r) => r.baselineApiBytes / 1024),
            "KB",
        ) +
        `<text x="60" y="295" font-size="12" fill="#1f77b4">ours</text><text x="110" y="295" font-size="12" fill="#d62728">seed (list nodes every 2 s)</text></svg>`
    );
}

/** Written after every scenario, so a long run that is cut short still leaves its results. */
function save(records: Record_[]): void {
    mkdirSync(results, { recursive: true });
    const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    writeFileSync(
        path.join(results, "latest.json"),
        JSON.stringify({ machine, date: new Date().toISOString(), records }, null, 2) + "\n",
    );
    writeFileSync(
        path.join(results, "latest.md"),
        `Measured ${new Date().toISOString()} on ${machine}.\n\n${table(records)}\n`,
    );
    writeFileSync(path.join(results, "latest.svg"), plot(records));
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            nodes: { type: "string" },
            images: { type: "string" },
            "pull-seconds": { type: "string", default: "3" },
            "max-parallel": { type: "string" },
        },
    });
    // Each takes one number or a comma-separated list: --nodes 10,100 --images 1,5.
    const list = (text: string | undefined, fallback: number[]) => (text ? text.split(",").map(Number) : fallback);
    const nodeCounts = list(values.nodes, [10, 100, 500, 2000]);
    const imageCounts = list(values.images, [1, 5]);
    const records: Record_[] = [];
    for (const nodes of nodeCounts) {
        const dir = path.join(os.tmpdir(), `prepuller-bench-${nodes}-${process.pid}`);
        const env = { ...process.env, PREPULLER_CLUSTER_DIR: dir };
        const script = path.join(root, "test/cluster/cluster.sh");
        console.error(`bench: starting a cluster with ${nodes} simulated nodes`);
        const { stdout } = await run(
            "bash",
            [
                script,
                "up",
                "--nodes",
                String(nodes),
                "--pull-seconds",
                values["pull-seconds"]!,
                "--pull-jitter",
                "0.3",
                "--status-delay-seconds",
                "0",
                "--timeout",
                "900",
            ],
            { env, maxBuffer: 64 * 1024 * 1024 },
        );
        const kubeconfig = readFileSync(stdout.trim().split("\n").pop()!, "utf8");
        const metricsUrl = (
            JSON.parse(readFileSync(path.join(dir, "simulator.json"), "utf8")) as { metricsURL: string }
        ).metricsURL;
        try {
            for (const images of imageCounts) {
                console.error(`bench: ${nodes} nodes x ${images} images`);
                const record = await scenario(
                    kubeconfig,
                    metricsUrl,
                    nodes,
                    images,
                    1,
                    values["max-parallel"] ? Number(values["max-parallel"]) : undefined,
                );
                console.error(JSON.stringify(record));
                records.push(record);
                save(records);
            }
        } finally {
            await run("bash", [script, "down"], { env });
        }
    }
    console.log(table(records));
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
