/** The shape of bench/results/latest.json. */
import type { Samples } from "./observer";
import type { StreamUsage } from "./run-one";
import type { UserPodStart } from "./user-pods";

/** The pre-pulls measured in one scenario: ours and the three peers a user would pick instead. */
export type Peer = "ours" | "seed" | "z2jh" | "z2jhFair" | "pulumiKubernetes";
export const PEERS: Peer[] = ["seed", "ours", "z2jh", "z2jhFair", "pulumiKubernetes"];
export const PEER_TITLES: Record<Peer, string> = {
    ours: "ours",
    seed: "seed (list nodes every 2 s)",
    z2jh: "z2jh awaiter (DaemonSet status every 1 s)",
    z2jhFair: "z2jh awaiter started after the DaemonSet's first status (as in a chart upgrade)",
    pulumiKubernetes: "@pulumi/kubernetes DaemonSet await",
};

/** One measured pre-pull and the user pods started after it. */
export interface PeerResult {
    /** Start to return (the hub could start now). */
    createSeconds: number;
    /**
     * Start to the end of the last image pull on any node: the physical floor. Null when no pull
     * had ended when the pre-pull returned (it returned before the images were there).
     */
    floorSeconds: number | null;
    /** Start to presence decided (before the pre-pull's cleanup); absent if never decided. */
    detectedSeconds?: number;
    /** Presence decided minus the floor (negative: the peer decided before every pull had ended). */
    detectionLatencySeconds?: number;
    apiRequests: number;
    apiBytes: number;
    /** Wire bytes (TLS included) until presence was decided. */
    apiBytesWaiting: number;
    /** The component's peak RSS (for pulumiKubernetes: the kubernetes provider plugin's). */
    peakRssMb: number;
    peakMemoryMb: Record<string, number>;
    /** DaemonSet created to its last pod created, as a watcher saw them: the DaemonSet controller's share. */
    podCreationFloorSeconds?: number;
    /**
     * Seconds from this pre-pull's start to its DaemonSet's creation, the DaemonSet controller's
     * first status write, and the first status with every pod ready (a status-reading awaiter's
     * earliest end), as a watcher in the bench's parent process saw them; absent if never seen.
     */
    daemonSet: { createdSeconds?: number; firstStatusSeconds?: number; allReadySeconds?: number };
    apiStreams: Record<string, StreamUsage>;
    apiStreamsAtDetection: Record<string, StreamUsage>;
    /** The apiserver's own metrics, after minus before (all clients, see ./observer). */
    apiserverDelta: Samples;
    /** One user pod per node right after this pre-pull. */
    userPods: UserPodStart;
    /**
     * Image pulls the simulator started while those user pods started: 0 when the pre-pull covered
     * every node. After an early return it also counts pre-pull pods still starting their pulls.
     */
    pullsDuringUserPods: number;
    userPodStartP50Seconds: number | null;
    userPodStartP99Seconds: number | null;
    /** Peer-specific figures (upSeconds, destroySeconds, awaiterStartSeconds, ...). */
    extra: Record<string, number>;
    error?: string;
}

export interface BenchRecord extends PeerResult {
    profile: string;
    timeScale: number;
    nodes: number;
    images: number;
    maxParallelNodes?: number;
    /** NODE_OPTIONS of the measured processes (V8 heap flags change the peak RSS), if any. */
    nodeOptions?: string;
    /** 1-, 5- and 15-minute load averages when the scenario started (the machine is shared). */
    loadAverage: number[];
    /** The order the pre-pulls ran in. */
    order: Peer[];
    /** Ours' peak RSS (the same as peakRssMb). */
    providerPeakRssMb: number;
    /**
     * One user pod per node with an image no node holds (no pre-pull), and with an image every node
     * has held since it started (the harness's own pod start time), on the quiet cluster before the
     * first scenario of this size: the same for every image count.
     */
    cold?: UserPodStart;
    coldUserPodStartP50Seconds?: number | null;
    coldUserPodStartP99Seconds?: number | null;
    warm?: UserPodStart;
    warmUserPodStartP50Seconds?: number | null;
    warmUserPodStartP99Seconds?: number | null;
    baselines: Partial<Record<Exclude<Peer, "ours">, PeerResult>>;
}

export interface RunInfo {
    date: string;
    /** What `npm run bench` was asked for. */
    arguments: string[];
    profile: string;
    /** The time scales of its scenarios (runs before 2026-12-07 had one, `timeScale`). */
    timeScales?: number[];
    timeScale?: number;
    nodeOptions?: string;
    /** The apiserver's version and the feature gates that change what it sends. */
    apiserver?: { version: string; featureGates: Record<string, boolean> };
    /** The commit measured, and the files that differed from it in components/ (the product). */
    commit: string;
    uncommittedProductFiles: string[];
    /** `uptime` before the run: the machine is shared, so its load is part of the result. */
    uptimeBefore: string;
    /** Scenarios (NODESxIMAGES@TIMESCALE) this run measured again, whose earlier records it replaced. */
    replaced?: string[];
    /** Peak RSS of a process that only loads the provider and @kubernetes/client-node. */
    moduleFloorRssMb: number;
    /** Wall time of the whole run, once it ended. */
    wallSeconds?: number;
    /** localcluster flags per cluster size, and how the harness differs from stock. */
    harness: {
        clusterArguments: Record<string, string[]>;
        changedFromStock: string[];
        /** The simulator's settings as it reported them (simulator.json) for the first cluster. */
        simulator?: Record<string, unknown>;
    };
}

export interface BenchResults {
    machine: string;
    date?: string;
    runs: RunInfo[];
    records: BenchRecord[];
}
