/**
 * Figures that do not depend on the time scale a run chose: each peer's bytes while waiting,
 * fitted over every scenario measured as
 *
 *     bytes = fixed + perNode·N + perNodeImage·N·I + perNodeSecond·N·T
 *
 * (N nodes, I images, T the seconds it waited), so that what a pre-pull pays per node and per
 * image pulled is told apart from what grows with wall time (a poll, a re-list, a node's periodic
 * status report). A run at a shorter time scale shrinks T and so flatters whoever pays by the
 * second; the fit says by how much. Least squares by the normal equations: four unknowns, a
 * dozen points, no library needed. The same routine (leastSquares) fits the report's peak RSS
 * against nodes (tables.ts, memorySlope).
 */
import type { BenchRecord, Peer, PeerResult } from "../results-model";
import { byScenario, fmt, peerResult, peersThatRan } from "./figures";

export interface BytesFit {
    fixed: number;
    perNode: number;
    perNodeImage: number;
    perNodeSecond: number;
    /** How many scenarios, and the largest relative miss of the fit over them. */
    points: number;
    worstMiss: number;
}

interface Point {
    nodes: number;
    images: number;
    seconds: number;
    bytes: number;
}

/** The seconds a pre-pull waited: until presence was decided, or until it returned. */
export function waitedSeconds(p: PeerResult): number {
    return p.detectedSeconds ?? p.createSeconds;
}

function pointsOf(records: BenchRecord[], peer: Peer, bytes: (p: PeerResult) => number | undefined): Point[] {
    const points: Point[] = [];
    for (const r of records) {
        const p = peerResult(r, peer);
        const b = p && !p.error ? bytes(p) : undefined;
        if (p && b !== undefined)
            points.push({ nodes: r.nodes, images: r.images, seconds: waitedSeconds(p), bytes: b });
    }
    return points;
}

/** Solves A x = b (Gaussian elimination with partial pivoting); undefined when A is singular. */
function solve(a: number[][], b: number[]): number[] | undefined {
    const n = b.length;
    const m = a.map((row, i) => [...row, b[i]!]);
    for (let col = 0; col < n; col++) {
        let pivot = col;
        for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
        if (Math.abs(m[pivot]![col]!) < 1e-12) return undefined;
        [m[col], m[pivot]] = [m[pivot]!, m[col]!];
        for (let r = 0; r < n; r++) {
            if (r === col) continue;
            const factor = m[r]![col]! / m[col]![col]!;
            for (let c = col; c <= n; c++) m[r]![c]! -= factor * m[col]![c]!;
        }
    }
    return m.map((row, i) => row[n]! / row[i]!);
}

/**
 * The least-squares coefficients of `values` over the rows' features (each row one point's
 * features, the same count in every row), or undefined when the points do not tell them apart.
 */
export function leastSquares(features: number[][], values: number[]): number[] | undefined {
    const width = features[0]?.length ?? 0;
    const columns = [...Array(width).keys()];
    // Each column scaled to its largest value, so that the normal equations stay well conditioned.
    const scale = columns.map((c) => Math.max(...features.map((f) => Math.abs(f[c]!))) || 1);
    const rows = features.map((f) => f.map((v, c) => v / scale[c]!));
    const ata = columns.map((i) => columns.map((j) => rows.reduce((s, r) => s + r[i]! * r[j]!, 0)));
    const atb = columns.map((i) => rows.reduce((s, r, k) => s + r[i]! * values[k]!, 0));
    return solve(ata, atb)?.map((v, c) => v / scale[c]!);
}

/** The least-squares fit of the points, or undefined with fewer than 5 points or no spread in them. */
export function fitBytes(points: Point[]): BytesFit | undefined {
    if (points.length < 5) return undefined;
    const x = leastSquares(
        points.map((p) => [1, p.nodes, p.nodes * p.images, p.nodes * p.seconds]),
        points.map((p) => p.bytes),
    );
    if (!x) return undefined;
    const [fixed, perNode, perNodeImage, perNodeSecond] = x as [number, number, number, number];
    const fit = { fixed, perNode, perNodeImage, perNodeSecond, points: points.length, worstMiss: 0 };
    fit.worstMiss = Math.max(...points.map((p) => Math.abs(predict(fit, p) - p.bytes) / Math.max(p.bytes, 1)));
    return fit;
}

export function predict(fit: BytesFit, p: Omit<Point, "bytes">): number {
    return (
        fit.fixed +
        fit.perNode * p.nodes +
        fit.perNodeImage * p.nodes * p.images +
        fit.perNodeSecond * p.nodes * p.seconds
    );
}

/** Each peer's fit of its bytes while waiting, over every scenario it ran. */
export function peerFits(records: BenchRecord[]): Partial<Record<Peer, BytesFit>> {
    const fits: Partial<Record<Peer, BytesFit>> = {};
    const peers = [...new Set(records.flatMap((r) => peersThatRan(r)))];
    for (const peer of peers) {
        const fit = fitBytes(pointsOf(records, peer, (p) => p.apiBytesWaiting));
        if (fit) fits[peer] = fit;
    }
    return fits;
}

/** The fits as a table: per peer (and per stream of ours), bytes per node, node-image and node-second. */
export function fitTable(records: BenchRecord[]): string {
    const lines = [
        "| pre-pull | stream | scenarios | fixed KB | bytes per node | bytes per node-image | bytes per node-second (wall time) | largest miss of the fit |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    const row = (peer: string, stream: string, fit: BytesFit) =>
        lines.push(
            `| ${peer} | ${stream} | ${fit.points} | ${fmt(fit.fixed / 1024, 0)} | ${fmt(fit.perNode, 0)} | ${fmt(fit.perNodeImage, 0)} | ${fmt(fit.perNodeSecond, 1)} | ${fmt(100 * fit.worstMiss, 0)} % |`,
        );
    for (const [peer, fit] of Object.entries(peerFits(records))) row(peer, "all", fit);
    for (const peer of ["ours", "seed"] as Peer[]) {
        const streams = [
            ...new Set(records.flatMap((r) => Object.keys(peerResult(r, peer)?.apiStreamsAtDetection ?? {}))),
        ].sort();
        for (const stream of streams) {
            const fit = fitBytes(pointsOf(records, peer, (p) => p.apiStreamsAtDetection[stream]?.bytes ?? 0));
            if (fit) row(peer, stream, fit);
        }
    }
    return lines.join("\n");
}

/** Bytes while waiting, per peer, of the same scenario at each time scale it ran at. */
export function timeScaleTable(records: BenchRecord[]): string {
    const groups = new Map<string, BenchRecord[]>();
    for (const r of byScenario(records)) {
        const key = `${r.nodes}×${r.images}`;
        groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const lines = [
        "| nodes × images | pre-pull | time scale: waited s, MB while waiting (÷ seed's) |",
        "| --- | --- | --- |",
    ];
    for (const [key, group] of groups) {
        if (new Set(group.map((r) => r.timeScale)).size < 2) continue;
        const sorted = [...group].sort((a, b) => a.timeScale - b.timeScale);
        const peers = [...new Set(sorted.flatMap((r) => peersThatRan(r)))];
        for (const peer of peers) {
            const cells = sorted.flatMap((r) => {
                const p = peerResult(r, peer);
                if (!p) return [];
                const seed = r.baselines.seed;
                const ratio = seed && peer !== "seed" ? ` (${fmt(p.apiBytesWaiting / seed.apiBytesWaiting, 3)})` : "";
                return [
                    `${r.timeScale}: ${fmt(waitedSeconds(p), 0)} s, ${fmt(p.apiBytesWaiting / 2 ** 20, 1)} MB${ratio}`,
                ];
            });
            lines.push(`| ${key} | ${peer} | ${cells.join("; ")} |`);
        }
    }
    return lines.length > 2 ? lines.join("\n") : "(no scenario ran at more than one time scale)";
}
