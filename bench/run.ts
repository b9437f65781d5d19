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
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { daemonSetName } from "../components/daemonset";
import { prePullProvider } from "../components/provider";
import { apiserverMetrics, delta, observeCreations, type Samples } from "./observer";
import type { StreamUsage } from "./run-one";
import { machineDescription } from "./machine";

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
    streams: Record<string, StreamUsage>;
    streamsAtDetection: Record<string, StreamUsage>;
    peakRssMb: number;
    peakMemoryMb: Record<string, number>;
}

interface Record_ {
    nodes: number;
    images: number;
    maxParallelNodes?: number;
    /** NODE_OPTIONS of the measured processes (V8 heap flags change the peak RSS), if any. */
    nodeOptions?: string;
    /** 1-, 5- and 15-minute load averages when the scenario started (the machine is shared). */
    loadAverage: number[];
    createSeconds: number;
    floorSeconds: number;
    detectionLatencySeconds: number;
    apiRequests: number;
    apiBytes: number;
    /** Wire bytes until presence was decided: what the target "bytes while waiting" compares. */
    apiBytesWhileWaiting: number;
    providerPeakRssMb: number;
    /** Peaks of process.memoryUsage() fields (rss, heapTotal, heapUsed, external, arrayBuffers). */
    providerPeakMemoryMb: Record<string, number>;
    /** DaemonSet created (as a watcher saw it) to its last pod created: the DaemonSet controller's floor. */
    podCreationFloorSeconds?: number;
    /** Our wire bytes and requests by stream ("watch nodes", "list/get pods", ...). */
    apiStreams: Record<string, StreamUsage>;
    /** The same when presence was decided (the rest is cleanup). */
    apiStreamsAtDetection: Record<string, StreamUsage>;
    /** The apiserver's own metrics, after minus before our run (all clients, see bench/observer.ts). */
    apiserverDelta: Samples;
    baselineCreateSeconds: number;
    baselineFloorSeconds: number;
    baselineDetectionLatencySeconds: number;
    baselineApiRequests: number;
    baselineApiBytes: number;
    baselineApiBytesWhileWaiting: number;
    baselinePeakRssMb: number;
    baselinePeakMemoryMb: Record<string, number>;
    baselinePodCreationFloorSeconds?: number;
    baselineApiStreams: Record<string, StreamUsage>;
    baselineApiStreamsAtDetection: Record<string, StreamUsage>;
    baselineApiserverDelta: Samples;
}

async function metrics(metricsUrl: string): Promise<{ lastImageRecordedUnixNano: number }> {
    const response = await fetch(metricsUrl);
    return (await response.json()) as { lastImageRecordedUnixNano: number };
}

async function measure(mode: "ours" | "baseline" | "idle", inputs: object): Promise<Measured> {
    const { stdout } = await run(process.execPath, [path.join(root, "dist", "bench", "run-one.js"), mode], {
        cwd: root,
        env: { ...process.env, BENCH_INPUTS: JSON.stringify(inputs) },
        maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split("\n").pop()!) as Measured;
}

function totalBytes(streams: Record<string, StreamUsage>): number {
    return Object.values(streams).reduce((sum, u) => sum + u.bytes, 0);
}

interface Observed {
    kc: k8s.KubeConfig;
    creations: Awaited<ReturnType<typeof observeCreations>>;
}

async function scenario(
    kubeconfig: string,
    observed: Observed,
    metricsUrl: string,
    nodes: number,
    images: number,
    round: number,
    maxParallelNodes: number | undefined,
): Promise<Record_> {
    const namespace = "default";
    const imageList = (tag: string) =>
        Array.from({ length: images }, (_, i) => `registry.example.com/bench/image-${i}:${tag}`);
    const results: Partial<Record_> = {
        nodes,
        images,
        maxParallelNodes,
        nodeOptions: process.env.NODE_OPTIONS || undefined,
        loadAverage: os.loadavg(),
    };
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
        const before = await apiserverMetrics(observed.kc);
        const measured = await measure(mode, inputs);
        const apiserver = delta(before, await apiserverMetrics(observed.kc));
        const ownerId = String(inputs.ownerId);
        const podFloor = observed.creations.podCreationFloorSeconds(
            mode === "ours" ? daemonSetName(ownerId) : `${ownerId}-seed`,
        );
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
                apiBytesWhileWaiting: totalBytes(measured.streamsAtDetection),
                providerPeakRssMb: measured.peakRssMb,
                providerPeakMemoryMb: measured.peakMemoryMb,
                podCreationFloorSeconds: podFloor,
                apiStreams: measured.streams,
                apiStreamsAtDetection: measured.streamsAtDetection,
                apiserverDelta: apiserver,
            });
        } else {
            Object.assign(results, {
                baselineCreateSeconds: (measured.returnedAt - measured.startedAt) / 1000,
                baselineFloorSeconds: floor,
                baselineDetectionLatencySeconds: latency,
                baselineApiRequests: measured.requests,
                baselineApiBytes: measured.apiBytes,
                baselineApiBytesWhileWaiting: totalBytes(measured.streamsAtDetection),
                baselinePeakRssMb: measured.peakRssMb,
                baselinePeakMemoryMb: measured.peakMemoryMb,
                baselinePodCreationFloorSeconds: podFloor,
                baselineApiStreams: measured.streams,
                baselineApiStreamsAtDetection: measured.streamsAtDetection,
                baselineApiserverDelta: apiserver,
            });
        }
    }
    return results as Record_;
}

function table(records: Record_[]): string {
    const fmt = (n: number, d = 2) => n.toFixed(d);
    const opt = (n: number | undefined) => (n === undefined ? "?" : fmt(n));
    const lines = [
        "| nodes | images | max parallel, NODE_OPTIONS | load (1 min) | create s (seed) | floor s (seed) | create/floor (seed) | detect latency s (seed) | pod-creation floor s (seed) | API requests (seed) | API KB (seed) | bytes ratio | API KB while waiting (seed) | waiting bytes ratio | RSS MB (seed) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const r of records) {
        lines.push(
            `| ${r.nodes} | ${r.images} | ${r.maxParallelNodes ?? "all"}${r.nodeOptions ? `, ${r.nodeOptions}` : ""} | ${fmt(r.loadAverage[0]!)} | ${fmt(r.createSeconds)} (${fmt(r.baselineCreateSeconds)}) | ${fmt(r.floorSeconds)} (${fmt(r.baselineFloorSeconds)}) | ${fmt(r.createSeconds / r.floorSeconds)} (${fmt(r.baselineCreateSeconds / r.baselineFloorSeconds)}) | ${fmt(r.detectionLatencySeconds)} (${fmt(r.baselineDetectionLatencySeconds)}) | ${opt(r.podCreationFloorSeconds)} (${opt(r.baselinePodCreationFloorSeconds)}) | ${r.apiRequests} (${r.baselineApiRequests}) | ${fmt(r.apiBytes / 1024, 0)} (${fmt(r.baselineApiBytes / 1024, 0)}) | ${fmt(r.apiBytes / r.baselineApiBytes, 3)} | ${fmt(r.apiBytesWhileWaiting / 1024, 0)} (${fmt(r.baselineApiBytesWhileWaiting / 1024, 0)}) | ${fmt(r.apiBytesWhileWaiting / r.baselineApiBytesWhileWaiting, 3)} | ${r.providerPeakRssMb} (${r.baselinePeakRssMb}) |`,
        );
    }
    return lines.join("\n");
}

/** A table with one row per scenario and run (ours, then the seed's). */
function perRunTable<T>(
    records: Record_[],
    columns: string[],
    ofRun: (r: Record_) => [T, T],
    cells: (v: T) => string[],
) {
    const lines = [
        `| nodes | images | run | ${columns.join(" | ")} |`,
        `| ---: | ---: | --- | ${columns.map(() => "---:").join(" | ")} |`,
    ];
    for (const r of records) {
        const [ours, seed] = ofRun(r);
        const options = r.nodeOptions ? `, ${r.nodeOptions}` : "";
        lines.push(`| ${r.nodes} | ${r.images} | ours${options} | ${cells(ours).join(" | ")} |`);
        lines.push(`| ${r.nodes} | ${r.images} | seed${options} | ${cells(seed).join(" | ")} |`);
    }
    return lines.join("\n");
}

/** Where the wire bytes go, by stream, ours and the seed's; with each stream's response encoding. */
function streamTable(records: Record_[]): string {
    const names = [
        ...new Set(records.flatMap((r) => [...Object.keys(r.apiStreams), ...Object.keys(r.baselineApiStreams)])),
    ].sort();
    const kb = (usage: StreamUsage | undefined) => ((usage?.bytes ?? 0) / 1024).toFixed(0);
    const cell = (usage: StreamUsage | undefined, waiting: StreamUsage | undefined) =>
        usage ? `${kb(usage)} (${kb(waiting)}) KB / ${usage.requests} req, ${usage.encodings.join(",") || "-"}` : "";
    return perRunTable(
        records,
        names,
        (r) => [
            [r.apiStreams, r.apiStreamsAtDetection],
            [r.baselineApiStreams, r.baselineApiStreamsAtDetection],
        ],
        ([streams, waiting]) => names.map((n) => cell(streams[n], waiting[n])),
    );
}

/** Where the peak RSS goes: V8 heap (total reserved, used), external memory and array buffers. */
function memoryTable(records: Record_[]): string {
    const fields = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"];
    return perRunTable(
        records,
        [...fields.map((f) => `${f} MB`)],
        (r) => [r.providerPeakMemoryMb, r.baselinePeakMemoryMb],
        (peaks) => fields.map((f) => String(peaks[f] ?? "?")),
    );
}

/** The apiserver's view of the same runs: request counts, response sizes as sent, watch events of all watchers. */
function apiserverTable(records: Record_[]): string {
    const keys = [
        ["requests LIST nodes", "apiserver_request_total LIST nodes", 1],
        ["LIST nodes KB", "apiserver_response_sizes_sum LIST nodes", 1024],
        ["requests WATCH nodes", "apiserver_request_total WATCH nodes", 1],
        ["requests LIST pods", "apiserver_request_total LIST pods", 1],
        ["requests WATCH pods", "apiserver_request_total WATCH pods", 1],
        ["Node watch events", "apiserver_watch_events_total nodes", 1],
        ["Node watch event KB", "apiserver_watch_events_sizes_sum nodes", 1024],
        ["Pod watch events", "apiserver_watch_events_total pods", 1],
        ["Pod watch event KB", "apiserver_watch_events_sizes_sum pods", 1024],
    ] as const;
    // Older apiservers label watch metrics by kind (Node, Pod), newer ones by resource.
    const value = (samples: Samples, key: string, unit: number) => {
        const found =
            samples[key] ?? samples[key.replace(/ (nodes|pods)$/, (m) => (m === " nodes" ? " Node" : " Pod"))];
        return found === undefined ? "0" : (found / unit).toFixed(0);
    };
    return perRunTable(
        records,
        keys.map(([label]) => label),
        (r) => [r.apiserverDelta, r.baselineApiserverDelta],
        (samples) => keys.map(([, key, unit]) => value(samples, key, unit)),
    );
}

/** A small SVG of create time and API bytes against nodes, ours and the seed's, hand-drawn: two series per panel. */
function plot(records: Record_[]): string {
    // The image count measured at the most cluster sizes (the larger one on a tie).
    const counts = [...new Set(records.map((r) => r.images))];
    const sizes = (k: number) => records.filter((r) => r.images === k).length;
    const images = counts.sort((a, b) => sizes(b) - sizes(a) || b - a)[0]!;
    const rows = records.filter((r) => r.images === images && !r.nodeOptions).sort((a, b) => a.nodes - b.nodes);
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
            "API traffic while waiting",
            rows.map((r) => r.apiBytesWhileWaiting / 1024),
            rows.map((r) => r.baselineApiBytesWhileWaiting / 1024),
            "KB",
        ) +
        `<text x="60" y="295" font-size="12" fill="#1f77b4">ours</text><text x="110" y="295" font-size="12" fill="#d62728">seed (list nodes every 2 s)</text></svg>`
    );
}

interface RunInfo {
    date: string;
    /** What `npm run bench` was asked for. */
    arguments: string[];
    nodeOptions?: string;
    /** `uptime` before the run: the machine is shared, so its load is part of the result. */
    uptimeBefore: string;
    /** Peak RSS of a process that only loads the provider and @kubernetes/client-node. */
    moduleFloorRssMb: number;
}

/** Written after every scenario, so a long run that is cut short still leaves its results. */
function save(records: Record_[], runs: RunInfo[]): void {
    mkdirSync(results, { recursive: true });
    const machine = machineDescription();
    writeFileSync(
        path.join(results, "latest.json"),
        JSON.stringify({ machine, date: runs.at(-1)?.date, runs, records }, null, 2) + "\n",
    );
    writeFileSync(
        path.join(results, "latest.md"),
        [
            `Measured on ${machine}, in ${runs.length === 1 ? "one run" : `${runs.length} runs`}:`,
            "",
            ...runs.map(
                (r) =>
                    `- ${r.date} ${r.nodeOptions ? `\`NODE_OPTIONS=${r.nodeOptions}\` ` : ""}\`npm run bench -- ${r.arguments.join(" ")}\`; load before: \`${r.uptimeBefore}\`; a process that only loads the provider and @kubernetes/client-node peaks at ${r.moduleFloorRssMb} MB RSS.`,
            ),
            "",
            table(records),
            "",
            "Wire bytes by stream: response bodies as received, total (until presence was decided; the rest is cleanup), requests, response encoding. headers+framing+tls is what the sockets carried beyond the bodies:",
            "",
            streamTable(records),
            "",
            "Peak memory by kind (sampled every 100 ms; the RSS column above is the kernel's exact peak):",
            "",
            memoryTable(records),
            "",
            "The apiserver's metrics over the same runs (deltas around each run; request counts and LIST sizes match ours, watch events are summed over every watcher, including the controllers, the scheduler and the simulator, so they cannot be attributed to one client):",
            "",
            apiserverTable(records),
            "",
        ].join("\n"),
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
            // Adds this run's scenarios to latest.json instead of replacing them (e.g. 2,000 nodes after the rest).
            append: { type: "boolean", default: false },
            // Rewrites latest.md and latest.svg from latest.json without measuring.
            "render-only": { type: "boolean", default: false },
        },
    });
    // Each takes one number or a comma-separated list: --nodes 10,100 --images 1,5.
    const list = (text: string | undefined, fallback: number[]) => (text ? text.split(",").map(Number) : fallback);
    const nodeCounts = list(values.nodes, [10, 100, 500, 2000]);
    const imageCounts = list(values.images, [1, 5]);
    if (values["render-only"]) {
        const saved = JSON.parse(readFileSync(path.join(results, "latest.json"), "utf8")) as {
            runs: RunInfo[];
            records: Record_[];
        };
        save(saved.records, saved.runs);
        return;
    }
    const previous = values.append
        ? (JSON.parse(readFileSync(path.join(results, "latest.json"), "utf8")) as {
              runs: RunInfo[];
              records: Record_[];
          })
        : { runs: [], records: [] };
    const records: Record_[] = [...previous.records];
    const runs: RunInfo[] = [
        ...previous.runs,
        {
            date: new Date().toISOString(),
            arguments: process.argv.slice(2),
            nodeOptions: process.env.NODE_OPTIONS || undefined,
            uptimeBefore: (await run("uptime")).stdout.trim(),
            moduleFloorRssMb: (await measure("idle", {})).peakRssMb,
        },
    ];
    const lib = require("@kubernetes/client-node") as typeof k8s;
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
        const kc = new lib.KubeConfig();
        kc.loadFromString(kubeconfig);
        const observed: Observed = { kc, creations: await observeCreations(lib, kc, "default") };
        try {
            for (const images of imageCounts) {
                console.error(`bench: ${nodes} nodes x ${images} images`);
                const record = await scenario(
                    kubeconfig,
                    observed,
                    metricsUrl,
                    nodes,
                    images,
                    1,
                    values["max-parallel"] ? Number(values["max-parallel"]) : undefined,
                );
                console.error(JSON.stringify(record));
                records.push(record);
                save(records, runs);
            }
        } finally {
            observed.creations.stop();
            await run("bash", [script, "down"], { env });
        }
    }
    console.log(table(records));
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
