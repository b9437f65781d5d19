/**
 * bench/results/latest.{json,md,svg} from the records: tables for people, the targets checked
 * against the same run's figures, and a small plot (hand-drawn SVG: three panels of lines, which
 * no charting library would make simpler to keep dependency-free).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { machineDescription } from "./machine";
import type { Samples } from "./observer";
import {
    PEER_TITLES,
    PEERS,
    type BenchRecord,
    type BenchResults,
    type Peer,
    type PeerResult,
    type RunInfo,
} from "./results-model";
import type { StreamUsage } from "./run-one";

const fmt = (n: number | null | undefined, digits = 2) =>
    n === null || n === undefined || Number.isNaN(n) ? "—" : n === Infinity ? "∞" : n.toFixed(digits);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Seconds from the floor to the return; undefined when the pre-pull returned before any pull ended. */
export function afterFloor(p: PeerResult): number | undefined {
    return p.floorSeconds === null ? undefined : p.createSeconds - p.floorSeconds;
}

export function peerResult(record: BenchRecord, peer: Peer): PeerResult | undefined {
    return peer === "ours" ? record : record.baselines[peer];
}

function ran(record: BenchRecord): Peer[] {
    return PEERS.filter((p) => peerResult(record, p));
}

function byScenario(records: BenchRecord[]): BenchRecord[] {
    return [...records].sort((a, b) => a.nodes - b.nodes || a.images - b.images);
}

function mainTable(records: BenchRecord[]): string {
    const lines = [
        "| nodes | images | pre-pull | create s | floor s | create − floor s | detected − floor s | API MB while waiting | ÷ seed's | API MB in all | peak RSS MB | user pod start p50 / p99 s | pulls while user pods started |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const r of byScenario(records)) {
        const seed = r.baselines.seed;
        for (const peer of ran(r)) {
            const p = peerResult(r, peer)!;
            const failed = p.error ? ` (failed: ${p.error.split("\n")[0]!.replace(/\|/g, "/")})` : "";
            lines.push(
                `| ${r.nodes} | ${r.images} | ${peer}${failed} | ${fmt(p.createSeconds, 1)} | ${p.floorSeconds === null ? "none ended" : fmt(p.floorSeconds, 1)} | ${fmt(afterFloor(p))} | ${fmt(p.detectionLatencySeconds)} | ${mb(p.apiBytesWaiting)} | ${seed ? fmt(p.apiBytesWaiting / seed.apiBytesWaiting, 3) : "—"} | ${mb(p.apiBytes)} | ${p.peakRssMb} | ${fmt(p.userPodStartP50Seconds)} / ${fmt(p.userPodStartP99Seconds)} | ${p.pullsDuringUserPods} (${p.userPods.pods} pods) |`,
            );
        }
        if (r.cold) {
            lines.push(
                `| ${r.nodes} | ${r.images} | none: an image no node holds (cold) | | | | | | | | | ${fmt(r.coldUserPodStartP50Seconds)} / ${fmt(r.coldUserPodStartP99Seconds)} | all |`,
            );
        }
        if (r.warm) {
            lines.push(
                `| ${r.nodes} | ${r.images} | none: an image every node held from the start (the harness's pod start) | | | | | | | | | ${fmt(r.warmUserPodStartP50Seconds)} / ${fmt(r.warmUserPodStartP99Seconds)} | 0 |`,
            );
        }
    }
    return lines.join("\n");
}

/** Per scenario and pre-pull: what else each one spent its time on. */
function detailTable(records: BenchRecord[]): string {
    const lines = [
        "| nodes | images | pre-pull | load (1 min) | DaemonSet created / first status / all ready s | pod-creation floor s | user pods: created → running p50 / p99 s | other |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ];
    for (const r of byScenario(records)) {
        for (const peer of ran(r)) {
            const p = peerResult(r, peer)!;
            const extra = Object.entries(p.extra)
                .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
                .join(", ");
            lines.push(
                `| ${r.nodes} | ${r.images} | ${peer} | ${fmt(r.loadAverage[0])} | ${fmt(p.daemonSet.createdSeconds)} / ${fmt(p.daemonSet.firstStatusSeconds)} / ${fmt(p.daemonSet.allReadySeconds)} | ${fmt(p.podCreationFloorSeconds)} | ${fmt(p.userPods.createdToRunning.p50)} / ${fmt(p.userPods.createdToRunning.p99)} | ${extra} |`,
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
        `| nodes | images | pre-pull | ${columns.join(" | ")} |`,
        `| ---: | ---: | --- | ${columns.map(() => "---:").join(" | ")} |`,
    ];
    for (const r of byScenario(records)) {
        for (const peer of peers) {
            const p = peerResult(r, peer);
            if (p) lines.push(`| ${r.nodes} | ${r.images} | ${peer} | ${cells(of(p)).join(" | ")} |`);
        }
    }
    return lines.join("\n");
}

/** Where the wire bytes go, by stream, for the pre-pulls measured in their own process. */
function streamTable(records: BenchRecord[]): string {
    const peers: Peer[] = ["ours", "seed", "z2jh"];
    const names = [
        ...new Set(records.flatMap((r) => peers.flatMap((p) => Object.keys(peerResult(r, p)?.apiStreams ?? {})))),
    ].sort();
    const kb = (usage: StreamUsage | undefined) => ((usage?.bytes ?? 0) / 1024).toFixed(0);
    return perRunTable(
        records,
        peers,
        names,
        (p) => p,
        (p) =>
            names.map((n) => {
                const usage = p.apiStreams[n];
                return usage
                    ? `${kb(usage)} (${kb(p.apiStreamsAtDetection[n])}) KB / ${usage.requests} req, ${usage.encodings.join(",") || "-"}`
                    : "";
            }),
    );
}

function memoryTable(records: BenchRecord[]): string {
    const fields = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"];
    return perRunTable(
        records,
        ["ours", "seed", "z2jh"],
        fields.map((f) => `${f} MB`),
        (p) => p.peakMemoryMb,
        (peaks) => fields.map((f) => String(peaks[f] ?? "?")),
    );
}

function apiserverTable(records: BenchRecord[]): string {
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

interface Verdict {
    target: string;
    met: boolean | undefined;
    detail: string;
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The issue's targets, checked against this run's figures (each peer measured in the same run). */
export function verdicts(records: BenchRecord[], noopUp?: { ratio: number; date: string }): Verdict[] {
    const rows = byScenario(records).filter((r) => !r.error);
    const at = (r: BenchRecord) => `${r.nodes}×${r.images}`;
    const late = rows.flatMap((r) => {
        const after = afterFloor(r);
        return after === undefined ? [] : [{ r, late: after }];
    });
    const out: Verdict[] = [];
    if (late.length > 0) {
        const med = median(late.map((l) => l.late));
        const max = Math.max(...late.map((l) => l.late));
        out.push({
            target: "create − floor: median ≤ 1 s, max ≤ 3 s at every size",
            met: med <= 1 && max <= 3,
            detail: `median ${fmt(med)} s, max ${fmt(max)} s (${late.map((l) => `${at(l.r)} ${fmt(l.late)}`).join(", ")})`,
        });
    }
    const withChart = rows.filter((r) => r.baselines.z2jh && !r.baselines.z2jh.error);
    if (withChart.length > 0) {
        // Each run draws its own pull times: compare the time each took after its own floor. An
        // awaiter that returned before the images were pulled is no comparison; then ours is held
        // against the earliest moment the chart's awaiter could end on ours' own DaemonSet had it
        // not raced: the first status showing every pod ready, plus 0-1 s to its next read.
        const parts = withChart.map((r) => {
            const chart = r.baselines.z2jh!;
            const ours = afterFloor(r);
            const theirs = afterFloor(chart);
            const covered = chart.pullsDuringUserPods === 0 && theirs !== undefined;
            if (covered) {
                return {
                    later: ours === undefined || ours > theirs!,
                    text: `${at(r)}: ours ${fmt(ours)} s after its floor, the awaiter ${fmt(theirs)} s`,
                };
            }
            const ready = r.daemonSet.allReadySeconds;
            const lag = ready === undefined || r.detectedSeconds === undefined ? undefined : r.detectedSeconds - ready;
            const early = `the awaiter returned after ${fmt(chart.createSeconds, 1)} s, before the images were on the nodes (${chart.pullsDuringUserPods} pulls while its user pods started, p99 ${fmt(chart.userPodStartP99Seconds, 1)} s)`;
            const derived =
                lag === undefined
                    ? "ours decided before its DaemonSet's status ever showed every pod ready"
                    : lag > 0
                      ? `ours decided ${fmt(lag)} s after its DaemonSet's status showed every pod ready: an awaiter that did not race would have returned earlier in ${Math.round(Math.min(1, lag) * 100)} % of its poll phases`
                      : `ours decided ${fmt(-lag)} s before its DaemonSet's status showed every pod ready`;
            return { later: lag !== undefined && lag > 0, text: `${at(r)}: ${early}; ${derived}` };
        });
        out.push({
            target: "never returning later than the chart's awaiter",
            met: parts.every((p) => !p.later),
            detail: parts.map((p) => p.text).join("; "),
        });
    }
    const large = rows.filter((r) => r.nodes >= 500 && r.baselines.seed && !r.baselines.seed.error);
    if (large.length > 0) {
        const ratios = large.map((r) => ({ r, ratio: r.apiBytesWaiting / r.baselines.seed!.apiBytesWaiting }));
        out.push({
            target: "bytes while waiting ≤ 10 % of the seed's at ≥ 500 nodes",
            met: ratios.every((x) => x.ratio <= 0.1),
            detail: ratios.map((x) => `${at(x.r)} ${(100 * x.ratio).toFixed(1)} %`).join(", "),
        });
    }
    const big = rows.filter((r) => r.nodes >= 2000);
    if (big.length > 0) {
        out.push({
            target: "provider peak RSS ≤ 150 MB at 2,000 nodes",
            met: big.every((r) => r.providerPeakRssMb <= 150),
            detail: big.map((r) => `${at(r)} ${r.providerPeakRssMb} MB`).join(", "),
        });
    }
    if (rows.length > 0) {
        out.push({
            target: "user pod start p99 ≤ 2 s after the pre-pull at every size",
            met: rows.every((r) => r.userPodStartP99Seconds !== null && r.userPodStartP99Seconds <= 2),
            detail: rows
                .map(
                    (r) =>
                        `${at(r)} ${fmt(r.userPodStartP99Seconds)} s (without a pull in a quiet cluster ${fmt(r.warmUserPodStartP99Seconds)} s, cold ${fmt(r.coldUserPodStartP99Seconds, 1)} s)`,
                )
                .join(", "),
        });
    }
    out.push({
        target: "no-op `pulumi up` ≤ 1.10 × the stack without the component",
        met: noopUp ? noopUp.ratio <= 1.1 : undefined,
        detail: noopUp
            ? `${noopUp.ratio.toFixed(3)} × (npm run bench:noop-up, ${noopUp.date})`
            : "not measured (npm run bench:noop-up)",
    });
    return out;
}

function verdictTable(verdicts: Verdict[]): string {
    return [
        "| target | result | figures |",
        "| --- | --- | --- |",
        ...verdicts.map(
            (v) =>
                `| ${v.target} | ${v.met === undefined ? "not measured" : v.met ? "met" : "**missed**"} | ${v.detail} |`,
        ),
    ].join("\n");
}

const COLORS: Record<Peer | "cold", string> = {
    ours: "#1f77b4",
    seed: "#d62728",
    z2jh: "#2ca02c",
    pulumiKubernetes: "#9467bd",
    cold: "#7f7f7f",
};

/** Three panels by cluster size: create − floor, bytes while waiting (log), user pod start p99 (log). */
export function plot(records: BenchRecord[]): string {
    const sizes = [...new Set(records.map((r) => r.nodes))].sort((a, b) => a - b);
    const counts = [...new Set(records.map((r) => r.images))].sort((a, b) => a - b);
    type Series = { key: Peer | "cold"; images: number; values: (number | undefined)[] };
    const series = (
        value: (p: PeerResult) => number | null | undefined,
        withCold?: (r: BenchRecord) => number | null | undefined,
    ) => {
        const out: Series[] = [];
        for (const images of counts) {
            const row = (n: number) => records.find((r) => r.nodes === n && r.images === images && !r.nodeOptions);
            for (const peer of PEERS) {
                out.push({
                    key: peer,
                    images,
                    values: sizes.map((n) => {
                        const p = row(n) && peerResult(row(n)!, peer);
                        const v = p && !p.error ? value(p) : undefined;
                        return v === null || v === undefined || !Number.isFinite(v) ? undefined : v;
                    }),
                });
            }
            if (withCold) {
                out.push({
                    key: "cold",
                    images,
                    values: sizes.map((n) => (row(n) ? (withCold(row(n)!) ?? undefined) : undefined)),
                });
            }
        }
        return out;
    };
    const w = 330;
    const h = 200;
    const panel = (x0: number, title: string, all: Series[], log: boolean) => {
        const values = all.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
        if (values.length === 0) return "";
        const lo = log ? Math.min(...values.filter((v) => v > 0)) / 1.5 : Math.min(0, ...values);
        const hi = Math.max(...values) * (log ? 1.5 : 1.1) || 1;
        const px = (i: number) => x0 + 45 + (i * (w - 60)) / Math.max(1, sizes.length - 1);
        const py = (v: number) => {
            const t = log
                ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
                : (v - lo) / (hi - lo);
            return 30 + h - t * h;
        };
        const lines = all
            .map((s) => {
                const points = s.values.flatMap((v, i) => (v === undefined ? [] : [[px(i), py(v)] as const]));
                const dash = s.images === counts[0] && counts.length > 1 ? ` stroke-dasharray="4 3"` : "";
                return (
                    `<polyline fill="none" stroke="${COLORS[s.key]}" stroke-width="2"${dash} points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>` +
                    points
                        .map(
                            ([x, y]) =>
                                `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${COLORS[s.key]}"/>`,
                        )
                        .join("")
                );
            })
            .join("");
        const zero =
            !log && lo < 0
                ? `<line x1="${x0 + 45}" y1="${py(0)}" x2="${x0 + w - 15}" y2="${py(0)}" stroke="#bbb" stroke-dasharray="2 2"/>`
                : "";
        return (
            `<text x="${x0 + 45}" y="18" font-size="12">${title}</text>` +
            `<line x1="${x0 + 45}" y1="${h + 30}" x2="${x0 + w - 15}" y2="${h + 30}" stroke="#888"/>` +
            `<text x="${x0 + 2}" y="38" font-size="10">${fmt(hi, hi < 10 ? 1 : 0)}</text>` +
            `<text x="${x0 + 2}" y="${h + 30}" font-size="10">${fmt(lo, Math.abs(lo) < 10 ? 1 : 0)}</text>` +
            sizes
                .map((n, i) => `<text x="${px(i)}" y="${h + 45}" font-size="10" text-anchor="middle">${n}</text>`)
                .join("") +
            `<text x="${x0 + w / 2}" y="${h + 58}" font-size="10" text-anchor="middle">nodes</text>` +
            zero +
            lines
        );
    };
    const legend = [...PEERS, "cold" as const]
        .map(
            (k, i) =>
                `<text x="${20 + i * 190}" y="${h + 85}" font-size="11" fill="${COLORS[k]}">${k === "cold" ? "no pre-pull (cold)" : PEER_TITLES[k]}</text>`,
        )
        .join("");
    const dashes =
        counts.length > 1
            ? `<text x="20" y="${h + 102}" font-size="11">solid: ${counts.at(-1)} images, dashed: ${counts[0]}</text>`
            : "";
    const width = 3 * w + 20;
    return (
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h + 112}" font-family="sans-serif">` +
        `<rect width="${width}" height="${h + 112}" fill="white"/>` +
        panel(
            0,
            "create − floor (s)",
            series((p) => afterFloor(p)),
            false,
        ) +
        panel(
            w,
            "API MB while waiting (log)",
            series((p) => p.apiBytesWaiting / 2 ** 20),
            true,
        ) +
        panel(
            2 * w,
            "user pod start p99 (s, log)",
            series(
                (p) => p.userPodStartP99Seconds,
                (r) => r.coldUserPodStartP99Seconds,
            ),
            true,
        ) +
        legend +
        dashes +
        `</svg>`
    );
}

export function readNoopUp(results: string): { ratio: number; date: string } | undefined {
    const file = path.join(results, "noop-up.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { ratio: number; date: string }) : undefined;
}

function runLine(r: RunInfo): string {
    const wall = r.wallSeconds === undefined ? "did not finish" : `${(r.wallSeconds / 60).toFixed(1)} min`;
    const options = r.nodeOptions ? `\`NODE_OPTIONS=${r.nodeOptions}\` ` : "";
    const dirty =
        r.uncommittedProductFiles.length > 0
            ? ` with uncommitted ${r.uncommittedProductFiles.map((f) => f.trim()).join(", ")}`
            : "";
    return `- ${r.date} ${options}\`npm run bench -- ${r.arguments.join(" ")}\` at ${r.commit.slice(0, 7)}${dirty} (profile ${r.profile}, time scale ${r.timeScale}, wall time ${wall}); load before: \`${r.uptimeBefore}\`; a process that only loads the provider and @kubernetes/client-node peaks at ${r.moduleFloorRssMb} MB RSS.`;
}

export function markdown(results: BenchResults, noopUp?: { ratio: number; date: string }): string {
    const { records, runs } = results;
    const settings = [...new Set(runs.flatMap((r) => r.harness.changedFromStock))];
    return [
        `Measured on ${results.machine}, in ${runs.length === 1 ? "one run" : `${runs.length} runs`}:`,
        "",
        ...runs.map(runLine),
        "",
        "The cluster: the real kube-apiserver, etcd, kube-controller-manager (every default controller) and kube-scheduler, with simulated kubelets (test/cluster). What the bench changed from stock:",
        "",
        ...settings.map((s) => `- ${s}`),
        "",
        "Each pre-pull runs in its own process, one after the other on the same cluster, with fresh images (order in the JSON). The floor is when the last image pull ended on any node (the simulator's clock). After each pre-pull, one user pod per node starts with one of its images; user pod start is bound-to-running, from watch receive times. The two rows without a pre-pull are measured once per cluster size, on the quiet cluster before its first scenario: with an image no node holds (cold), and with an image every node has held from the start (what starting a pod costs in this harness, where the simulated kubelets of all nodes share two cores with the control plane).",
        "",
        mainTable(records),
        "",
        "Targets, from this run:",
        "",
        verdictTable(verdicts(records, noopUp)),
        "",
        "Per pre-pull, besides (the DaemonSet controller's pod-creation floor is part of every floor; `extra` holds each peer's own figures):",
        "",
        detailTable(records),
        "",
        "Wire bytes by stream for the pre-pulls measured in their own process: response bodies as received, total (until presence was decided), requests, response encoding; headers+framing+tls is what the sockets carried beyond the bodies. The @pulumi/kubernetes provider's traffic is counted whole, at a TCP proxy in front of the apiserver:",
        "",
        streamTable(records),
        "",
        "Peak memory by kind (sampled every 100 ms; the RSS column above is the kernel's exact peak):",
        "",
        memoryTable(records),
        "",
        "The apiserver's metrics around each pre-pull (deltas; request counts and LIST sizes are the pre-pull's own, watch events are summed over every watcher, including the controllers, the scheduler and the simulator):",
        "",
        apiserverTable(records),
        "",
    ].join("\n");
}

/** The lines of README.md between which the bench writes its summary. */
export const README_MARKERS = {
    start: "<!-- bench results: written by npm run bench (bench/report.ts) from bench/results/latest.json -->",
    end: "<!-- end of bench results -->",
};

/** The README's part of the results: where and how they were measured, the main table, the targets. */
export function readmeSection(results: BenchResults, noopUp?: { ratio: number; date: string }): string {
    return [
        `Measured on ${results.machine}:`,
        "",
        ...results.runs.map(runLine),
        "",
        mainTable(results.records),
        "",
        "Targets:",
        "",
        verdictTable(verdicts(results.records, noopUp)),
    ].join("\n");
}

/** Replaces what lies between the markers in `readme`; fails if they are missing, so nothing goes stale unnoticed. */
export function replaceReadmeSection(readme: string, section: string): string {
    const start = readme.indexOf(README_MARKERS.start);
    const end = readme.indexOf(README_MARKERS.end);
    if (start < 0 || end < start) {
        throw new Error(`README.md lacks the bench markers "${README_MARKERS.start}" ... "${README_MARKERS.end}"`);
    }
    return `${readme.slice(0, start + README_MARKERS.start.length)}\n\n${section}\n\n${readme.slice(end)}`;
}

/** Written after every scenario, so that a long run cut short still leaves its results. */
export function save(resultsDir: string, records: BenchRecord[], runs: RunInfo[], readmePath?: string): void {
    mkdirSync(resultsDir, { recursive: true });
    const results: BenchResults = { machine: machineDescription(), date: runs.at(-1)?.date, runs, records };
    const noopUp = readNoopUp(resultsDir);
    writeFileSync(path.join(resultsDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
    writeFileSync(path.join(resultsDir, "latest.md"), markdown(results, noopUp));
    writeFileSync(path.join(resultsDir, "latest.svg"), plot(records));
    if (readmePath) {
        writeFileSync(
            readmePath,
            replaceReadmeSection(readFileSync(readmePath, "utf8"), readmeSection(results, noopUp)),
        );
    }
}
