/**
 * What each node's pulls cost, from the pre-pull pods' own times: a pull container runs a no-op,
 * so the time from the end of the container before it (the helper's, for a pod's first) to its
 * start is the pull of its image, with any wait for the node's puller (a kubelet that serializes
 * pulls queues them). A pod the run knows from its Table rows carries the times its rows showed
 * each container's end (rules/rows.ts); one read in full, the kubelet's own, to the second. Sizes
 * are those the kubelet lists in `status.images` of the nodes as last read, else those of its
 * Pulled events (withEventSizes; run/image-sizes.ts reads them while the run waits).
 */
import { referenceSatisfies, tryParseImageReference, type ImageReference } from "./references";
import type { PullReport } from "./public-types";
import type { Node, Pod } from "./wire";

export type { PullReport } from "./public-types";

/** One pull container's timing on one node. */
export interface PullTiming {
    node: string;
    /** The wanted image (normalized) the container pulled. */
    image: string;
    /** When the pull began (the previous container's end) and ended (this container's start), ms since the epoch. */
    began: number;
    ended: number;
}

/** At most this many nodes are named in `slowestNodes`. */
const SLOWEST_NODES = 5;

/** The timings a pod shows so far: each pull container that started after the one before it ended. */
export function pullTimings(pod: Pod, images: readonly ImageReference[]): PullTiming[] {
    const node = pod.spec?.nodeName;
    const containers = pod.spec?.initContainers ?? [];
    if (!node || containers.length < 2) return [];
    const statuses = pod.status?.initContainerStatuses ?? [];
    const stateOf = (name: string) => statuses.find((s) => s.name === name);
    const result: PullTiming[] = [];
    for (let i = 1; i < containers.length; i++) {
        const previous = stateOf(containers[i - 1]!.name);
        const current = stateOf(containers[i]!.name);
        const began = time(previous?.state?.terminated?.finishedAt ?? previous?.lastState?.terminated?.finishedAt);
        const ended = time(
            current?.state?.running?.startedAt ??
                current?.state?.terminated?.startedAt ??
                current?.lastState?.terminated?.startedAt,
        );
        if (began === undefined || ended === undefined || ended < began) continue;
        const wanted = wantedImage(containers[i]!.image ?? "", images);
        if (wanted) result.push({ node, image: wanted.normalized, began, ended });
    }
    return result;
}

/** The wire's times are RFC 3339 strings (the client library may also give Dates). */
function time(value: unknown): number | undefined {
    if (value === undefined || value === null) return undefined;
    const ms = value instanceof Date ? value.getTime() : Date.parse(String(value));
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * The report over the timings seen, counting only pulls of images a node missed when the run
 * first looked at it (`pulled`: node to images), and the sizes the nodes list.
 */
export function pullReport(
    timings: readonly PullTiming[],
    pulled: ReadonlyMap<string, readonly string[]>,
    nodes: readonly Node[],
    images: readonly ImageReference[],
): PullReport {
    const counted = timings.filter((t) => pulled.get(t.node)?.includes(t.image));
    const byImage = new Map<string, PullTiming[]>();
    for (const t of counted) byImage.set(t.image, [...(byImage.get(t.image) ?? []), t]);
    const report: PullReport = { images: {}, slowestNodes: [] };
    for (const image of images) {
        const list = byImage.get(image.normalized);
        if (!list || list.length === 0) continue;
        const seconds = list.map((t) => (t.ended - t.began) / 1000).sort((a, b) => a - b);
        const slowest = list.reduce((a, b) => (b.ended - b.began > a.ended - a.began ? b : a));
        const entry: PullReport["images"][string] = {
            nodes: list.length,
            p50Seconds: round(median(seconds)),
            maxSeconds: round(seconds[seconds.length - 1]!),
            slowestNode: slowest.node,
        };
        const size = listedSize(nodes, image);
        if (size !== undefined) entry.sizeBytes = size;
        report.images[image.normalized] = entry;
    }
    const spans = new Map<string, { began: number; ended: number }>();
    for (const t of counted) {
        const span = spans.get(t.node);
        spans.set(
            t.node,
            span ? { began: Math.min(span.began, t.began), ended: Math.max(span.ended, t.ended) } : { ...t },
        );
    }
    report.slowestNodes = [...spans]
        .map(([node, span]) => ({ node, seconds: round((span.ended - span.began) / 1000) }))
        .sort((a, b) => b.seconds - a.seconds || a.node.localeCompare(b.node))
        .slice(0, SLOWEST_NODES);
    return report;
}

/**
 * The kubelet's Pulled event of a pull: "Successfully pulled image \"x\" in 1.2s (3.4s including
 * waiting). Image size: 123 bytes." (v1.30 and later; older kubelets write only "in 1.2s", and an
 * image already present gets another wording, which is no pull). Undefined for anything else.
 */
export function parsePulledMessage(
    message: string,
): { image: string; seconds: number; sizeBytes?: number } | undefined {
    const m = /^Successfully pulled image "([^"]+)" in ((?:[\d.]+h)?(?:[\d.]+m(?!s))?(?:[\d.]+(?:ms|s))?)/.exec(
        message,
    );
    if (!m) return undefined;
    const seconds = goDurationSeconds(m[2]!);
    if (seconds === undefined) return undefined;
    const size = /Image size: (\d+) bytes/.exec(message);
    return { image: m[1]!, seconds, ...(size ? { sizeBytes: Number(size[1]) } : {}) };
}

/** Go's Duration.String(): "1h2m3.5s", "2m0s", "850ms", "1.234s". */
function goDurationSeconds(text: string): number | undefined {
    const parts = [...text.matchAll(/([\d.]+)(h|ms|m|s)/g)];
    if (parts.length === 0) return undefined;
    const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
    return parts.reduce((sum, [, value, u]) => sum + Number(value) * unit[u!]!, 0);
}

/**
 * Fills in each image's size from the kubelet's Pulled events where no node listed the image yet
 * (the kubelet lists a fresh image up to 40 s after its pull). Returns the report, changed.
 */
export function withEventSizes(
    report: PullReport,
    messages: readonly string[],
    images: readonly ImageReference[],
): PullReport {
    for (const message of messages) {
        const pulled = parsePulledMessage(message);
        if (!pulled?.sizeBytes) continue;
        const wanted = wantedImage(pulled.image, images);
        const entry = wanted && report.images[wanted.normalized];
        if (entry && entry.sizeBytes === undefined) entry.sizeBytes = pulled.sizeBytes;
    }
    return report;
}

/** "pulls: slowest node b 12s; slowest image x: p50 4s, max 12s on b", or "" when nothing was timed. */
export function describePullReport(report: PullReport): string {
    const slowestNode = report.slowestNodes[0];
    const images = Object.entries(report.images).sort(([, a], [, b]) => b.maxSeconds - a.maxSeconds);
    if (!slowestNode || images.length === 0) return "";
    const [image, stats] = images[0]!;
    return (
        `pulls: slowest node ${slowestNode.node} ${slowestNode.seconds}s; ` +
        `slowest image ${image}: p50 ${stats.p50Seconds}s, max ${stats.maxSeconds}s on ${stats.slowestNode}` +
        (stats.nodes > 1 ? ` (${stats.nodes} nodes)` : "")
    );
}

function listedSize(nodes: readonly Node[], image: ImageReference): number | undefined {
    for (const node of nodes) {
        for (const entry of node.status?.images ?? []) {
            if (entry.sizeBytes && (entry.names ?? []).some((n) => wantedImage(n, [image]))) return entry.sizeBytes;
        }
    }
    return undefined;
}

/** The wanted image that `name` (a container's, an event's or a node's) satisfies, if any. */
function wantedImage(name: string, images: readonly ImageReference[]): ImageReference | undefined {
    const parsed = tryParseImageReference(name);
    return parsed && images.find((w) => referenceSatisfies(parsed, w));
}

function median(sorted: readonly number[]): number {
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round(seconds: number): number {
    return Math.round(seconds * 10) / 10;
}
