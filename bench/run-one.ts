/**
 * One measured run in its own process, so that its peak RSS and API traffic are its own. Modes:
 * `ours` (the provider's create), `seed`, `z2jh` and `pulumi-kubernetes` (the peers, ./peers),
 * `idle` (loads what the provider loads and does nothing: the RSS floor of the modules) and
 * `user-pods` (./user-pods). Reads BENCH_INPUTS, prints one JSON line.
 */
import * as diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { prePullProvider } from "../components/pulumi/provider";
import type { PrePullInputs } from "../components/rules/inputs";
import { loadClientLibrary } from "../components/cluster/kubeconfig";
import type { PeerRun } from "./peers/peer";
import type { EngineSettings } from "./peers/pulumi-kubernetes";
import type { UserPodsInputs } from "./user-pods";

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
 * Response-body bytes (as received, before decompression) and requests by API stream ("watch
 * nodes", "list/get pods", ...), with the response encodings seen. undici multiplexes requests
 * over one HTTP/2 connection, so bytes are attributed per request, not per socket; what the
 * sockets carried beyond the bodies (headers, framing, TLS) is reported as "headers+framing+tls".
 */
export interface StreamUsage {
    requests: number;
    bytes: number;
    encodings: string[];
}
const byStream: Record<string, StreamUsage> = {};
type TaggedRequest = { method: string; path: string; stream?: string };

function streamOf(method: string, requestPath: string): string {
    const [pathname, query = ""] = requestPath.split("?");
    const resource =
        ["nodes", "pods", "daemonsets", "jobs", "events", "secrets"].find((r) => pathname!.split("/").includes(r)) ??
        "other";
    const verb = /(^|&)watch=true/.test(query) ? "watch" : method === "GET" ? "list/get" : method.toLowerCase();
    return `${verb} ${resource}`;
}

diagnostics.subscribe("undici:request:create", (message) => {
    if (!measuring) return;
    const request = (message as { request: TaggedRequest }).request;
    request.stream = streamOf(request.method, request.path);
    (byStream[request.stream] ??= { requests: 0, bytes: 0, encodings: [] }).requests++;
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
    if (!usage.encodings.includes(encoding ?? "identity")) usage.encodings.push(encoding ?? "identity");
});
diagnostics.subscribe("undici:request:bodyChunkReceived", (message) => {
    const { request, chunk } = message as { request: TaggedRequest; chunk: Buffer };
    if (request.stream) byStream[request.stream]!.bytes += chunk.length;
});

/** A copy of the counts so far. */
function streams(): Record<string, StreamUsage> {
    const bodies = Object.values(byStream).reduce((sum, u) => sum + u.bytes, 0);
    const copy = Object.fromEntries(
        Object.entries(byStream).map(([k, u]) => [k, { ...u, encodings: [...u.encodings] }]),
    );
    return { ...copy, "headers+framing+tls": { requests: 0, bytes: apiBytes() - bodies, encodings: [] } };
}
/** The largest value of each process.memoryUsage() field, sampled every 100 ms: where the peak RSS goes. */
const peakMemory: Record<string, number> = {};
setInterval(() => {
    for (const [field, value] of Object.entries(process.memoryUsage())) {
        peakMemory[field] = Math.max(peakMemory[field] ?? 0, value);
    }
}, 100).unref();

/** The counts when presence was decided: what came after is cleanup. */
let atDetection: Record<string, StreamUsage> = {};
let detectedAt = 0;

export type Mode = "ours" | "seed" | "z2jh" | "pulumi-kubernetes" | "idle" | "user-pods";

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
    measuring = true;
    const run: PeerRun = {
        detected() {
            detectedAt = Date.now();
            atDetection = streams();
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
        } else if (mode === "seed") {
            const { seedPrePull } = require("./peers/seed") as typeof import("./peers/seed");
            await seedPrePull(bench.inputs!, run);
        } else if (mode === "z2jh") {
            const { chartAwaiterPrePull } = require("./peers/z2jh") as typeof import("./peers/z2jh");
            await chartAwaiterPrePull(bench.inputs!, run);
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
        peakRssMb: outside?.peakRssMb ?? Math.round(process.resourceUsage().maxRSS / 1024),
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
