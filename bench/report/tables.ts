/** The results tables in markdown: the main table, the per-pre-pull details, streams, memory, apiserver metrics, runs. */
import type { Samples } from "../observer";
import { PEERS, type BenchRecord, type Peer, type PeerResult, type RunInfo } from "../results-model";
import type { StreamUsage } from "../run-one";
import { afterFloor, byScenario, fmt, mb, peerResult, peersThatRan } from "./figures";
import { leastSquares } from "./fit";

export function mainTable(records: BenchRecord[]): string {
    const lines = [
        "| nodes | images | time scale | pre-pull | create s | floor s | create − floor s | detected − floor s | API MB while waiting | ÷ seed's | API MB in all | peak RSS MB | user pod start p50 / p99 s | pulls while user pods started |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const r of byScenario(records)) {
        const seed = r.baselines.seed;
        for (const peer of peersThatRan(r)) {
            const p = peerResult(r, peer)!;
            const failed = p.error ? ` (failed: ${p.error.split("\n")[0]!.replace(/\|/g, "/")})` : "";
            lines.push(
                `| ${r.nodes} | ${r.images} | ${r.timeScale} | ${peer}${failed} | ${fmt(p.createSeconds, 1)} | ${p.floorSeconds === null ? "none ended" : fmt(p.floorSeconds, 1)} | ${fmt(afterFloor(p))} | ${fmt(p.detectionLatencySeconds)} | ${mb(p.apiBytesWaiting)} | ${seed ? fmt(p.apiBytesWaiting / seed.apiBytesWaiting, 3) : "—"} | ${mb(p.apiBytes)} | ${p.peakRssMb} | ${fmt(p.userPodStartP50Seconds)} / ${fmt(p.userPodStartP99Seconds)} | ${p.pullsDuringUserPods} (${p.userPods.pods} pods) |`,
            );
        }
        if (r.cold) {
            lines.push(
                `| ${r.nodes} | ${r.images} | ${r.timeScale} | none: an image no node holds (cold) | | | | | | | | | ${fmt(r.coldUserPodStartP50Seconds)} / ${fmt(r.coldUserPodStartP99Seconds)} | all |`,
            );
        }
        if (r.warm) {
            lines.push(
                `| ${r.nodes} | ${r.images} | ${r.timeScale} | none: an image every node held from the start (the harness's pod start) | | | | | | | | | ${fmt(r.warmUserPodStartP50Seconds)} / ${fmt(r.warmUserPodStartP99Seconds)} | 0 |`,
            );
        }
    }
    return lines.join("\n");
}

/** Per scenario and pre-pull: what else each one spent its time on. */
export function detailTable(records: BenchRecord[]): string {
    const lines = [
        "| nodes | images | time scale | pre-pull | load (1 min) | DaemonSet created / first status / all ready s | pod-creation floor s | user pods: created → running p50 / p99 s | other |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ];
    for (const r of byScenario(records)) {
        for (const peer of peersThatRan(r)) {
            const p = peerResult(r, peer)!;
            const extra = Object.entries(p.extra)
                .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
                .join(", ");
            lines.push(
                `| ${r.nodes} | ${r.images} | ${r.timeScale} | ${peer} | ${fmt(r.loadAverage[0])} | ${fmt(p.daemonSet.createdSeconds)} / ${fmt(p.daemonSet.firstStatusSeconds)} / ${fmt(p.daemonSet.allReadySeconds)} | ${fmt(p.podCreationFloorSeconds)} | ${fmt(p.userPods.createdToRunning.p50)} / ${fmt(p.userPods.createdToRunning.p99)} | ${extra} |`,
            );
        }
    }
    return lines.join("\n");
}

function perRunTable<T>(
    records: BenchRecord[],
    peers: Peer[],
    columns: string[],
    of: (p: PeerResult) => T,
    cells: (v: T) => string[],
): string {
    const lines = [
        `| nodes | images | time scale | pre-pull | ${columns.join(" | ")} |`,
        `| ---: | ---: | ---: | --- | ${columns.map(() => "---:").join(" | ")} |`,
    ];
    for (const r of byScenario(records)) {
        for (const peer of peers) {
            const p = peerResult(r, peer);
            if (p) lines.push(`| ${r.nodes} | ${r.images} | ${r.timeScale} | ${peer} | ${cells(of(p)).join(" | ")} |`);
        }
    }
    return lines.join("\n");
}

/**
 * Where the wire bytes go, by stream, for the pre-pulls measured in their own process, until
 * presence was decided: body bytes as received and decoded, requests, watch events, lists started,
 * what was asked for (form, Accept-Encoding) and what came (Content-Encoding).
 */
export function streamTable(records: BenchRecord[]): string {
    const peers: Peer[] = ["ours", "seed", "z2jh", "z2jhFair"];
    const kb = (bytes: number | undefined) => (bytes === undefined ? "—" : ((bytes ?? 0) / 1024).toFixed(0));
    const lines = [
        "| nodes | images | time scale | pre-pull | stream | wire KB | decoded KB | requests | watch events | lists started | asked: form, Accept-Encoding | received: Content-Encoding |",
        "| ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ];
    for (const r of byScenario(records)) {
        for (const peer of peers) {
            const p = peerResult(r, peer);
            if (!p) continue;
            for (const [name, usage] of Object.entries(p.apiStreamsAtDetection).sort(([a], [b]) =>
                a.localeCompare(b),
            )) {
                const u: StreamUsage = usage;
                const asked = u.forms ? `${u.forms.join(",")}; ${(u.acceptEncodings ?? []).join(",")}` : "—";
                lines.push(
                    `| ${r.nodes} | ${r.images} | ${r.timeScale} | ${peer} | ${name} | ${kb(u.bytes)} | ${kb(u.decodedBytes)} | ${u.requests} | ${u.events ?? "—"} | ${u.lists ?? "—"} | ${asked} | ${u.encodings.join(",") || "-"} |`,
                );
            }
        }
    }
    return lines.join("\n");
}

/** Peak memory by kind, the heap after a forced GC once presence was decided, and the peak above the module floor. */
export function memoryTable(records: BenchRecord[], moduleFloorRssMb: number | undefined): string {
    const fields = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"];
    return perRunTable(
        records,
        ["ours", "seed", "z2jh", "z2jhFair"],
        [
            ...fields.map((f) => `peak ${f} MB`),
            "heap after GC MB",
            "RSS after GC MB",
            "peak RSS above the module floor MB",
        ],
        (p) => p,
        (p) => [
            ...fields.map((f) => String(p.peakMemoryMb[f] ?? "?")),
            String(p.extra.heapUsedAfterGcMb ?? "—"),
            String(p.extra.rssAfterGcMb ?? "—"),
            moduleFloorRssMb === undefined ? "—" : String(p.peakRssMb - moduleFloorRssMb),
        ],
    );
}

/**
 * Peak RSS against nodes (1 image, least squares): MB per 1,000 nodes, per peer and time scale
 * (a longer run grows a process more, so sizes are compared at one time scale).
 */
export function memorySlope(records: BenchRecord[]): string {
    const parts: string[] = [];
    const scales = [...new Set(records.map((r) => r.timeScale))].sort((a, b) => a - b);
    for (const peer of ["ours", "seed"] as Peer[]) {
        for (const scale of scales) {
            const points = records
                .filter((r) => r.images === 1 && r.timeScale === scale)
                .map((r) => ({ n: r.nodes, rss: peerResult(r, peer)?.peakRssMb }))
                .filter((p): p is { n: number; rss: number } => p.rss !== undefined);
            const sizes = new Set(points.map((p) => p.n));
            if (sizes.size < 2) continue;
            const line = leastSquares(
                points.map((p) => [1, p.n]),
                points.map((p) => p.rss),
            );
            // Two distinct sizes (checked above) always tell the line's two unknowns apart.
            const slope = line![1]!;
            const at = [...sizes]
                .sort((a, b) => a - b)
                .map((n) => {
                    const here = points.filter((p) => p.n === n).map((p) => p.rss);
                    return `${n}: ${Math.max(...here)} MB`;
                });
            parts.push(`${peer} at time scale ${scale} ${fmt(slope * 1000, 1)} MB per 1,000 nodes (${at.join(", ")})`);
        }
    }
    return parts.length > 0 ? `Peak RSS against nodes, 1 image: ${parts.join("; ")}.` : "";
}

export function apiserverTable(records: BenchRecord[]): string {
    const keys = [
        ["LIST nodes", "apiserver_request_total LIST nodes", 1],
        ["LIST nodes KB", "apiserver_response_sizes_sum LIST nodes", 1024],
        ["WATCH nodes", "apiserver_request_total WATCH nodes", 1],
        ["GET daemonsets", "apiserver_request_total GET daemonsets", 1],
        ["LIST pods", "apiserver_request_total LIST pods", 1],
        ["WATCH pods", "apiserver_request_total WATCH pods", 1],
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
        PEERS,
        keys.map(([label]) => label),
        (p) => p.apiserverDelta,
        (samples) => keys.map(([, key, unit]) => value(samples, key, unit)),
    );
}

export function runLine(r: RunInfo): string {
    const wall = r.wallSeconds === undefined ? "did not finish" : `${(r.wallSeconds / 60).toFixed(1)} min`;
    const options = r.nodeOptions ? `\`NODE_OPTIONS=${r.nodeOptions}\` ` : "";
    const dirty =
        r.uncommittedProductFiles.length > 0
            ? ` with uncommitted ${r.uncommittedProductFiles.map((f) => f.trim()).join(", ")}`
            : "";
    const scales = (r.timeScales ?? [r.timeScale]).join(", ");
    const apiserver = r.apiserver
        ? `; apiserver ${r.apiserver.version}, feature gates ${Object.entries(r.apiserver.featureGates)
              .map(([gate, on]) => `${gate}=${on}`)
              .join(", ")}`
        : "";
    const replaced = r.replaced?.length ? `; measured again, replacing earlier records: ${r.replaced.join(", ")}` : "";
    return `- ${r.date} ${options}\`npm run bench -- ${r.arguments.join(" ")}\` at ${r.commit.slice(0, 7)}${dirty} (profile ${r.profile}, time scale ${scales}, wall time ${wall})${apiserver}; load before: \`${r.uptimeBefore}\`; a process that only loads the provider and @kubernetes/client-node peaks at ${r.moduleFloorRssMb} MB RSS${replaced}.`;
}
