/**
 * What `npm run bench` measures: the realistic profile (the default) and the quick one, as local
 * cluster flags (test/cluster/README.md) and the settings they change from a stock cluster, which
 * the results record.
 */
import { DEFAULT_HELPER_IMAGE, DEFAULT_PAUSE_IMAGE } from "../components/rules/inputs";

export type ProfileName = "realistic" | "quick";

/** The JupyterHub chart's awaiter image, which its hook Job runs (the z2jh peer starts it). */
export const AWAITER_IMAGE = "quay.io/jupyterhub/k8s-image-awaiter:4.4.0";

/**
 * Images every node holds before the bench starts, with their real sizes: the sandbox image every
 * pod already needs, the pre-puller's small helper and the chart's awaiter. Without them the first
 * measured run would also pull these (at notebook-image speed, since the simulator gives every
 * pull the same time) and pay for the runs after it.
 */
export const PRELOADED_IMAGES: Record<string, number> = {
    [DEFAULT_PAUSE_IMAGE]: 320_000,
    [DEFAULT_HELPER_IMAGE]: 2_200_000,
    [AWAITER_IMAGE]: 4_300_000,
};

/** The simulator's preloaded-images annotation value for PRELOADED_IMAGES ("ref=bytes,..."). */
export function preloadedImagesAnnotation(): string {
    return Object.entries(PRELOADED_IMAGES)
        .map(([ref, bytes]) => `${ref}=${bytes}`)
        .join(",");
}

export interface Profile {
    name: ProfileName;
    nodeCounts: number[];
    imageCounts: number[];
    /** Mean seconds per image pull before the time scale, and the jitter fraction around it. */
    pullSeconds: number;
    pullJitter: number;
    /** localcluster flags besides --nodes and the pull time. */
    clusterArgs: string[];
    /** How the cluster differs from upstream's defaults and a real kubelet, for the results. */
    changedFromStock: string[];
    /** The kubelet's image-list refresh and node-status periods the profile runs with, in seconds. */
    imageListRefreshSeconds: number;
    nodeStatusSeconds: number;
}

const shared = [
    `every node holds ${Object.keys(PRELOADED_IMAGES).join(", ")} before the first run (simulator preloaded-images annotation, real sizes)`,
    "pre-pulled images are chosen among synthetic sizes >= 1.9 GB (bench/images.ts), so that they rank among the 50 images a kubelet lists",
];

export const PROFILES: Record<ProfileName, Profile> = {
    realistic: {
        name: "realistic",
        nodeCounts: [100, 500, 2000],
        imageCounts: [1, 5],
        // 60 .. 300 s per image.
        pullSeconds: 180,
        pullJitter: 2 / 3,
        clusterArgs: ["--node-images", "30-50"],
        changedFromStock: [
            "image pulls take 60-300 s each (uniform), multiplied by --time-scale; pulls on a node are serialized as by the kubelet",
            "each node already holds 30-50 other images with realistic names and sizes 50 MB .. 2 GB",
            ...shared,
        ],
        imageListRefreshSeconds: 30,
        nodeStatusSeconds: 10,
    },
    quick: {
        name: "quick",
        nodeCounts: [10, 100, 500, 2000],
        imageCounts: [1, 5],
        pullSeconds: 3,
        pullJitter: 0.3,
        // The harness as the bench ran it until 2026-11-24: fast controllers and kubelet reports.
        clusterArgs: [
            "--image-list-refresh-seconds",
            "0.5",
            "--node-status-seconds",
            "0.5",
            "--controller-manager-arg=--kube-api-qps=500",
            "--controller-manager-arg=--kube-api-burst=1000",
            "--controller-manager-arg=--concurrent-daemonset-syncs=4",
            "--scheduler-arg=--kube-api-qps=500",
            "--scheduler-arg=--kube-api-burst=1000",
        ],
        changedFromStock: [
            "image pulls take 3 s +/- 30 %, multiplied by --time-scale",
            "the kubelet refreshes its image list and writes node status every 0.5 s (stock: 30 s and 10 s)",
            "kube-controller-manager at client QPS 500 / burst 1000 (stock 20 / 30) with 4 concurrent DaemonSet syncs (stock 2); kube-scheduler at QPS 500 / burst 1000 (stock 50 / 100)",
            "nodes hold no other images",
            ...shared,
        ],
        imageListRefreshSeconds: 0.5,
        nodeStatusSeconds: 0.5,
    },
};

/** The localcluster flags for one cluster of the profile. */
export function clusterArguments(profile: Profile, nodes: number, timeScale: number): string[] {
    return [
        "--nodes",
        String(nodes),
        "--pull-seconds",
        String(profile.pullSeconds * timeScale),
        "--pull-jitter",
        String(profile.pullJitter),
        ...profile.clusterArgs,
        // cluster.sh's wait for Ready nodes (2,000 nodes with their images take minutes on 2 cores).
        "--timeout",
        "1800",
    ];
}
