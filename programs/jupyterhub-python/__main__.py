"""A JupyterHub-style stack in Python: the user images are pre-pulled onto the user nodes before
the hub (re)starts, so the first user server on every node starts in seconds. The same stack as
programs/jupyterhub/index.ts, with the ImagePrePuller served by the provider plugin."""

import pulumi
import pulumi_kubernetes as k8s
import pulumi_image_prepuller as prepuller

config = pulumi.Config()
kubeconfig = config.require_secret("kubeconfig")
namespace = config.get("namespace") or "jhub"
hub_image = config.get("hubImage") or "quay.io/jupyterhub/k8s-hub:4.4.0"
user_images = config.get_object("images") or [
    "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0",
    "quay.io/jupyter/scipy-notebook:2025-03-14",
    "quay.io/jupyter/datascience-notebook:2025-03-14",
]

# Where the Zero to JupyterHub chart schedules user pods (scheduling.userPods with
# matchNodePurpose: require): nodes labelled and tainted for users.
tolerations = [
    {"key": key, "operator": "Equal", "value": "user", "effect": "NoSchedule"}
    for key in ("hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated")
]
affinity = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}]}
            ]
        }
    }
}

cluster = k8s.Provider("cluster", kubeconfig=kubeconfig)
ns = k8s.core.v1.Namespace(
    "namespace", metadata={"name": namespace}, opts=pulumi.ResourceOptions(provider=cluster)
)

pre_puller = prepuller.ImagePrePuller(
    "user-images",
    # In this small cluster the hub runs on the user nodes too: pre-pull its image with theirs.
    images=[*user_images, hub_image],
    namespace=namespace,
    tolerations=[prepuller.TolerationArgs(**t) for t in tolerations],
    affinity=affinity,
    # The pre-pull reads its own copy of the credentials the provider uses (same cluster).
    kubeconfig=kubeconfig,
    timeout_seconds=config.get_float("timeoutSeconds") or 600,
    opts=pulumi.ResourceOptions(depends_on=[ns], providers=[cluster]),
)

labels = {"app": "jupyterhub", "component": "hub"}
hub = k8s.apps.v1.Deployment(
    "hub",
    metadata={"name": "hub", "namespace": namespace, "labels": labels},
    spec={
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "tolerations": tolerations,
                "affinity": affinity,
                "containers": [{"name": "hub", "image": hub_image, "ports": [{"containerPort": 8081}]}],
            },
        },
    },
    opts=pulumi.ResourceOptions(provider=cluster, depends_on=[pre_puller]),
)

pulumi.export("images", pre_puller.images)
pulumi.export("nodes", pre_puller.nodes)
pulumi.export("skipped", pre_puller.skipped)
pulumi.export("durationSeconds", pre_puller.duration_seconds)
pulumi.export("missingNodes", pre_puller.missing_nodes)
pulumi.export("pullReport", pre_puller.pull_report)
pulumi.export("hubDeployment", pulumi.Output.concat(hub.metadata.namespace, "/", hub.metadata.name))
