/**
 * One measured run in its own process, so that its peak RSS and API traffic are its own. Modes:
 * `ours` (the provider's create), `ours-engine` (the component in a real `pulumi up`), `seed`, `z2jh`, `z2jh-fair` and `pulumi-kubernetes` (the peers, ./peers),
 * `idle` (loads what the provider loads and does nothing: the RSS floor of the modules) and
 * `user-pods` (./user-pods). Reads BENCH_INPUTS, prints one JSON line.
 */
import * as diagnostics from "node:diagnostics_channel";
import { appendFileSync } from "node:fs";
import * as v8 from "node:v8";
import * as zlib from "node:zlib";
import type { Socket } from "node:net";
import { prePullProvider } from "../components/pulumi/provider";
import type { PrePullInputs } from "../components/rules/inputs";
import { loadClientLibrary } from "../components/cluster/kubeconfig";
import type { PeerRun } from "./peers/peer";
import type { EngineSettings } from "./peers/pulumi-kubernetes";
import type { UserPodsInputs } from "./user-pods";
import { peakRssMb, residentByKindMb } from "./process-memory";

const sockets: Socket[] = [];
let requests = 0;
let measuring = false;
diagnostics.subscribe("net.client.socket", (message) => {
    if (measuring) sockets.push((message as { socket: Socket }).socket);
});
diagnostics.subscribe("undici:request:create", () => {
    if (measuring) requests++;
});

function apiBytes(): number {
    return sockets.reduce((sum, s) => sum + s.bytesRead + s.bytesWritten, 0);
}

/**
 * Per API stream ("watch nodes", "list pods", "get nodes", ...): response-body bytes as received
 * (the wire, before decompression) and decoded, requests, the encodings asked for (the request's
 * Accept-Encoding) and received (Content-Encoding), the forms asked for (Accept: plain JSON, a
 * Table, metadata only), the watch events received, and the lists started (first pages: a list
 * started again is a re-list). undici multiplexes requests over one HTTP/2 connection, so bytes
 * are attributed per request, not per socket; what the sockets carried beyond the bodies
 * (headers, framing, TLS) is reported as "headers+framing+tls". Gzipped bodies are inflated here,
 * as they arrive, only to count their decoded bytes.
 */
export interface StreamUsage {
    requests: number;
    bytes: number;
    decodedBytes?: number;
    /** Content-Encoding of the responses ("identity" without one). */
    encodings: string[];
    /** Accept-Encoding of the requests ("-" without one). */
    acceptEncodings?: string[];
    /** What the Accept header asked for: json, table, metadata. */
    forms?: string[];
    /** Watch events received (one per line of a watch's body). */
    events?: number;
    /** Lists started (requests of a collection without a continue token). */
    lists?: number;
}
const byStream: Record<string, StreamUsage> = {};
type TaggedRequest = {
    method: string;
    path: string;
    headers?: string | string[] | Record<string, string>;
    stream?: string;
    inflate?: zlib.Gunzip;
    isWatch?: boolean;
};

const RESOURCES = ["nodes", "pods", "daemonsets", "jobs", "events", "secrets"];

export function streamOf(method: string, requestPath: string): string {
    const [pathname, query = ""] = requestPath.split("?");
    const segments = pathname!.split("/").filter(Boolean);
    const at = segments.findIndex((s) => RESOURCES.includes(s));
    const resource = at >= 0 ? segments[at]! : "other";
    const named = at >= 0 && at < segments.length - 1;
    const verb = /(^|&)watch=(true|1)/.test(query)
        ? "watch"
        : method === "GET"
          ? named
              ? "get"
              : "list"
          : method.toLowerCase();
    return `${verb} ${resource}`;
}

function header(headers: TaggedRequest["headers"], name: string): string | undefined {
    if (headers === undefined) return undefined;
    if (typeof headers === "string") {
        const line = headers.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name}:`));
        return line?.slice(name.length + 1).trim();
    }
    if (Array.isArray(headers)) {
        const at = headers.findIndex((h, i) => i % 2 === 0 && String(h).toLowerCase() === name);
        return at >= 0 ? String(headers[at + 1]) : undefined;
    }
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    return key ? String(headers[key]) : undefined;
}

function formOf(accept: string | undefined): string {
    if (!accept) return "json";
    if (/as=Table/.test(accept)) return "table";
    if (/as=PartialObjectMetadata/.test(accept)) return "metadata";
    return "json";
}

function note(list: string[], value: string): void {
    if (!list.includes(value)) list.push(value);
}

function countDecoded(request: TaggedRequest, chunk: Buffer): void {
    const usage = byStream[request.stream!]!;
    usage.decodedBytes = (usage.decodedBytes ?? 0) + chunk.length;
    if (request.isWatch) {
        let lines = 0;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
        usage.events = (usage.events ?? 0) + lines;
    }
}

diagnostics.subscribe("undici:request:create", (message) => {
    if (!measuring) return;
    const request = (message as { request: TaggedRequest }).request;
    request.stream = streamOf(request.method, request.path);
    request.isWatch = request.stream.startsWith("watch ");
    const usage = (byStream[request.stream] ??= {
        requests: 0,
        bytes: 0,
        decodedBytes: 0,
        encodings: [],
        acceptEncodings: [],
        forms: [],
        events: 0,
        lists: 0,
    });
    usage.requests++;
    note(usage.acceptEncodings!, header(request.headers, "accept-encoding") ?? "-");
    note(usage.forms!, formOf(header(request.headers, "accept")));
    if (request.stream.startsWith("list ") && !/[?&]continue=/.test(request.path)) usage.lists!++;
});
diagnostics.subscribe("undici:request:headers", (message) => {
    const { request, response } = message as {
        request: TaggedRequest;
        response: { headers: (Buffer | string)[] | Record<string, string | string[]> };
    };
    if (!request.stream) return;
    const headers = response.headers;
    let encoding: string | undefined;
    if (Array.isArray(headers)) {
        const at = headers.findIndex((h, i) => i % 2 === 0 && String(h).toLowerCase() === "content-encoding");
        if (at >= 0) encoding = String(headers[at + 1]);
    } else {
        encoding = [headers["content-encoding"] ?? []].flat()[0];
    }
    const usage = byStream[request.stream]!;
    note(usage.encodings, encoding ?? "identity");
    if (encoding === "gzip") {
        request.inflate = zlib.createGunzip();
        request.inflate.on("data", (out: Buffer) => countDecoded(request, out));
        request.inflate.on("error", () => undefined);
    }
});
diagnostics.subscribe("undici:request:bodyChunkReceived", (message) => {
    const { request, chunk } = message as { request: TaggedRequest; chunk: Buffer };
    if (!request.stream) return;
    byStream[request.stream]!.bytes += chunk.length;
    if (request.inflate) request.inflate.write(chunk);
    else countDecoded(request, chunk);
});
diagnostics.subscribe("undici:request:trailers", (message) => {
    const { request } = message as { request: TaggedRequest };
    request.inflate?.end();
});

/** A copy of the counts so far. */
function streams(): Record<string, StreamUsage> {
    const bodies = Object.values(byStream).reduce((sum, u) => sum + u.bytes, 0);
    const copy = Object.fromEntries(
        Object.entries(byStream).map(([k, u]) => [
            k,
            {
                ...u,
                encodings: [...u.encodings],
                acceptEncodings: [...(u.acceptEncodings ?? [])],
                forms: [...(u.forms ?? [])],
            },
        ]),
    );
    return { ...copy, "headers+framing+tls": { requests: 0, bytes: apiBytes() - bodies, encodings: [] } };
}
/**
 * The largest value of each process.memoryUsage() field, sampled every 100 ms: where the peak RSS
 * goes. With BENCH_MEMORY_TIMELINE=file, each sample (MB, ms since the run started) and each line
 * ours logs are also appended to that file as JSON lines: when the peak happens, and in which phase;
 * every 2 s also the resident memory by kind of mapping.
 * With BENCH_HEAP_SNAPSHOT=file, a heap snapshot is written there once presence is decided, after
 * the forced GC: what the run holds while it waits, object by object (the return comes that much later).
 */
const peakMemory: Record<string, number> = {};
const timelineFile = process.env.BENCH_MEMORY_TIMELINE;
let timelineStart = Date.now();
function timeline(entry: Record<string, unknown>): void {
    if (timelineFile) appendFileSync(timelineFile, `${JSON.stringify({ ms: Date.now() - timelineStart, ...entry })}\n`);
}
setInterval(() => {
    const sample: Record<string, number> = {};
    for (const [field, value] of Object.entries(process.memoryUsage())) {
        peakMemory[field] = Math.max(peakMemory[field] ?? 0, value);
        sample[field] = Math.round(value / 2 ** 20);
    }
    timeline(sample);
}, 100).unref();
// Every 2 s, where the resident memory lives (see residentByKindMb): the C library's arenas are
// outside what process.memoryUsage() reports.
if (timelineFile) setInterval(() => timeline({ resident: residentByKindMb(process.pid) }), 2000).unref();

/** The counts when presence was decided: what came after is cleanup. */
let atDetection: Record<string, StreamUsage> = {};
let detectedAt = 0;

export type Mode = "ours" | "ours-engine" | "seed" | "z2jh" | "z2jh-fair" | "pulumi-kubernetes" | "idle" | "user-pods";

export interface BenchInputs {
    inputs?: PrePullInputs;
    engine?: EngineSettings;
    /** The apiserver's URL (the pulumi-kubernetes peer puts a counting proxy in front of it). */
    server?: string;
    userPods?: UserPodsInputs;
}

/** What a measured pre-pull reports (the last line of its output). */
export interface Measured {
    mode: Mode;
    startedAt: number;
    /** 0 when presence was never decided (see error). */
    detectedAt: number;
    returnedAt: number;
    requests: number;
    apiBytes: number;
    /** Wire bytes until presence was decided. */
    apiBytesWaiting: number;
    streams: Record<string, StreamUsage>;
    streamsAtDetection: Record<string, StreamUsage>;
    /** The component's peak RSS: this process's, or the kubernetes plugin's for pulumi-kubernetes. */
    peakRssMb: number;
    peakMemoryMb: Record<string, number>;
    extra: Record<string, number>;
    error?: string;
}

function total(usage: Record<string, StreamUsage>): number {
    return Object.values(usage).reduce((sum, u) => sum + u.bytes, 0);
}

async function measure(mode: Mode, bench: BenchInputs): Promise<Measured> {
    let startedAt = Date.now();
    timelineStart = startedAt;
    const cpuAtStart = process.cpuUsage();
    measuring = true;
    const run: PeerRun = {
        detected() {
            detectedAt = Date.now();
            atDetection = streams();
            // What the run holds while it waits, without garbage (run with --expose-gc; a few ms).
            const gc = (globalThis as { gc?: () => void }).gc;
            if (gc) {
                gc();
                const memory = process.memoryUsage();
                run.extra.heapUsedAfterGcMb = Math.round(memory.heapUsed / 2 ** 20);
                run.extra.rssAfterGcMb = Math.round(memory.rss / 2 ** 20);
            }
            if (process.env.BENCH_HEAP_SNAPSHOT) v8.writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
        },
        extra: {},
    };
    let error: string | undefined;
    let outside: { apiBytes: number; apiBytesWaiting: number; peakRssMb: number; requests: number } | undefined;
    try {
        if (mode === "idle") {
            loadClientLibrary();
        } else if (mode === "ours") {
            await ours(bench.inputs!, run);
        } else if (mode === "ours-engine") {
            const { oursThroughEngine } = require("./peers/ours-engine") as typeof import("./peers/ours-engine");
            await oursThroughEngine(bench.inputs!, bench.engine!, run);
        } else if (mode === "seed") {
            const { seedPrePull } = require("./peers/seed") as typeof import("./peers/seed");
            await seedPrePull(bench.inputs!, run);
        } else if (mode === "z2jh" || mode === "z2jh-fair") {
            const { chartAwaiterPrePull } = require("./peers/z2jh") as typeof import("./peers/z2jh");
            await chartAwaiterPrePull(bench.inputs!, run, { fair: mode === "z2jh-fair" });
        } else {
            const { pulumiKubernetesDaemonSet } =
                require("./peers/pulumi-kubernetes") as typeof import("./peers/pulumi-kubernetes");
            const usage = await pulumiKubernetesDaemonSet(bench.inputs!, bench.engine!, bench.server!, run);
            startedAt = usage.startedAt;
            outside = { ...usage, requests: usage.connections };
        }
    } catch (e) {
        error = (e as Error).message;
    }
    // The DaemonSet stays in a user's stack: dependents start when its create step ends, not after the destroy.
    const returnedAt = mode === "pulumi-kubernetes" && detectedAt ? detectedAt : Date.now();
    measuring = false;
    // This process's CPU time (all its threads: V8's compilers and GC workers too) over the run.
    const cpu = process.cpuUsage(cpuAtStart);
    if (!outside) run.extra.cpuSeconds = Math.round((cpu.user + cpu.system) / 1e4) / 100;
    const all = streams();
    return {
        mode,
        startedAt,
        detectedAt,
        returnedAt,
        requests: outside?.requests ?? requests,
        apiBytes: outside?.apiBytes ?? apiBytes(),
        apiBytesWaiting: outside?.apiBytesWaiting ?? total(atDetection),
        streams: outside
            ? { "kubernetes provider (TCP)": { requests: 0, bytes: outside.apiBytes, encodings: [] } }
            : all,
        streamsAtDetection: outside
            ? { "kubernetes provider (TCP)": { requests: 0, bytes: outside.apiBytesWaiting, encodings: [] } }
            : atDetection,
        peakRssMb: outside?.peakRssMb ?? peakRssMb(process.pid)!,
        peakMemoryMb: outside
            ? {}
            : Object.fromEntries(Object.entries(peakMemory).map(([k, v]) => [k, Math.round(v / 2 ** 20)])),
        extra: run.extra,
        error,
    };
}

async function ours(inputs: PrePullInputs, run: PeerRun): Promise<void> {
    const log = console.log;
    console.log = (line: string) => {
        timeline({ log: String(line).slice(0, 160) });
        if (/eligible nodes hold all/.test(line)) run.detected();
    };
    try {
        await prePullProvider.create!(inputs);
    } finally {
        console.log = log;
    }
}

async function main(): Promise<void> {
    const mode = process.argv[2] as Mode;
    const bench = JSON.parse(process.env.BENCH_INPUTS ?? "{}") as BenchInputs;
    if (mode === "user-pods") {
        const { startUserPods } = require("./user-pods") as typeof import("./user-pods");
        console.log(JSON.stringify(await startUserPods(bench.userPods!)));
    } else {
        console.log(JSON.stringify(await measure(mode, bench)));
    }
    process.exit(0);
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
