/**
 * `npm run bench:warm [-- options]`: time to warm, what a JupyterHub operator waits for: from the
 * start of a pre-pull until every node holds every image, on kubelets that serialize pulls (the
 * kubelet's default) and on kubelets that pull in parallel (serializeImagePulls: false), for
 * ours with and without parallelPulls, the seed's algorithm and the chart's hook puller (one pod
 * per node, images in order), all in the same run on the same cluster.
 *
 *   --nodes 100,500          cluster sizes (one cluster per size and kubelet kind)
 *   --images 5               images per pre-pull
 *   --pull-seconds 20        a lone pull's mean time, with --pull-jitter 0.5 around it
 *   --bandwidth 5            how many lone pulls' speed a node's link carries (parallel kubelets)
 *   --kubelets serialized,parallel
 *   --controller-qps N       kube-controller-manager's client QPS (burst 2N) instead of the stock 20
 *                            (burst 30): how much of a warm time is the DaemonSet controller's pace
 *   --peers ours,ours-parallel,seed,z2jh   (z2jh: the chart's awaiter started after the DaemonSet's
 *                            first status, as in a chart upgrade; see bench/peers/z2jh.ts)
 *
 * When a node is warm comes from the pre-pull pods themselves, watched from the bench's process:
 * a pull container starts once its image is on the node, so a node is warm when every image's
 * container on it has started (the kubelet's timestamps), not when a peer says it is done. The
 * floor of a node is its largest single pull ("in X" of the kubelet's Pulled events, which the
 * simulator writes as a kubelet does: the best any pre-puller could do there), the serialized
 * floor the sum of its pulls. Prints a table and writes bench/results/warm-<date>-<sizes>-nodes.{json,md}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { prePullProvider } from "../components/pulumi/provider";
import type { PrePullInputs } from "../components/rules/inputs";
import { parsePulledMessage } from "../components/rules/pull-report";
import { privateCluster, repoRoot, SIM, stopCluster, type TestCluster } from "../harness/cluster";
import { benchImages } from "./images";
import type { PeerRun } from "./peers/peer";
import { seedPrePull } from "./peers/seed";
import { chartAwaiterPrePull } from "./peers/z2jh";
import { preloadedImagesAnnotation } from "./profiles";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

type Peer = "ours" | "ours-parallel" | "seed" | "z2jh";
type Kubelet = "serialized" | "parallel";
const NAMESPACE = "warm";

interface NodeWarm {
    node: string;
    /** Seconds from the pre-pull's start until the node's last pull ended (the kubelet's timestamps, 1 s resolution). */
    warmSeconds: number;
    /** Seconds from its first Pulling event (its pods exist and pull) until its last pull ended. */
    warmFromFirstPullSeconds: number;
    /** Its largest single pull, and the sum of its pulls ("in X" of its Pulled events). */
    largestPullSeconds: number;
    sumOfPullsSeconds: number;
}

interface RunResult {
    kubelet: Kubelet;
    nodes: number;
    images: number;
    peer: Peer;
    /** When the peer returned (for the seed and the chart: when it said the nodes were warm). */
    returnedSeconds: number;
    /** Nodes warm (by their pods) once the peer returned, and how many were not. */
    warmNodes: number;
    coldNodes: number;
    /** Warm nodes left out of the ratios: a Pulled event of theirs is missing, so their floor is unknown. */
    withoutPullRecord: number;
    /** Over the warm nodes: warm time and warm time / largest single pull, p50 and max. */
    warmSecondsP50: number;
    warmSecondsMax: number;
    ratioToLargestP50: number;
    ratioToLargestMax: number;
    /** The same from each node's first Pulling event: the kubelet's side, without pod creation and scheduling. */
    ratioFromFirstPullP50: number;
    ratioFromFirstPullMax: number;
    /** Over the warm nodes: the sum of their pulls (what one pod per node costs at best), p50. */
    sumOfPullsP50: number;
    error?: string;
}

function percentile(values: number[], p: number): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function round(v: number): number {
    return Math.round(v * 100) / 100;
}

/** A figure for the table: "-" where no node was warm. */
function shown(v: number): string {
    return Number.isFinite(v) ? String(v) : "-";
}

function log(line: string): void {
    process.stderr.write(`[warm ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function preload(cluster: TestCluster): Promise<void> {
    const value = preloadedImagesAnnotation();
    const nodes = (await cluster.core.listNode()).items.map((n) => n.metadata!.name!);
    for (let i = 0; i < nodes.length; i += 16) {
        await Promise.all(
            nodes
                .slice(i, i + 16)
                .map((name) =>
                    cluster.core.patchNode(
                        { name, body: { metadata: { annotations: { [SIM.preloadedImages]: value } } } },
                        cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
                    ),
                ),
        );
    }
}

/** Every event of the namespace with this reason (Pulled, Pulling), paged. */
async function eventsOf(cluster: TestCluster, reason: string) {
    const items = [];
    let _continue: string | undefined;
    do {
        const page = await cluster.core.listNamespacedEvent({
            namespace: NAMESPACE,
            fieldSelector: `reason=${reason}`,
            limit: 500,
            _continue,
        });
        items.push(...page.items);
        _continue = page.metadata?._continue || undefined;
    } while (_continue);
    return items;
}

/**
 * The pods of the namespace as last seen (a deleted pod as it was before its deletion): the
 * pre-pull pods are gone soon after a peer returns, and their container times with them.
 */
async function watchPods(cluster: TestCluster): Promise<{ pods: Map<string, k8s.V1Pod>; stop: () => void }> {
    const pods = new Map<string, k8s.V1Pod>();
    const informer = cluster.lib.makeInformer(cluster.kc, `/api/v1/namespaces/${NAMESPACE}/pods`, () =>
        cluster.core.listNamespacedPod({ namespace: NAMESPACE }),
    );
    const keep = (pod: k8s.V1Pod) => pods.set(pod.metadata?.uid ?? "", pod);
    informer.on("add", keep);
    informer.on("update", keep);
    await informer.start();
    return { pods, stop: () => void informer.stop() };
}

/** When each node had each image: the start of the first container using it there, from the pods seen. */
function imagesPresentAt(pods: Iterable<k8s.V1Pod>, images: string[]): Map<string, Map<string, number>> {
    const byNode = new Map<string, Map<string, number>>();
    for (const pod of pods) {
        const node = pod.spec?.nodeName;
        if (!node) continue;
        const specs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
        const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
        for (const status of statuses) {
            const image = specs.find((c) => c.name === status.name)?.image;
            const started = status.state?.running?.startedAt ?? status.state?.terminated?.startedAt;
            if (!image || !images.includes(image) || !started) continue;
            const at = new Date(started).getTime();
            if (!(at > 0)) continue;
            const present = byNode.get(node) ?? new Map<string, number>();
            present.set(image, Math.min(at, present.get(image) ?? Infinity));
            byNode.set(node, present);
        }
    }
    return byNode;
}

/**
 * Per node: when it was warm (every image's container started, from the pods) and its pulls' own
 * times (the kubelet's Pulled events); a node that is warm by its pods but lacks a Pulled event of
 * an image has no floor and is counted apart.
 */
async function nodeWarmth(
    cluster: TestCluster,
    pods: Iterable<k8s.V1Pod>,
    images: string[],
    startedAt: number,
): Promise<{ warm: Map<string, NodeWarm>; withoutPullRecord: number }> {
    const firstPulling = new Map<string, number>();
    for (const e of await eventsOf(cluster, "Pulling")) {
        const m = /^Pulling image "([^"]+)"/.exec(e.message ?? "");
        if (!m || !images.includes(m[1]!) || !e.source?.host) continue;
        const at = new Date(e.firstTimestamp ?? e.eventTime ?? 0).getTime();
        firstPulling.set(e.source.host, Math.min(at, firstPulling.get(e.source.host) ?? Infinity));
    }
    const byNode = new Map<string, { took: number[] }>();
    for (const e of await eventsOf(cluster, "Pulled")) {
        // The product's parser: "in 19.6s", and for a pull over a minute Go's "in 2m0.5s".
        const pulled = parsePulledMessage(e.message ?? "");
        if (!pulled || !images.includes(pulled.image) || !e.source?.host) continue;
        const took = pulled.seconds;
        const entry = byNode.get(e.source.host) ?? { took: [] };
        entry.took.push(took);
        byNode.set(e.source.host, entry);
    }
    const result = new Map<string, NodeWarm>();
    let withoutPullRecord = 0;
    for (const [node, present] of imagesPresentAt(pods, images)) {
        if (present.size < images.length) continue; // not warm
        const warmAt = Math.max(...present.values());
        const pulls = byNode.get(node);
        if (!pulls || pulls.took.length < images.length) {
            withoutPullRecord++;
            continue;
        }
        result.set(node, {
            node,
            warmSeconds: (warmAt - startedAt) / 1000,
            warmFromFirstPullSeconds: (warmAt - (firstPulling.get(node) ?? startedAt)) / 1000,
            largestPullSeconds: Math.max(...pulls.took),
            sumOfPullsSeconds: pulls.took.reduce((a, b) => a + b, 0),
        });
    }
    return { warm: result, withoutPullRecord };
}

async function runPeer(inputs: PrePullInputs, peer: Peer): Promise<void> {
    const run: PeerRun = { detected: () => undefined, extra: {} };
    if (peer === "seed") return seedPrePull(inputs, run);
    // The chart's awaiter as a chart upgrade runs it: it starts after the DaemonSet's first status.
    if (peer === "z2jh") return chartAwaiterPrePull(inputs, run, { fair: true });
    await prePullProvider.create(inputs as never);
}

async function clearNamespace(cluster: TestCluster): Promise<void> {
    await cluster.apps.deleteCollectionNamespacedDaemonSet({ namespace: NAMESPACE });
    await cluster.kc
        .makeApiClient(cluster.lib.BatchV1Api)
        .deleteCollectionNamespacedJob({ namespace: NAMESPACE, propagationPolicy: "Background" });
    await cluster.core.deleteCollectionNamespacedPod({ namespace: NAMESPACE, gracePeriodSeconds: 0 });
    for (let i = 0; i < 120; i++) {
        if ((await cluster.core.listNamespacedPod({ namespace: NAMESPACE, limit: 1 })).items.length === 0) return;
        await new Promise((r) => setTimeout(r, 1000));
    }
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            nodes: { type: "string", default: "100,500" },
            images: { type: "string", default: "5" },
            "pull-seconds": { type: "string", default: "20" },
            "pull-jitter": { type: "string", default: "0.5" },
            bandwidth: { type: "string", default: "5" },
            kubelets: { type: "string", default: "serialized,parallel" },
            peers: { type: "string", default: "ours,ours-parallel,seed,z2jh" },
            "controller-qps": { type: "string" },
        },
    });
    const nodeCounts = values.nodes!.split(",").map(Number);
    const imageCount = Number(values.images);
    const pullSeconds = Number(values["pull-seconds"]);
    const jitter = Number(values["pull-jitter"]);
    const bandwidth = Number(values.bandwidth);
    const kubelets = values.kubelets!.split(",") as Kubelet[];
    const peers = values.peers!.split(",") as Peer[];
    const qps = values["controller-qps"] ? Number(values["controller-qps"]) : undefined;
    const controllerArgs =
        qps === undefined
            ? []
            : [
                  `--controller-manager-arg=--kube-api-qps=${qps}`,
                  `--controller-manager-arg=--kube-api-burst=${2 * qps}`,
              ];
    const runId = Date.now().toString(36);
    const startedAt = new Date().toISOString();
    const load = os.loadavg().map((l) => l.toFixed(2));
    const results: RunResult[] = [];
    for (const kubelet of kubelets) {
        for (const nodes of nodeCounts) {
            log(`cluster: ${nodes} nodes, ${kubelet} kubelets`);
            const cluster = await privateCluster([
                "--nodes",
                String(nodes),
                "--pull-seconds",
                String(pullSeconds),
                "--pull-jitter",
                String(jitter),
                `--serialize-image-pulls=${kubelet === "serialized"}`,
                "--pull-bandwidth",
                String(bandwidth),
                "--timeout",
                "1800",
                ...controllerArgs,
            ]);
            try {
                await preload(cluster);
                await cluster.core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
                for (const peer of peers) {
                    const images = benchImages(`warm-${peer}-${kubelet}-${nodes}-${runId}`, imageCount);
                    const { inputs } = (await prePullProvider.check!(
                        {},
                        {
                            images,
                            namespace: NAMESPACE,
                            kubeconfig: cluster.kubeconfig,
                            timeoutSeconds: Math.ceil(imageCount * pullSeconds * (1 + jitter) * 3 + 600),
                            ...(peer === "ours-parallel" ? { parallelPulls: imageCount } : {}),
                        },
                    )) as { inputs: PrePullInputs };
                    log(`${peer}: ${nodes} nodes x ${imageCount} images, ${kubelet} kubelets`);
                    const watched = await watchPods(cluster);
                    const t0 = Date.now();
                    let error: string | undefined;
                    try {
                        await runPeer(inputs, peer);
                    } catch (e) {
                        error = (e as Error).message.split("\n")[0];
                        log(`${peer} failed: ${error}`);
                    }
                    const returnedSeconds = (Date.now() - t0) / 1000;
                    // The kubelets' events are written within a second or two of the pull's end.
                    await new Promise((r) => setTimeout(r, 3000));
                    watched.stop();
                    const warmth = await nodeWarmth(cluster, watched.pods.values(), images, t0);
                    const warm = [...warmth.warm.values()];
                    const ratios = warm.map((w) => w.warmSeconds / w.largestPullSeconds);
                    const kubeletRatios = warm.map((w) => w.warmFromFirstPullSeconds / w.largestPullSeconds);
                    const result: RunResult = {
                        kubelet,
                        nodes,
                        images: imageCount,
                        peer,
                        returnedSeconds: round(returnedSeconds),
                        warmNodes: warm.length + warmth.withoutPullRecord,
                        coldNodes: nodes - warm.length - warmth.withoutPullRecord,
                        withoutPullRecord: warmth.withoutPullRecord,
                        warmSecondsP50: round(
                            percentile(
                                warm.map((w) => w.warmSeconds),
                                50,
                            ),
                        ),
                        warmSecondsMax: round(Math.max(...warm.map((w) => w.warmSeconds))),
                        ratioToLargestP50: round(percentile(ratios, 50)),
                        ratioToLargestMax: round(Math.max(...ratios)),
                        ratioFromFirstPullP50: round(percentile(kubeletRatios, 50)),
                        ratioFromFirstPullMax: round(Math.max(...kubeletRatios)),
                        sumOfPullsP50: round(
                            percentile(
                                warm.map((w) => w.sumOfPullsSeconds),
                                50,
                            ),
                        ),
                        ...(error ? { error } : {}),
                    };
                    log(JSON.stringify(result));
                    results.push(result);
                    await clearNamespace(cluster);
                }
            } finally {
                await stopCluster(cluster);
            }
        }
    }
    const header =
        "| kubelets | nodes | images | peer | returned (s) | warm nodes | warm p50 / max (s) | warm / largest pull, p50 / max | from first pull: warm / largest, p50 / max | sum of pulls p50 (s) |";
    const rows = results.map(
        (r) =>
            `| ${r.kubelet} | ${r.nodes} | ${r.images} | ${r.peer} | ${r.returnedSeconds} | ${r.warmNodes}/${r.nodes}${r.withoutPullRecord ? ` (${r.withoutPullRecord} without a Pulled record)` : ""} | ${shown(r.warmSecondsP50)} / ${shown(r.warmSecondsMax)} | ${shown(r.ratioToLargestP50)} / ${shown(r.ratioToLargestMax)} | ${shown(r.ratioFromFirstPullP50)} / ${shown(r.ratioFromFirstPullMax)} | ${shown(r.sumOfPullsP50)} |` +
            (r.error ? ` ${r.error}` : ""),
    );
    const table = [header, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", ...rows].join("\n");
    const settings = `pulls ${pullSeconds} s +/- ${jitter * 100} %, parallel kubelets: serializeImagePulls false, maxParallelImagePulls unbounded, link of ${bandwidth} lone pulls; ${qps === undefined ? "stock controller-manager" : `controller-manager at client QPS ${qps} / burst ${2 * qps} (stock 20 / 30)`} and stock scheduler; started ${startedAt} on ${os.cpus().length} cores, load before ${load.join(", ")}`;
    process.stdout.write(`${settings}\n\n${table}\n`);
    const dir = path.join(repoRoot, "bench/results");
    mkdirSync(dir, { recursive: true });
    const stem = path.join(
        dir,
        `warm-${startedAt.slice(0, 10)}-${nodeCounts.join("-")}-nodes${qps === undefined ? "" : `-qps${qps}`}`,
    );
    writeFileSync(`${stem}.json`, JSON.stringify({ settings, startedAt, results }, null, 2) + "\n");
    writeFileSync(`${stem}.md`, `# Time to warm (npm run bench:warm)\n\n${settings}\n\n${table}\n`);
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
