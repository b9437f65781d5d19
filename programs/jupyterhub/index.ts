/**
 * A JupyterHub-style stack: the user images are pre-pulled onto the user nodes before the hub
 * (re)starts, so the first user server on every node starts in seconds. Images and scheduling are
 * written once, as the values of the Zero to JupyterHub chart, and the pre-puller derives its
 * arguments from them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { fromJupyterHubValues, ImagePrePuller } from "../../components";

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const namespace = config.get("namespace") ?? "jhub";
const hubImage = config.get("hubImage") ?? "quay.io/jupyterhub/k8s-hub:4.4.0";
const [hubRepository, hubTag] = hubImage.split(/:(?=[^:/]+$)/);

/** The chart's values, as a stack would pass them to `k8s.helm.v3.Release`; `jupyterhubValues` replaces them. */
const values = config.getObject<Record<string, unknown>>("jupyterhubValues") ?? {
    singleuser: {
        image: { name: "quay.io/jupyterhub/k8s-singleuser-sample", tag: "4.4.0" },
        profileList: [
            { display_name: "Minimal", default: true },
            { display_name: "SciPy", kubespawner_override: { image: "quay.io/jupyter/scipy-notebook:2025-03-14" } },
            {
                display_name: "Data science",
                kubespawner_override: { image: "quay.io/jupyter/datascience-notebook:2025-03-14" },
            },
        ],
    },
    scheduling: { userPods: { nodeAffinity: { matchNodePurpose: "require" } } },
    prePuller: {
        hook: { enabled: false }, // the ImagePrePuller gates the hub instead of the chart's hook
        // In this small cluster the hub runs on the user nodes too: pre-pull its image with theirs.
        extraImages: { hub: { name: hubRepository, tag: hubTag } },
    },
};
const prePullArgs = fromJupyterHubValues(values, { releaseName: "jhub" });

const cluster = new k8s.Provider("cluster", { kubeconfig });
const ns = new k8s.core.v1.Namespace("namespace", { metadata: { name: namespace } }, { provider: cluster });

// `prePuller: false` deploys the same stack without the component (bench/noop-up.ts compares the two).
const withPrePuller = config.getBoolean("prePuller") ?? true;

const prePuller = withPrePuller
    ? new ImagePrePuller(
          "user-images",
          {
              ...prePullArgs,
              namespace,
              // The pre-pull reads its own copy of the credentials the provider uses (same cluster).
              kubeconfig,
              timeoutSeconds: config.getNumber("timeoutSeconds") ?? 600,
              // Nodes that join later (autoscaling) pull the images on arrival, too.
              continuous: config.getBoolean("continuous") ?? false,
              maxParallelNodes: config.getNumber("maxParallelNodes"),
          },
          { dependsOn: [ns], providers: [cluster] },
      )
    : undefined;

const labels = { app: "jupyterhub", component: "hub" };
const hub = new k8s.apps.v1.Deployment(
    "hub",
    {
        metadata: { name: "hub", namespace, labels },
        spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    nodeSelector: prePullArgs.nodeSelector,
                    tolerations: prePullArgs.tolerations,
                    affinity: prePullArgs.affinity,
                    containers: [{ name: "hub", image: hubImage, ports: [{ containerPort: 8081 }] }],
                },
            },
        },
    },
    { provider: cluster, dependsOn: [prePuller ?? ns] },
);

export const images = prePuller?.images ?? [];
export const nodes = prePuller?.nodes ?? [];
export const skipped = prePuller?.skipped ?? false;
export const durationSeconds = prePuller?.durationSeconds ?? 0;
export const missingNodes = prePuller?.missingNodes ?? {};
// What each image's pull cost, and the slowest nodes (for sizing timeoutSeconds and maxParallelNodes).
export const pullReport = prePuller?.pullReport ?? { images: {}, slowestNodes: [] };
export const hubDeployment = pulumi.interpolate`${hub.metadata.namespace}/${hub.metadata.name}`;
// Empty without continuous mode (an undefined stack output draws a warning on every run).
export const continuousDaemonSet = pulumi.output(prePuller?.continuousDaemonSet).apply((name) => name ?? "");
