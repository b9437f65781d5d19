/**
 * The local cluster for integration and end-to-end tests: started once per test process (on
 * first use) through test/cluster/cluster.sh, and stopped by the root hook in ./hooks.ts.
 * If it cannot be built or started, the tests that need it fail with the reason: never skip.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

const run = promisify(execFile);
/** The repository root: the nearest directory above with package.json (this file also runs compiled, from dist/). */
export const repoRoot = (() => {
    let dir = __dirname;
    while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    return dir;
})();
const clusterScript = path.join(repoRoot, "test/cluster/cluster.sh");

/** The simulator's steering annotations (test/cluster/README.md); all but `evict` go on nodes. */
export const SIM = {
    ready: "simulator.prepuller.test/ready",
    pullSeconds: "simulator.prepuller.test/pull-seconds",
    imageListRefreshSeconds: "simulator.prepuller.test/image-list-refresh-seconds",
    nodeStatusSeconds: "simulator.prepuller.test/node-status-seconds",
    /** The kubelet's nodeStatusReportFrequency: an unchanged status is written this often. */
    nodeStatusReportSeconds: "simulator.prepuller.test/node-status-report-seconds",
    unpullable: "simulator.prepuller.test/unpullable",
    /** These images fail to pull with a registry's rate-limit answer (429 toomanyrequests). */
    rateLimited: "simulator.prepuller.test/rate-limited",
    noShell: "simulator.prepuller.test/no-shell",
    privateImages: "simulator.prepuller.test/private-images",
    preloadedImages: "simulator.prepuller.test/preloaded-images",
    heartbeat: "simulator.prepuller.test/heartbeat",
    /** The runtime cannot create pod sandboxes on this node; the value is its error. */
    sandboxError: "simulator.prepuller.test/sandbox-error",
    /** The node's pods capacity (the kubelet's maxPods, default 110); "0" makes a full node. */
    maxPods: "simulator.prepuller.test/max-pods",
    /** "false": the kubelet's serializeImagePulls: false (different pods' pulls run at once). */
    serializeImagePulls: "simulator.prepuller.test/serialize-image-pulls",
    /** The kubelet's maxParallelImagePulls (with serializeImagePulls: false); unset: unbounded. */
    maxParallelImagePulls: "simulator.prepuller.test/max-parallel-image-pulls",
    /** How many lone pulls' speed the node's link carries (default 1: concurrent pulls share it). */
    pullBandwidth: "simulator.prepuller.test/pull-bandwidth",
    /** On a pod: the kubelet evicts it (phase Failed, reason Evicted) with this message. */
    evict: "simulator.prepuller.test/evict",
};

/**
 * Made faster for tests that are not about the kubelet's timing: the kubelet refreshes its image
 * list every 30 s and writes node status every 10 s; these nodes do both every 0.5 s.
 */
export const FAST_STATUS = { [SIM.imageListRefreshSeconds]: "0.5", [SIM.nodeStatusSeconds]: "0.5" };

/** FAST_STATUS and pulls of 0.3 s, for tests about anything but time. */
export const FAST_PULL = { [SIM.pullSeconds]: "0.3", ...FAST_STATUS };

/** registry.json of a cluster started with --real-nodes: the harness's own registry and its images. */
export interface LocalRegistry {
    address: string;
    username: string;
    password: string;
    caFile: string;
    images: { public: string; private: string; noShell: string; pause: string };
}

export interface TestCluster {
    dir: string;
    kubeconfigPath: string;
    kubeconfig: string;
    lib: typeof k8s;
    kc: k8s.KubeConfig;
    core: k8s.CoreV1Api;
    apps: k8s.AppsV1Api;
    /** With real nodes only. */
    registry?: LocalRegistry;
}

let started: Promise<TestCluster> | undefined;
let startedDir: string | undefined;

export function sharedCluster(): Promise<TestCluster> {
    started ??= startCluster();
    return started;
}

/** Clusters this process started and has not stopped: an interrupted run still stops them. */
const running = new Set<string>();
let signalsHooked = false;

/** An interrupted test run (Ctrl-C, a CI timeout's SIGTERM) still stops the clusters it started. */
function stopOnSignals(dir: string): void {
    running.add(dir);
    if (signalsHooked) return;
    signalsHooked = true;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
            for (const d of running) {
                execFileSync("bash", [clusterScript, "down"], {
                    env: { ...process.env, PREPULLER_CLUSTER_DIR: d },
                    stdio: "ignore",
                });
            }
            process.exit(130);
        });
    }
}

async function startCluster(): Promise<TestCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), "prepuller-test-cluster-"));
    rmSync(dir, { recursive: true, force: true });
    startedDir = dir;
    stopOnSignals(dir);
    return startClusterIn(dir);
}

/** The node run by a real kubelet and containerd in a cluster started with --real-nodes 1. */
export const REAL_NODE = "real-node-1";
/** The taint the real node registers with, so that no test's pods land there by accident. */
export const REAL_NODE_TOLERATION = { key: "prepuller.test/real-node", operator: "Exists", effect: "NoSchedule" };

/**
 * A cluster of its own, for a test that must not disturb the shared one (it restarts the control
 * plane, say). The caller stops it with `stopCluster`.
 */
export async function privateCluster(args: string[] = DEFAULT_ARGS): Promise<TestCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), "prepuller-private-cluster-"));
    rmSync(dir, { recursive: true, force: true });
    stopOnSignals(dir);
    return startClusterIn(dir, args);
}

/**
 * A private cluster whose only node is the real kubelet's (REAL_NODE), with the local registry;
 * `args` adds localcluster flags (`--kubelet-config`, `--kubelet-arg`, `--registry-blob-delay`).
 */
export async function realNodeCluster(args: string[] = []): Promise<TestCluster> {
    return privateCluster(["--nodes", "0", "--real-nodes", "1", ...args]);
}

export async function stopCluster(cluster: TestCluster): Promise<void> {
    running.delete(cluster.dir);
    await run("bash", [clusterScript, "down"], { env: { ...process.env, PREPULLER_CLUSTER_DIR: cluster.dir } });
}

/**
 * Kills the whole control plane (kube-apiserver, etcd, controllers, scheduler, simulated kubelets)
 * with SIGKILL and starts it again on the same port, certificates and etcd data: what clients see
 * when a single-node control plane crashes and comes back. Resolves when it is usable again.
 */
export async function restartControlPlane(cluster: TestCluster): Promise<void> {
    await run("bash", [clusterScript, "restart"], { env: { ...process.env, PREPULLER_CLUSTER_DIR: cluster.dir } });
}

/** The shared test cluster: one simulated node to start with; each test adds its own. */
const DEFAULT_ARGS = ["--nodes", "1", "--pull-seconds", "0.5"];

/**
 * Starts a cluster in `dir` with `cluster.sh up` flags (see test/cluster/README.md); the caller
 * stops it with `stopCluster` (or the signal handlers do).
 */
export async function startClusterIn(dir: string, args: string[] = DEFAULT_ARGS): Promise<TestCluster> {
    let stdout: string;
    try {
        ({ stdout } = await run("bash", [clusterScript, "up", ...args], {
            env: { ...process.env, PREPULLER_CLUSTER_DIR: dir },
            maxBuffer: 64 * 1024 * 1024,
        }));
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`the local cluster could not be started: ${err.message}\n${(err.stderr ?? "").slice(-4000)}`);
    }
    const kubeconfigPath = stdout.trim().split("\n").pop()!.trim();
    const kubeconfig = readFileSync(kubeconfigPath, "utf8");
    const registryFile = path.join(dir, "registry.json");
    const registry = existsSync(registryFile)
        ? (JSON.parse(readFileSync(registryFile, "utf8")) as LocalRegistry)
        : undefined;
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(kubeconfig);
    return {
        dir,
        kubeconfigPath,
        kubeconfig,
        lib,
        kc,
        core: kc.makeApiClient(lib.CoreV1Api),
        apps: kc.makeApiClient(lib.AppsV1Api),
        registry,
    };
}

export async function stopSharedCluster(): Promise<void> {
    if (!startedDir) return;
    const dir = startedDir;
    startedDir = undefined;
    running.delete(dir);
    started = undefined;
    await run("bash", [clusterScript, "down"], { env: { ...process.env, PREPULLER_CLUSTER_DIR: dir } }).catch(
        (e: Error) => {
            console.error(`cluster.sh down failed: ${e.message}`);
        },
    );
}
