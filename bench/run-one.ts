/**
 * One measured pre-pull in its own process (so its peak RSS and API traffic are its own):
 * `ours` runs the provider's create; `baseline` runs the seed's algorithm as its README states
 * it (create the DaemonSet, list all nodes every 2 s until every schedulable node reports every
 * image in status.images, delete the DaemonSet). Prints one JSON line.
 */
import * as diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { renderDaemonSet } from "../components/daemonset";
import { prePullProvider } from "../components/provider";
import type { PrePullInputs } from "../components/inputs";
import { loadClientLibrary } from "../components/kube";
import { parseImageReference, referenceSatisfies, tryParseImageReference } from "../components/references";

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
        ["nodes", "pods", "daemonsets", "secrets"].find((r) => pathname!.split("/").includes(r)) ?? "other";
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

async function ours(inputs: PrePullInputs): Promise<number> {
    let detectedAt = 0;
    const log = console.log;
    console.log = (line: string) => {
        if (/eligible nodes hold all/.test(line)) {
            detectedAt = Date.now();
            atDetection = streams();
        }
    };
    try {
        await prePullProvider.create(inputs);
    } finally {
        console.log = log;
    }
    return detectedAt;
}

async function baseline(inputs: PrePullInputs): Promise<number> {
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(inputs.kubeconfig!);
    const core = kc.makeApiClient(lib.CoreV1Api);
    const apps = kc.makeApiClient(lib.AppsV1Api);
    const wanted = inputs.images.map((i) => parseImageReference(i));
    const name = `${inputs.ownerId}-seed`;
    const manifest = renderDaemonSet({ ...inputs, name });
    await apps.createNamespacedDaemonSet({ namespace: inputs.namespace, body: manifest as never });
    let detectedAt = 0;
    for (;;) {
        const nodes = (await core.listNode()).items.filter((n) => !n.spec?.unschedulable);
        const done = nodes.every((n) => {
            const names = (n.status?.images ?? []).flatMap((i) => i.names ?? []).map((x) => tryParseImageReference(x));
            return wanted.every((w) => names.some((r) => r !== undefined && referenceSatisfies(r, w)));
        });
        if (done) {
            detectedAt = Date.now();
            atDetection = streams();
            break;
        }
        await new Promise((r) => setTimeout(r, 2000));
    }
    await apps.deleteNamespacedDaemonSet({ name, namespace: inputs.namespace, propagationPolicy: "Foreground" });
    return detectedAt;
}

async function main(): Promise<void> {
    const mode = process.argv[2];
    const inputs = JSON.parse(process.env.BENCH_INPUTS!) as PrePullInputs;
    const startedAt = Date.now();
    measuring = true;
    // "idle" loads what the provider loads and does nothing: the RSS floor of the modules.
    if (mode === "idle") loadClientLibrary();
    const detectedAt = mode === "idle" ? startedAt : mode === "baseline" ? await baseline(inputs) : await ours(inputs);
    const returnedAt = Date.now();
    measuring = false;
    const usage = process.resourceUsage();
    console.log(
        JSON.stringify({
            mode,
            startedAt,
            detectedAt,
            returnedAt,
            requests,
            apiBytes: apiBytes(),
            streams: streams(),
            streamsAtDetection: atDetection,
            peakRssMb: Math.round(usage.maxRSS / 1024),
            peakMemoryMb: Object.fromEntries(Object.entries(peakMemory).map(([k, v]) => [k, Math.round(v / 2 ** 20)])),
        }),
    );
    process.exit(0);
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
