import * as assert from "node:assert/strict";
import type { V1NodeCondition } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Node, Pod, Wire } from "../../../components/rules/wire";
import { evaluatePresence } from "../../../components/rules/presence";
import { projectNode, projectPod } from "../../../components/rules/projection";
import { parseImageReference } from "../../../components/rules/references";
import { makeNode, makePod } from "../fixtures/nodes";

const wanted = ["docker.io/jupyter/scipy-notebook:2024", "docker.io/library/python:3.12"].map((w) =>
    parseImageReference(w),
);

/** A node with what the apiserver adds and the library never reads. */
function heavyNode(name: string, options: Parameters<typeof makeNode>[1]): Node {
    const node = makeNode(name, options) as Node & {
        metadata: Record<string, unknown>;
        status: Record<string, unknown>;
    };
    node.metadata.managedFields = [{ manager: "kubelet", fieldsV1: { "f:status": {} } }];
    node.metadata.resourceVersion = "42";
    node.status.addresses = [{ type: "InternalIP", address: "10.0.0.1" }];
    node.status.conditions = [
        { type: "MemoryPressure", status: "False" },
        ...(node.status.conditions as Wire<V1NodeCondition>[]),
        { type: "DiskPressure", status: "False" },
    ];
    return node;
}

const nodes: Node[] = [
    heavyNode("complete", {
        images: [
            ["jupyter/scipy-notebook:2024"],
            ["docker.io/library/python:3.12", "docker.io/library/python@sha256:" + "1".repeat(64)],
            ["registry.k8s.io/pause:3.10"],
        ],
    }),
    heavyNode("partial", { images: [["python:3.12"], ["docker.io/library/ubuntu:24.04"]] }),
    heavyNode("cordoned", { unschedulable: true, images: [["python:3.12"]] }),
    heavyNode("not-ready", { ready: false }),
    heavyNode("tainted", { taints: [{ key: "gpu", value: "true", effect: "NoSchedule" }] }),
    heavyNode("labelled", { labels: { pool: "users" } }),
];

const pods: Pod[] = [
    makePod("partial", ["jupyter/scipy-notebook:2024", "python:3.12"], ["running", "completed"]),
    makePod(
        "labelled",
        ["jupyter/scipy-notebook:2024", "python:3.12"],
        [{ reason: "ErrImagePull", message: "manifest unknown" }, "waiting"],
    ),
];

describe("projections kept by the watch caches", () => {
    const constraintSets = [
        {},
        { nodeSelector: { pool: "users" } },
        { tolerations: [{ key: "gpu", operator: "Exists", effect: "NoSchedule" }] },
        { tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists" }] },
        {
            affinity: {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [
                            { matchFields: [{ key: "metadata.name", operator: "In", values: ["partial"] }] },
                        ],
                    },
                },
            },
        },
    ];
    for (const constraints of constraintSets) {
        it(`give the same presence report as whole objects for ${JSON.stringify(constraints)}`, () => {
            const projected = evaluatePresence(
                nodes.map((n) => projectNode(n, wanted)),
                pods.map((p) => projectPod(p)),
                wanted,
                constraints,
            );
            assert.deepEqual(projected, evaluatePresence(nodes, pods, wanted, constraints));
        });
    }

    it("a node keeps only the image names that satisfy a wanted image (not pause, not a digest of another tag), with their sizes, and no managedFields", () => {
        const projected = projectNode(nodes[0]!, wanted);
        assert.deepEqual(projected.status?.images, [
            { names: ["jupyter/scipy-notebook:2024"], sizeBytes: 1_000_000 },
            { names: ["docker.io/library/python:3.12"], sizeBytes: 2_000_000 },
        ]);
        assert.deepEqual(Object.keys(projected.metadata ?? {}).sort(), ["labels", "name", "resourceVersion"]);
        assert.deepEqual(projected.status?.conditions, [{ type: "Ready", status: "True" }]);
    });

    it("a pod keeps the kubelet's pull error for failure messages", () => {
        const projected = projectPod(pods[1]!);
        assert.deepEqual(projected.status?.initContainerStatuses?.[0]?.state, {
            waiting: { reason: "ErrImagePull", message: "manifest unknown" },
        });
    });
});
