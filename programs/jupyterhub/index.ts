/**
 * A JupyterHub-style stack: user images are pre-pulled onto the user nodes before the hub
 * (re)starts, so the first user server on every node starts in seconds.
 */
import * as pulumi from "@pulumi/pulumi";
import { ImagePrePuller } from "../../components";
import { KubernetesObject } from "./kubernetes-object";

const config = new pulumi.Config();
const continuous = config.getBoolean("continuous") ?? false;
const kubeconfig = config.getSecret("kubeconfig");
const namespace = config.get("namespace") ?? "jhub";
const userImages = config.getObject<string[]>("images") ?? [
    "quay.io/jupyterhub/k8s-singleuser-sample:4.1.0",
    "quay.io/jupyter/scipy-notebook:2025-03-14",
    "quay.io/jupyter/datascience-notebook:2025-03-14",
];

const ns = new KubernetesObject("namespace", {
    kubeconfig,
    manifest: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
});

// JupyterHub's user-node scheduling: user pods tolerate the dedicated taint and select user nodes.
const userScheduling = {
    nodeSelector: { "hub.jupyter.org/node-purpose": "user" },
    tolerations: [{ key: "hub.jupyter.org/dedicated", operator: "Equal", value: "user", effect: "NoSchedule" }],
};

// `prePuller: false` deploys the same stack without the component (bench/noop-up.ts compares the two).
const withPrePuller = config.getBoolean("prePuller") ?? true;

const prePuller = withPrePuller
    ? new ImagePrePuller(
          "user-images",
          {
              images: userImages,
              namespace,
              ...userScheduling,
              kubeconfig,
              timeoutSeconds: config.getNumber("timeoutSeconds") ?? 600,
              // Nodes that join later (autoscaling) pull the images on arrival, too.
              continuous,
              maxParallelNodes: config.getNumber("maxParallelNodes"),
          },
          { dependsOn: [ns] },
      )
    : undefined;

const hub = new KubernetesObject(
    "hub",
    {
        kubeconfig,
        manifest: {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "hub", namespace, labels: { app: "jupyterhub", component: "hub" } },
            spec: {
                replicas: 1,
                selector: { matchLabels: { app: "jupyterhub", component: "hub" } },
                template: {
                    metadata: { labels: { app: "jupyterhub", component: "hub" } },
                    spec: {
                        containers: [
                            {
                                name: "hub",
                                image: "quay.io/jupyterhub/k8s-hub:4.1.0",
                                ports: [{ containerPort: 8081 }],
                            },
                        ],
                    },
                },
            },
        } as never,
    },
    { dependsOn: [prePuller ?? ns] },
);

export const images = prePuller?.images ?? [];
export const nodes = prePuller?.nodes ?? [];
export const skipped = prePuller?.skipped ?? false;
export const durationSeconds = prePuller?.durationSeconds ?? 0;
export const missingNodes = prePuller?.missingNodes ?? {};
export const hubUid = hub.uid;
// Empty without continuous mode (an undefined stack output draws a warning on every run).
export const continuousDaemonSet = pulumi.output(prePuller?.continuousDaemonSet).apply((name) => name ?? "");
