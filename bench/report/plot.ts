/** latest.svg: three panels of lines, hand-drawn SVG (no charting library would make it simpler), so dependency-free. */
import { PEER_TITLES, PEERS, type BenchRecord, type Peer, type PeerResult } from "../results-model";
import { afterFloor, fmt, peerResult } from "./figures";

const COLORS: Record<Peer | "cold", string> = {
    ours: "#1f77b4",
    seed: "#d62728",
    z2jh: "#2ca02c",
    z2jhFair: "#17becf",
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
