/** The issue's targets, met or missed with the figures behind each, and the table that shows them. */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describeHostStart, type HostStart } from "../engine-log";
import type { BenchRecord } from "../results-model";
import { peerFits } from "./fit";
import { afterFloor, byScenario, fmt, median } from "./figures";

/** The no-op `pulumi up` ratio, measured apart by npm run bench:noop-up into noop-up.json. */
export interface NoopUp {
    /** The example stack, which imports the sources (Pulumi inlines the providers' code). */
    ratio: number;
    /** The same program as a consumer's, the package installed under node_modules (since 2026-12-06). */
    consumerRatio?: number;
    date: string;
    /** The dynamic-provider host's start in one more no-op up's engine log (since 2026-12-07). */
    hostStart?: HostStart;
}

interface Verdict {
    target: string;
    met: boolean | undefined;
    detail: string;
}

/** The issue's targets, checked against this run's figures (each peer measured in the same run). */
export function verdicts(records: BenchRecord[], noopUp?: NoopUp, moduleFloorRssMb?: number): Verdict[] {
    const rows = byScenario(records).filter((r) => !r.error);
    const at = (r: BenchRecord) => `${r.nodes}×${r.images}@${r.timeScale}`;
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
    // The chart's awaiter as a chart upgrade runs it (started after the DaemonSet's first status);
    // runs before 2026-12-07 had only the racing one, which returns before any pull.
    const chartPeer = rows.some((r) => r.baselines.z2jhFair) ? "z2jhFair" : "z2jh";
    const withChart = rows.filter((r) => r.baselines[chartPeer] && !r.baselines[chartPeer]!.error);
    if (withChart.length > 0) {
        // Each run draws its own pull times: compare the time each took after its own floor. An
        // awaiter that returned before the images were pulled is no comparison; then ours is held
        // against the earliest moment the chart's awaiter could end on ours' own DaemonSet had it
        // not raced: the first status showing every pod ready, plus 0-1 s to its next read.
        const parts = withChart.map((r) => {
            const chart = r.baselines[chartPeer]!;
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
            target:
                chartPeer === "z2jhFair"
                    ? "never returning later than the chart's awaiter (started as a chart upgrade starts it)"
                    : "never returning later than the chart's awaiter",
            met: parts.every((p) => !p.later),
            detail: parts.map((p) => p.text).join("; "),
        });
    }
    const large = rows.filter((r) => r.nodes >= 500 && r.baselines.seed && !r.baselines.seed.error);
    const seedShare = (scale: number, limit: number) => {
        const here = large.filter((r) => r.timeScale === scale);
        if (here.length === 0) return;
        const ratios = here.map((r) => ({ r, ratio: r.apiBytesWaiting / r.baselines.seed!.apiBytesWaiting }));
        out.push({
            target: `bytes while waiting ≤ ${limit} % of the seed's at ≥ 500 nodes, time scale ${scale}`,
            met: ratios.every((x) => x.ratio <= limit / 100),
            detail: ratios.map((x) => `${at(x.r)} ${(100 * x.ratio).toFixed(1)} %`).join(", "),
        });
    };
    seedShare(1, 5);
    seedShare(0.05, 10);
    const perNodeImage = rows.filter((r) => r.nodes >= 500);
    if (perNodeImage.length > 0) {
        const fit = peerFits(records).ours;
        const each = perNodeImage.map((r) => ({ r, kb: r.apiBytesWaiting / (r.nodes * r.images) / 1024 }));
        out.push({
            target: "bytes while waiting ≤ 4 KB per node-image at ≥ 500 nodes",
            met: each.every((x) => x.kb <= 4),
            detail:
                each.map((x) => `${at(x.r)} ${fmt(x.kb)} KB`).join(", ") +
                (fit
                    ? `; the fit over every scenario: ${fmt(fit.perNode / 1024)} KB per node, ${fmt(fit.perNodeImage / 1024)} KB per node-image, ${fmt(fit.perNodeSecond, 1)} bytes per node-second`
                    : ""),
        });
    }
    const big = rows.filter((r) => r.nodes >= 2000);
    if (big.length > 0 && moduleFloorRssMb !== undefined) {
        out.push({
            target: "peak RSS above the module floor ≤ 30 MB at 2,000 nodes",
            met: big.every((r) => r.providerPeakRssMb - moduleFloorRssMb <= 30),
            detail: big
                .map(
                    (r) =>
                        `${at(r)} ${r.providerPeakRssMb - moduleFloorRssMb} MB (peak ${r.providerPeakRssMb} MB, floor ${moduleFloorRssMb} MB; heap after GC ${r.extra.heapUsedAfterGcMb ?? "—"} MB)`,
                )
                .join(", "),
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
        // Judged on both: a consumer's stack and this repository's example.
        met: noopUp ? Math.max(noopUp.ratio, noopUp.consumerRatio ?? Infinity) <= 1.1 : undefined,
        detail: noopUp
            ? `${noopUp.consumerRatio === undefined ? "a consumer's stack not measured" : `a consumer's stack ${noopUp.consumerRatio.toFixed(3)} ×`}, the example (sources inlined) ${noopUp.ratio.toFixed(3)} ×${noopUp.hostStart ? `; ${describeHostStart(noopUp.hostStart)}` : ""} (npm run bench:noop-up, ${noopUp.date})`
            : "not measured (npm run bench:noop-up)",
    });
    return out;
}

export function verdictTable(verdicts: Verdict[]): string {
    return [
        "| target | result | figures |",
        "| --- | --- | --- |",
        ...verdicts.map(
            (v) =>
                `| ${v.target} | ${v.met === undefined ? "not measured" : v.met ? "met" : "**missed**"} | ${v.detail} |`,
        ),
    ].join("\n");
}

export function readNoopUp(results: string): NoopUp | undefined {
    const file = path.join(results, "noop-up.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as NoopUp) : undefined;
}
