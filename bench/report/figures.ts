/** Shared by the tables, the verdicts and the plot: number formats, each peer's figures, the scenario order. */
import { PEERS, type BenchRecord, type Peer, type PeerResult } from "../results-model";

export const fmt = (n: number | null | undefined, digits = 2) =>
    n === null || n === undefined || Number.isNaN(n) ? "—" : n === Infinity ? "∞" : n.toFixed(digits);
export const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Seconds from the floor to the return; undefined when the pre-pull returned before any pull ended. */
export function afterFloor(p: PeerResult): number | undefined {
    return p.floorSeconds === null ? undefined : p.createSeconds - p.floorSeconds;
}

export function peerResult(record: BenchRecord, peer: Peer): PeerResult | undefined {
    return peer === "ours" ? record : record.baselines[peer];
}

export function peersThatRan(record: BenchRecord): Peer[] {
    return PEERS.filter((p) => peerResult(record, p));
}

export function byScenario(records: BenchRecord[]): BenchRecord[] {
    return [...records].sort((a, b) => a.nodes - b.nodes || a.images - b.images || a.timeScale - b.timeScale);
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
