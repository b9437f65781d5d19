/**
 * `npm run bench [-- options]`: what a pre-pull costs and what it buys, on the local cluster, ours
 * beside the pre-pulls a user would pick instead, all measured in the same run:
 *
 *   --profile realistic|quick   realistic (default): 100, 500, 2,000 nodes x 1, 5 images; nodes
 *                               that already hold 30-50 images; pulls of 60-300 s; a stock
 *                               controller-manager and kubelet timings. quick: the scenarios the
 *                               bench ran until 2026-11-24 (3 s pulls, fast controllers).
 *   --time-scale F[,F...]       multiplies every pull time (recorded), so a run fits the machine;
 *                               several: every size at each
 *   --nodes 100,500 --images 1  a subset of the profile's sizes
 *   --scenarios 500x1@1,2000x5@0.05   exactly these scenarios (nodes x images @ time scale), in
 *                               one run, instead of the three options above
 *   --peers ours,seed           a subset of ours, seed, z2jh, z2jhFair, pulumiKubernetes
 *   --max-parallel N            ours with maxParallelNodes
 *   --engine-memory N           at scenarios of N nodes or more, also ours in a real `pulumi up`:
 *                               the dynamic-provider process's peak RSS
 *   --append                    adds this run's scenarios to latest.json instead of replacing them;
 *                               a scenario measured again replaces its earlier record (the run
 *                               says which it replaced)
 *   --render-only               rewrites latest.md, latest.svg and the README's results from latest.json
 *
 * Writes bench/results/latest.{json,md,svg} and the results part of README.md's Benchmarks section.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as pause } from "node:timers/promises";
import { parseArgs, promisify } from "node:util";
import { daemonSetName } from "../components/rules/daemonset";
import { prePullProvider } from "../components/pulumi/provider";
import { DEFAULT_PAUSE_IMAGE, type PrePullInputs } from "../components/rules/inputs";
import { privateCluster, repoRoot, SIM, stopCluster, type TestCluster } from "../harness/cluster";
import { sharedEngine, stopSharedEngine } from "../harness/engine";
import { waitFor } from "../harness/scenario";
import { benchImages } from "./images";
import {
    apiserverMetrics,
    apiserverVersion,
    delta,
    featureGates,
    FEATURE_GATES,
    observeCreations,
    simulatorMetrics,
    type DaemonSetTimes,
    type Observed,
} from "./observer";
import type { EngineSettings } from "./peers/pulumi-kubernetes";
import { clusterArguments, preloadedImagesAnnotation, PROFILES, type Profile, type ProfileName } from "./profiles";
import { save } from "./report";
import { PEERS, type BenchRecord, type BenchResults, type Peer, type PeerResult, type RunInfo } from "./results-model";
import type { Measured, Mode } from "./run-one";
import { runOne } from "./run-one-process";
import type { UserPodStart, UserPodsInputs } from "./user-pods";

const run = promisify(execFile);
const resultsDir = path.join(repoRoot, "bench", "results");
const readmePath = path.join(repoRoot, "README.md");
const NAMESPACE = "default";
const MODES: Record<Peer, Mode> = {
    ours: "ours",
    seed: "seed",
    z2jh: "z2jh",
    z2jhFair: "z2jh-fair",
    pulumiKubernetes: "pulumi-kubernetes",
};

interface Bench {
    profile: Profile;
    timeScale: number;
    peers: Peer[];
    maxParallelNodes?: number;
    /** From this many nodes on, ours also runs in a real `pulumi up` (its provider process's memory). */
    engineMemoryNodes?: number;
    /** Makes this run's image tags and pod names unique. */
    runId: string;
    engine?: EngineSettings;
}

interface ClusterUnderTest {
    cluster: TestCluster;
    /** When the preloaded images will be in every node's status. */
    preloadReportedAt: number;
    metricsUrl: string;
    nodeNames: string[];
    creations: Observed;
}

/** The longest a pre-pull of `images` may take before it counts as failed: generous, it only bounds a hang. */
function timeoutSeconds(bench: Bench, nodes: number, images: number): number {
    const { profile } = bench;
    const pulls = images * profile.pullSeconds * (1 + profile.pullJitter) * bench.timeScale;
    const reports = profile.imageListRefreshSeconds + profile.nodeStatusSeconds;
    // The stock DaemonSet controller creates about 20 pods a second.
    return Math.ceil(3 * (pulls + reports + nodes / 20) + 300);
}

function secondsAfter(start: number, times: DaemonSetTimes): PeerResult["daemonSet"] {
    const after = (at: number | undefined) => (at === undefined ? undefined : (at - start) / 1000);
    return {
        createdSeconds: after(times.createdAt),
        firstStatusSeconds: after(times.firstStatusAt),
        allReadySeconds: after(times.allReadyAt),
    };
}

function finite(value: number): number | null {
    return Number.isFinite(value) ? value : null;
}

async function inBatches<T>(items: T[], parallel: number, work: (item: T) => Promise<unknown>): Promise<void> {
    const queue = [...items];
    await Promise.all(
        Array.from({ length: parallel }, async () => {
            for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
        }),
    );
}

/**
 * Gives every node the images all pre-pulls need besides the pre-pulled ones (profiles.ts says
 * why); returns when the kubelets will have reported them (image list refresh, then status).
 */
async function preloadImages(under: ClusterUnderTest, profile: Profile): Promise<number> {
    const { lib, core } = under.cluster;
    const value = preloadedImagesAnnotation();
    await inBatches(under.nodeNames, 16, (name) =>
        core.patchNode(
            { name, body: { metadata: { annotations: { [SIM.preloadedImages]: value } } } },
            lib.setHeaderOptions("Content-Type", lib.PatchStrategy.MergePatch),
        ),
    );
    return Date.now() + (profile.imageListRefreshSeconds + profile.nodeStatusSeconds + 2) * 1000;
}

const benchStarted = Date.now();

/** Progress on stderr, with the minutes since the start (where a long run's time goes). */
function log(line: string): void {
    const seconds = Math.round((Date.now() - benchStarted) / 1000);
    console.error(`bench [${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}]: ${line}`);
}

/** Removes what the last pre-pull and its user pods left: DaemonSets, Jobs, then every pod at once. */
async function clearNamespace(under: ClusterUnderTest): Promise<void> {
    const { kc, lib, core, apps } = under.cluster;
    const batch = kc.makeApiClient(lib.BatchV1Api);
    await apps.deleteCollectionNamespacedDaemonSet({ namespace: NAMESPACE, propagationPolicy: "Background" });
    await batch.deleteCollectionNamespacedJob({ namespace: NAMESPACE, propagationPolicy: "Background" });
    // One request deletes every pod; with 10,000 pods (5,000 nodes) it outlasted the client's
    // timeout ("fetch failed") on 2026-12-07. What it deleted stays deleted: ask again until one
    // request finishes (waitForQuiet then waits for the rest to go).
    for (let attempt = 1; ; attempt++) {
        try {
            await core.deleteCollectionNamespacedPod({ namespace: NAMESPACE, gracePeriodSeconds: 0 });
            return;
        } catch (e) {
            if (attempt >= 10) throw e;
            log(`deleting the namespace's pods: ${(e as Error).message}; asking again (${attempt})`);
        }
    }
}

/**
 * Waits until nothing of earlier runs is left in the namespace; with `settled`, also until every
 * node has reported the images pulled so far (image list refresh plus status period after the last
 * pull), so that no earlier run's node-status writes reach a node watch measured next.
 */
async function waitForQuiet(under: ClusterUnderTest, profile: Profile, settled: boolean): Promise<void> {
    const { kc, lib, core, apps } = under.cluster;
    const batch = kc.makeApiClient(lib.BatchV1Api);
    await waitFor(
        async () => {
            const [pods, daemonSets, jobs] = await Promise.all([
                core.listNamespacedPod({ namespace: NAMESPACE, limit: 1 }),
                apps.listNamespacedDaemonSet({ namespace: NAMESPACE, limit: 1 }),
                batch.listNamespacedJob({ namespace: NAMESPACE, limit: 1 }),
            ]);
            return pods.items.length + daemonSets.items.length + jobs.items.length === 0;
        },
        `namespace ${NAMESPACE} empty`,
        15 * 60_000,
    );
    if (!settled) return;
    const lastPull = (await simulatorMetrics(under.metricsUrl)).lastPullCompletedUnixNano / 1e6;
    const reported = lastPull + (profile.imageListRefreshSeconds + profile.nodeStatusSeconds + 1) * 1000;
    if (reported > Date.now()) await pause(reported - Date.now());
}

async function userPods(
    under: ClusterUnderTest,
    bench: Bench,
    round: string,
    images: string[],
): Promise<{ start: UserPodStart; pulls: number }> {
    const before = await simulatorMetrics(under.metricsUrl);
    const inputs: UserPodsInputs = {
        kubeconfig: under.cluster.kubeconfig,
        namespace: NAMESPACE,
        round,
        nodes: under.nodeNames,
        images,
        timeoutSeconds: timeoutSeconds(bench, under.nodeNames.length, 1),
    };
    const start = await runOne<UserPodStart>("user-pods", { userPods: inputs });
    const after = await simulatorMetrics(under.metricsUrl);
    return { start, pulls: after.pullsStarted - before.pullsStarted };
}

/** The DaemonSet each pre-pull creates, by the name it gives it. */
function daemonSetOf(peer: Peer, ownerId: string): string {
    const suffix: Record<Peer, string> = {
        ours: "",
        seed: "-seed",
        z2jh: "-z2jh",
        z2jhFair: "-z2jh",
        pulumiKubernetes: "-pk8s",
    };
    return peer === "ours" ? daemonSetName(ownerId) : `${ownerId}${suffix[peer]}`;
}

async function measurePeer(
    under: ClusterUnderTest,
    bench: Bench,
    peer: Peer,
    nodes: number,
    images: number,
): Promise<PeerResult> {
    const label = `${peer.toLowerCase()}-${nodes}x${images}-${bench.runId}`;
    const imageList = benchImages(label, images);
    const { inputs } = (await prePullProvider.check!(
        {},
        {
            images: imageList,
            namespace: NAMESPACE,
            kubeconfig: under.cluster.kubeconfig,
            timeoutSeconds: timeoutSeconds(bench, nodes, images),
            // The peers have no such limit: only ours is throttled.
            ...(peer === "ours" && bench.maxParallelNodes ? { maxParallelNodes: bench.maxParallelNodes } : {}),
        },
    )) as { inputs: PrePullInputs };
    const before = await apiserverMetrics(under.cluster.kc);
    const measured = await runOne<Measured>(MODES[peer], {
        inputs,
        engine: bench.engine,
        server: under.cluster.kc.getCurrentCluster()!.server,
    });
    const apiserver = delta(before, await apiserverMetrics(under.cluster.kc));
    const daemonSet = daemonSetOf(peer, String(inputs.ownerId));
    // Read at once: a pre-pull that returned early has its pods deleted, and their pulls never end.
    const lastPull = (await simulatorMetrics(under.metricsUrl)).lastPullCompletedUnixNano / 1e6;
    const floorAt = lastPull > measured.startedAt ? lastPull : undefined;
    if (measured.error) log(`${peer} failed: ${measured.error}`);
    const users = await userPods(under, bench, label, imageList);
    await clearNamespace(under);
    return {
        createSeconds: (measured.returnedAt - measured.startedAt) / 1000,
        detectedSeconds: measured.detectedAt ? (measured.detectedAt - measured.startedAt) / 1000 : undefined,
        floorSeconds: floorAt === undefined ? null : (floorAt - measured.startedAt) / 1000,
        detectionLatencySeconds:
            measured.detectedAt && floorAt !== undefined ? (measured.detectedAt - floorAt) / 1000 : undefined,
        apiRequests: measured.requests,
        apiBytes: measured.apiBytes,
        apiBytesWaiting: measured.apiBytesWaiting,
        peakRssMb: measured.peakRssMb,
        peakMemoryMb: measured.peakMemoryMb,
        podCreationFloorSeconds: under.creations.podCreationFloorSeconds(daemonSet),
        daemonSet: secondsAfter(measured.startedAt, under.creations.daemonSetTimes(daemonSet)),
        apiStreams: measured.streams,
        apiStreamsAtDetection: measured.streamsAtDetection,
        apiserverDelta: apiserver,
        userPods: users.start,
        pullsDuringUserPods: users.pulls,
        userPodStartP50Seconds: finite(users.start.scheduledToRunning.p50),
        userPodStartP99Seconds: finite(users.start.scheduledToRunning.p99),
        extra: measured.extra,
        error: measured.error,
    };
}

/** Ours in a real `pulumi up` of the component, with fresh images: the engine's figures only. */
async function oursInEngine(under: ClusterUnderTest, bench: Bench, nodes: number): Promise<Record<string, number>> {
    const label = `engine-${nodes}x1-${bench.runId}`;
    const { inputs } = (await prePullProvider.check!(
        {},
        {
            images: benchImages(label, 1),
            namespace: NAMESPACE,
            kubeconfig: under.cluster.kubeconfig,
            timeoutSeconds: timeoutSeconds(bench, nodes, 1),
        },
    )) as { inputs: PrePullInputs };
    const measured = await runOne<Measured>("ours-engine", { inputs, engine: bench.engine });
    if (measured.error) log(`ours in pulumi up failed: ${measured.error}`);
    await clearNamespace(under);
    return measured.extra;
}

interface Reference {
    warm: UserPodStart;
    cold: UserPodStart;
}

/**
 * User pods without a pre-pull, once per cluster: with an image no node holds (cold), then, once
 * the nodes have reported their preloaded images, with one every node holds (what pod start costs
 * in this harness).
 */
async function referenceUserPods(under: ClusterUnderTest, bench: Bench, reportedAt: number): Promise<Reference> {
    const size = under.nodeNames.length;
    log(`${size} nodes: user pods with an image no node holds, then with one every node holds`);
    const cold = await userPods(
        under,
        bench,
        `cold-${size}-${bench.runId}`,
        benchImages(`cold-${size}-${bench.runId}`, 1),
    );
    await clearNamespace(under);
    await waitForQuiet(under, bench.profile, false);
    if (reportedAt > Date.now()) await pause(reportedAt - Date.now());
    const warm = await userPods(under, bench, `warm-${size}-${bench.runId}`, [DEFAULT_PAUSE_IMAGE]);
    await clearNamespace(under);
    return { warm: warm.start, cold: cold.start };
}

async function scenario(
    under: ClusterUnderTest,
    bench: Bench,
    reference: Reference,
    nodes: number,
    images: number,
): Promise<BenchRecord> {
    const loadAverage = os.loadavg();
    const results: Partial<Record<Peer, PeerResult>> = {};
    for (const peer of bench.peers) {
        log(`${nodes} nodes x ${images} images: ${peer}`);
        // Only ours watches nodes: it starts once earlier pulls are all reported.
        await waitForQuiet(under, bench.profile, peer === "ours");
        results[peer] = await measurePeer(under, bench, peer, nodes, images);
        log(
            `${peer}: create ${results[peer].createSeconds.toFixed(1)} s, floor ${results[peer].floorSeconds?.toFixed(1)} s, user pod start p99 ${results[peer].userPodStartP99Seconds}`,
        );
    }
    const ours = results.ours!;
    if (bench.engineMemoryNodes !== undefined && nodes >= bench.engineMemoryNodes && images === 1) {
        log(`${nodes} nodes x 1 image: ours in a real pulumi up (its provider process's memory)`);
        await waitForQuiet(under, bench.profile, true);
        Object.assign(ours.extra, await oursInEngine(under, bench, nodes));
    }
    return {
        profile: bench.profile.name,
        timeScale: bench.timeScale,
        nodes,
        images,
        maxParallelNodes: bench.maxParallelNodes,
        nodeOptions: process.env.NODE_OPTIONS || undefined,
        loadAverage,
        order: bench.peers,
        ...ours,
        providerPeakRssMb: ours.peakRssMb,
        cold: reference.cold,
        coldUserPodStartP50Seconds: finite(reference.cold.scheduledToRunning.p50),
        coldUserPodStartP99Seconds: finite(reference.cold.scheduledToRunning.p99),
        warm: reference.warm,
        warmUserPodStartP50Seconds: finite(reference.warm.scheduledToRunning.p50),
        warmUserPodStartP99Seconds: finite(reference.warm.scheduledToRunning.p99),
        baselines: {
            seed: results.seed,
            z2jh: results.z2jh,
            z2jhFair: results.z2jhFair,
            pulumiKubernetes: results.pulumiKubernetes,
        },
    };
}

async function startCluster(bench: Bench, nodes: number, args: string[]): Promise<ClusterUnderTest> {
    log(`starting a cluster with ${nodes} simulated nodes: ${args.join(" ")}`);
    const cluster = await privateCluster(args);
    try {
        const simulator = JSON.parse(readFileSync(path.join(cluster.dir, "simulator.json"), "utf8")) as {
            metricsURL: string;
        };
        const nodeNames = (await cluster.core.listNode()).items.map((n) => n.metadata!.name!);
        const under: ClusterUnderTest = {
            cluster,
            metricsUrl: simulator.metricsURL,
            nodeNames,
            creations: await observeCreations(cluster.lib, cluster.kc, NAMESPACE),
            preloadReportedAt: 0,
        };
        under.preloadReportedAt = await preloadImages(under, bench.profile);
        return under;
    } catch (e) {
        await stopCluster(cluster);
        throw e;
    }
}

interface PlannedCluster {
    nodes: number;
    timeScale: number;
    imageCounts: number[];
}

/** The clusters to start, in order, from --scenarios or from --nodes, --images and --time-scale. */
function plannedClusters(
    values: { scenarios?: string; nodes?: string; images?: string; "time-scale"?: string },
    profile: Profile,
): PlannedCluster[] {
    const positive = (text: string, what: string) => {
        const value = Number(text);
        if (!(value > 0)) throw new Error(`${what} must be a positive number, got ${text}`);
        return value;
    };
    const clusters: PlannedCluster[] = [];
    const add = (nodes: number, images: number, timeScale: number) => {
        const cluster = clusters.find((c) => c.nodes === nodes && c.timeScale === timeScale);
        if (cluster) cluster.imageCounts.push(images);
        else clusters.push({ nodes, timeScale, imageCounts: [images] });
    };
    if (values.scenarios) {
        for (const spec of values.scenarios.split(",")) {
            const match = /^(\d+)x(\d+)@([\d.]+)$/.exec(spec.trim());
            if (!match) throw new Error(`--scenarios: "${spec}" is not NODESxIMAGES@TIMESCALE (e.g. 500x1@0.05)`);
            add(Number(match[1]), Number(match[2]), positive(match[3]!, "--scenarios' time scale"));
        }
        return clusters;
    }
    // Each takes one number or a comma-separated list: --nodes 10,100 --images 1,5.
    const list = (text: string | undefined, fallback: number[]) => (text ? text.split(",").map(Number) : fallback);
    const scales = (values["time-scale"] ?? "1").split(",").map((t) => positive(t, "--time-scale"));
    for (const timeScale of scales) {
        for (const nodes of list(values.nodes, profile.nodeCounts)) {
            for (const images of list(values.images, profile.imageCounts)) add(nodes, images, timeScale);
        }
    }
    return clusters;
}

/** The apiserver's version and the feature gates that change what it sends (its own metrics say). */
async function apiserverIdentity(kc: TestCluster["kc"]): Promise<RunInfo["apiserver"]> {
    const version = await apiserverVersion(kc);
    const gates = await featureGates(kc, FEATURE_GATES);
    return { version, featureGates: gates };
}

/**
 * With --append, a scenario measured again (same profile, size, images, time scale and settings)
 * replaces its earlier record once the new one exists, so that every row has one measurement;
 * the run lists what it replaced.
 */
function replaceScenario(records: BenchRecord[], record: BenchRecord, run: RunInfo): void {
    const same = (r: BenchRecord) =>
        r.profile === record.profile &&
        r.nodes === record.nodes &&
        r.images === record.images &&
        r.timeScale === record.timeScale &&
        r.maxParallelNodes === record.maxParallelNodes &&
        r.nodeOptions === record.nodeOptions;
    for (let i = records.length - 1; i >= 0; i--) {
        if (!same(records[i]!)) continue;
        records.splice(i, 1);
        (run.replaced ??= []).push(`${record.nodes}x${record.images}@${record.timeScale}`);
    }
}

function readResults(): BenchResults {
    return JSON.parse(readFileSync(path.join(resultsDir, "latest.json"), "utf8")) as BenchResults;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            profile: { type: "string", default: "realistic" },
            "time-scale": { type: "string", default: "1" },
            scenarios: { type: "string" },
            nodes: { type: "string" },
            images: { type: "string" },
            peers: { type: "string" },
            "max-parallel": { type: "string" },
            "engine-memory": { type: "string" },
            append: { type: "boolean", default: false },
            "render-only": { type: "boolean", default: false },
        },
    });
    if (values["render-only"]) {
        const saved = readResults();
        save(resultsDir, saved.records, saved.runs, readmePath);
        return;
    }
    const profile = PROFILES[values.profile as ProfileName];
    if (!profile) throw new Error(`--profile must be one of ${Object.keys(PROFILES).join(", ")}`);
    const clusters = plannedClusters(values, profile);
    const timeScales = [...new Set(clusters.map((c) => c.timeScale))];
    const peers = values.peers ? (values.peers.split(",") as Peer[]) : PEERS;
    const unknown = peers.filter((p) => !PEERS.includes(p));
    if (unknown.length > 0) throw new Error(`--peers: unknown ${unknown.join(", ")}; known: ${PEERS.join(", ")}`);
    if (!peers.includes("ours")) throw new Error("--peers must include ours");
    const bench: Bench = {
        profile,
        timeScale: timeScales[0]!,
        // The order of PEERS: the seed first, so that it never meets nodes with more images than ours.
        peers: PEERS.filter((p) => peers.includes(p)),
        maxParallelNodes: values["max-parallel"] ? Number(values["max-parallel"]) : undefined,
        engineMemoryNodes: values["engine-memory"] ? Number(values["engine-memory"]) : undefined,
        runId: Date.now().toString(36),
    };

    const previous = values.append ? readResults() : { runs: [], records: [] };
    const records: BenchRecord[] = [...previous.records];
    const runInfo: RunInfo = {
        date: new Date().toISOString(),
        arguments: process.argv.slice(2),
        profile: profile.name,
        timeScales,
        nodeOptions: process.env.NODE_OPTIONS || undefined,
        commit: (await run("git", ["rev-parse", "HEAD"], { cwd: repoRoot })).stdout.trim(),
        uncommittedProductFiles: (await run("git", ["status", "--short", "components"], { cwd: repoRoot })).stdout
            .split("\n")
            .filter(Boolean),
        uptimeBefore: (await run("uptime")).stdout.trim(),
        moduleFloorRssMb: (await runOne<Measured>("idle", {})).peakRssMb,
        harness: {
            clusterArguments: Object.fromEntries(
                clusters.map((c) => [`${c.nodes}@${c.timeScale}`, clusterArguments(profile, c.nodes, c.timeScale)]),
            ),
            changedFromStock: profile.changedFromStock,
        },
    };
    const runs: RunInfo[] = [...previous.runs, runInfo];
    if (bench.peers.includes("pulumiKubernetes") || bench.engineMemoryNodes !== undefined) {
        const engine = await sharedEngine();
        // PulumiCommand.get wants the installation root, the directory above bin/pulumi.
        bench.engine = { envVars: engine.envVars, cliRoot: path.dirname(path.dirname(engine.command.command)) };
    }
    try {
        for (const { nodes, timeScale, imageCounts } of clusters) {
            bench.timeScale = timeScale;
            const args = clusterArguments(profile, nodes, timeScale);
            const under = await startCluster(bench, nodes, args);
            runInfo.harness.simulator ??= JSON.parse(
                readFileSync(path.join(under.cluster.dir, "simulator.json"), "utf8"),
            ) as Record<string, unknown>;
            runInfo.apiserver ??= await apiserverIdentity(under.cluster.kc);
            try {
                const reference = await referenceUserPods(under, bench, under.preloadReportedAt);
                for (const images of imageCounts) {
                    const record = await scenario(under, bench, reference, nodes, images);
                    replaceScenario(records, record, runInfo);
                    records.push(record);
                    save(resultsDir, records, runs, readmePath);
                }
            } finally {
                under.creations.stop();
                await stopCluster(under.cluster);
            }
        }
        runInfo.wallSeconds = (Date.now() - benchStarted) / 1000;
        save(resultsDir, records, runs, readmePath);
    } finally {
        await stopSharedEngine();
    }
    console.log(readFileSync(path.join(resultsDir, "latest.md"), "utf8"));
}

main().catch((e: Error) => {
    console.error(e.stack);
    process.exit(1);
});
