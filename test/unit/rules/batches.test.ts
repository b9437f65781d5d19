import * as assert from "node:assert/strict";
import { excludeNodes, nextBatch, restrictToNodes } from "../../../components/rules/batches";
import type { V1Affinity } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Node } from "../../../components/rules/wire";
import { isEligible } from "../../../components/rules/eligibility";

describe("node batches (maxParallelNodes)", () => {
    it("excludeNodes ANDs one NotIn field requirement per node into every term, keeping empty terms and preferences", () => {
        const affinity = {
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["users"] }] }, {}],
                },
                preferredDuringSchedulingIgnoredDuringExecution: [
                    { weight: 1, preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] } },
                ],
            },
        };
        const excluded = excludeNodes(affinity, ["x", "y"])!;
        const terms = excluded.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
        assert.deepEqual(terms[0]!.matchFields, [
            { key: "metadata.name", operator: "NotIn", values: ["x"] },
            { key: "metadata.name", operator: "NotIn", values: ["y"] },
        ]);
        assert.deepEqual(terms[0]!.matchExpressions, [{ key: "pool", operator: "In", values: ["users"] }]);
        assert.deepEqual(terms[1], {});
        assert.deepEqual(
            excluded.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution,
            affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution,
        );
        assert.equal(excludeNodes(affinity, []), affinity);
        const alone = excludeNodes(undefined, ["x"])!;
        assert.deepEqual(alone.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms, [
            { matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["x"] }] },
        ]);
    });

    describe("nextBatch", () => {
        const table: [string, string[], string[], number, string[]][] = [
            ["starts with the first nodes by name", [], ["c", "a", "d", "b"], 2, ["a", "b"]],
            ["keeps nodes still pulling and tops up", ["a", "b"], ["b", "c", "d"], 2, ["b", "c"]],
            ["never interrupts a node still pulling", ["c", "d"], ["a", "c", "d"], 2, ["c", "d"]],
            ["drops nodes that left (deleted or ineligible)", ["a", "b"], ["c"], 2, ["c"]],
            ["a node that joins waits its turn", ["a", "b"], ["a", "b", "aa"], 2, ["a", "b"]],
            ["fewer missing than the limit", [], ["x"], 5, ["x"]],
            ["nothing missing, nothing to do", ["a"], [], 2, []],
            ["a limit of one is sequential", ["a"], ["b", "c"], 1, ["b"]],
        ];
        for (const [title, current, missing, max, expected] of table) {
            it(title, () => assert.deepEqual(nextBatch(current, missing, max), expected));
        }
    });

    describe("restrictToNodes", () => {
        const node = (name: string, labels: Record<string, string> = {}): Node => ({
            metadata: { name, labels },
            status: { conditions: [{ type: "Ready", status: "True" }] },
        });
        const eligibleUnder = (affinity: V1Affinity, nodes: Node[]) =>
            nodes.filter((n) => isEligible(n, { affinity })).map((n) => n.metadata!.name);

        it("without user terms: one term per node, one name each (the API allows one value per field requirement)", () => {
            const affinity = restrictToNodes(undefined, ["a", "b"]);
            assert.deepEqual(affinity.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
                { matchFields: [{ key: "metadata.name", operator: "In", values: ["a"] }] },
                { matchFields: [{ key: "metadata.name", operator: "In", values: ["b"] }] },
            ]);
            assert.deepEqual(eligibleUnder(affinity, [node("a"), node("b"), node("c")]), ["a", "b"]);
        });

        it("ANDs the batch into every user term (terms are ORed), keeping preferred terms", () => {
            const user: V1Affinity = {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [
                            { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
                            { matchExpressions: [{ key: "gpu", operator: "Exists" }] },
                        ],
                    },
                    preferredDuringSchedulingIgnoredDuringExecution: [
                        { weight: 5, preference: { matchExpressions: [{ key: "ssd", operator: "Exists" }] } },
                    ],
                },
            };
            const affinity = restrictToNodes(user, ["n1", "n3"]);
            const terms = affinity.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
            assert.equal(terms.length, 4);
            assert.deepEqual(
                affinity.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution,
                user.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution,
            );
            const nodes = [
                node("n1", { zone: "a" }),
                node("n2", { zone: "a" }),
                node("n3", { gpu: "1" }),
                node("n4", { gpu: "1" }),
                node("n5", {}),
            ];
            // Only batch nodes that also satisfy a user term: never a node the user excluded.
            assert.deepEqual(eligibleUnder(affinity, nodes), ["n1", "n3"]);
            assert.deepEqual(eligibleUnder(restrictToNodes(user, ["n5"]), nodes), []);
        });

        it("keeps the user's own field requirements and leaves empty (match-nothing) terms alone", () => {
            const user: V1Affinity = {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [
                            { matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["b"] }] },
                            {},
                        ],
                    },
                },
            };
            const affinity = restrictToNodes(user, ["a", "b"]);
            assert.deepEqual(eligibleUnder(affinity, [node("a"), node("b"), node("c")]), ["a"]);
            assert.deepEqual(
                affinity.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[2],
                {},
            );
        });

        it("does not modify its input", () => {
            const user: V1Affinity = {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
                    },
                },
            };
            const before = JSON.stringify(user);
            restrictToNodes(user, ["a"]);
            assert.equal(JSON.stringify(user), before);
        });
    });
});
