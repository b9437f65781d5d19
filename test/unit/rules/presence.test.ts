import * as assert from "node:assert/strict";
import { evaluatePresence, presenceEvaluator } from "../../../components/rules/presence";
import { parseImageReference } from "../../../components/rules/references";
import type { V1ContainerState } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Node, Pod, Wire } from "../../../components/rules/wire";
import { makeNode, makePod } from "../fixtures/nodes";
import { seededRandom } from "../../support/random";

const wanted = ["docker.io/jupyter/scipy-notebook:2024", "docker.io/library/python:3.12"];
const images = wanted.map((w) => parseImageReference(w));

describe("presence", () => {
    it("a node that reports every image (in any spelling) is complete", () => {
        const node = makeNode("a", {
            images: [
                ["jupyter/scipy-notebook:2024"],
                ["docker.io/library/python:3.12", "docker.io/library/python@sha256:" + "1".repeat(64)],
            ],
        });
        const report = evaluatePresence([node], [], images, {});
        assert.deepEqual(report.eligibleNodes, ["a"]);
        assert.deepEqual(report.missing, {});
    });

    it("lists the images each eligible node still misses, and ignores ineligible nodes", () => {
        const nodes = [
            makeNode("a", { images: [["docker.io/library/python:3.12"]] }),
            makeNode("b"),
            makeNode("c", { ready: false }),
        ];
        const report = evaluatePresence(nodes, [], images, {});
        assert.deepEqual(report.eligibleNodes, ["a", "b"]);
        assert.deepEqual(report.missing, { a: [wanted[0]], b: wanted });
    });

    it("a truncated status.images (50 largest) is completed by pod evidence", () => {
        const fifty = Array.from({ length: 50 }, (_, i) => [`docker.io/library/big-${i}:1`]);
        const node = makeNode("a", { images: fifty });
        assert.deepEqual(evaluatePresence([node], [], images, {}).missing, { a: wanted });
        const pod = makePod("a", wanted, ["completed", "running"]);
        assert.deepEqual(evaluatePresence([node], [pod], images, {}).missing, {});
    });

    it("a container still waiting is not evidence", () => {
        const pod = makePod("a", wanted, ["completed", "waiting"]);
        assert.deepEqual(evaluatePresence([makeNode("a")], [pod], images, {}).missing, { a: [wanted[1]] });
    });

    describe("only containers that really ran are evidence", () => {
        const epoch = "1970-01-01T00:00:00Z";
        const started = "2026-12-01T10:00:00Z";
        // Container states as the kubelet writes them (pkg/kubelet/status TerminatePod, containerd StartError).
        const table: [string, Wire<V1ContainerState>, Wire<V1ContainerState> | undefined, boolean][] = [
            ["running", { running: { startedAt: started } }, undefined, true],
            [
                "Completed, exit 0",
                { terminated: { exitCode: 0, reason: "Completed", startedAt: started } },
                undefined,
                true,
            ],
            [
                "Completed, exit 0, no start time in the projection",
                { terminated: { exitCode: 0, reason: "Completed" } },
                undefined,
                true,
            ],
            [
                "ContainerStatusUnknown (a pod terminated mid-pull)",
                {
                    terminated: {
                        exitCode: 137,
                        reason: "ContainerStatusUnknown",
                        message: "The container could not be located when the pod was terminated",
                    },
                },
                undefined,
                false,
            ],
            [
                "StartError (the runtime could not start it; start time is the epoch)",
                { terminated: { exitCode: 128, reason: "StartError", startedAt: epoch } },
                undefined,
                false,
            ],
            ["Error before a start", { terminated: { exitCode: 1, reason: "Error" } }, undefined, false],
            [
                "OOMKilled before a start",
                { terminated: { exitCode: 137, reason: "OOMKilled", startedAt: epoch } },
                undefined,
                false,
            ],
            [
                "Error after a recorded start",
                { terminated: { exitCode: 1, reason: "Error", startedAt: started } },
                undefined,
                true,
            ],
            [
                "CrashLoopBackOff after a StartError",
                { waiting: { reason: "CrashLoopBackOff" } },
                { terminated: { exitCode: 128, reason: "StartError", startedAt: epoch } },
                false,
            ],
            [
                "waiting again after a Completed run",
                { waiting: { reason: "PodInitializing" } },
                { terminated: { exitCode: 0, reason: "Completed", startedAt: started } },
                true,
            ],
        ];
        for (const [title, state, lastState, evidence] of table) {
            it(`${title}: ${evidence ? "evidence" : "no evidence"}`, () => {
                const pod = makePod("a", [wanted[0]!], ["waiting"]);
                pod.status!.initContainerStatuses![0] = { ...pod.status!.initContainerStatuses![0]!, state, lastState };
                const missing = evaluatePresence([makeNode("a")], [pod], [images[0]!], {}).missing;
                assert.deepEqual(missing, evidence ? {} : { a: [wanted[0]] });
            });
        }
    });

    it("pods on other nodes are not evidence for this node", () => {
        const pod = makePod("b", wanted, ["completed", "completed"]);
        assert.deepEqual(evaluatePresence([makeNode("a")], [pod], images, {}).missing, { a: wanted });
    });

    it("reports pull errors with node, image, reason and the kubelet's message", () => {
        const pod = makePod("a", wanted, [
            "completed",
            { reason: "ImagePullBackOff", message: 'Back-off pulling image "python:3.12"' },
        ]);
        const report = evaluatePresence([makeNode("a")], [pod], images, {});
        assert.equal(report.problems.length, 1);
        assert.deepEqual(
            { node: report.problems[0]!.node, image: report.problems[0]!.image, reason: report.problems[0]!.reason },
            { node: "a", image: wanted[1], reason: "ImagePullBackOff" },
        );
        assert.match(report.problems[0]!.message, /Back-off pulling/);
    });

    describe("the evaluator a wait loop keeps (updated in place as objects change)", () => {
        const outcomes = ["waiting", "running", "completed", { reason: "ErrImagePull", message: "denied" }] as const;

        it("agrees with evaluatePresence after every change of a random sequence of nodes and pods", () => {
            for (const seed of [1, 2, 3, 4, 5]) {
                const next = seededRandom(seed);
                const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
                const names = ["a", "b", "c", "d", "e", "f"];
                let nodes: Node[] = names.map((n) => makeNode(n));
                let pods: Pod[] = [];
                const evaluator = presenceEvaluator(images, { tolerations: [] });
                // The same, told each node's pods by the caller, as the run's pod watch does: a node's
                // array is replaced when its pods change and kept as it is otherwise.
                const toldByNode = presenceEvaluator(images, { tolerations: [] });
                const byNode = new Map<string, Pod[]>();
                for (let step = 0; step < 200; step++) {
                    const change = next();
                    if (change < 0.3) {
                        // A node replaced: readiness, cordon, an image listed, or gone and back.
                        const name = pick(names);
                        const rest = nodes.filter((n) => n.metadata?.name !== name);
                        nodes =
                            next() < 0.15
                                ? rest
                                : [
                                      ...rest,
                                      makeNode(name, {
                                          ready: next() > 0.2,
                                          unschedulable: next() < 0.1,
                                          images: next() < 0.3 ? [[pick(wanted)]] : [],
                                      }),
                                  ];
                    } else if (change < 0.9) {
                        // A pod replaced (its containers moved on), added, or gone.
                        const node = pick(names);
                        const rest = pods.filter((p) => p.spec?.nodeName !== node);
                        pods =
                            next() < 0.1
                                ? rest
                                : [...rest, makePod(node, wanted, [pick(outcomes), pick(outcomes)] as never)];
                        const onNode = pods.filter((p) => p.spec?.nodeName === node);
                        if (onNode.length > 0) byNode.set(node, onNode);
                        else byNode.delete(node);
                    }
                    // Otherwise the same lists again (a poll with nothing new).
                    const expected = evaluatePresence(nodes, pods, images, { tolerations: [] });
                    const key = (p: { node: string; container: string }) => `${p.node}/${p.container}`;
                    for (const [how, actual] of [
                        ["grouping the pods itself", evaluator.evaluate(nodes, pods)],
                        ["told the pods by node", toldByNode.evaluate(nodes, pods, byNode)],
                    ] as const) {
                        const context = `seed ${seed}, step ${step}, ${how}`;
                        assert.deepEqual(actual.eligibleNodes, expected.eligibleNodes, context);
                        assert.deepEqual(actual.missing, expected.missing, context);
                        assert.deepEqual(actual.problems.map(key).sort(), expected.problems.map(key).sort(), context);
                    }
                }
            }
        });

        it("gives the same report for the same lists without deciding again", () => {
            const evaluator = presenceEvaluator(images, {});
            const node = makeNode("a");
            const nodes = [node];
            const pods: Pod[] = [];
            const first = evaluator.evaluate(nodes, pods);
            assert.deepEqual(first.missing, { a: wanted });
            // Changed in place (the watches never do this): the same lists are not decided again...
            node.status!.images = [{ names: wanted, sizeBytes: 1 }];
            assert.equal(evaluator.evaluate(nodes, pods), first);
            assert.deepEqual(first.missing, { a: wanted });
            // ...while a replaced object is.
            assert.deepEqual(evaluator.evaluate([{ ...node }], pods).missing, {});
        });
    });
});
