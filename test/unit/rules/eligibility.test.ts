import * as assert from "node:assert/strict";
import {
    ineligibilityReason,
    isEligible,
    nodeLabelSelector,
    nodesToKeepOut,
    toleratesTaint,
} from "../../../components/rules/eligibility";
import type { V1Toleration } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { makeNode } from "../fixtures/nodes";

const userTaint = { key: "hub.jupyter.org/dedicated", value: "user", effect: "NoSchedule" };

describe("eligibility", () => {
    it("a plain Ready node is eligible", () => {
        assert.equal(ineligibilityReason(makeNode("n"), {}), undefined);
    });

    it("cordoned nodes are excluded unless the unschedulable taint is tolerated", () => {
        const node = makeNode("n", { unschedulable: true });
        assert.equal(ineligibilityReason(node, {}), "cordoned");
        const tolerations = [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }];
        assert.equal(ineligibilityReason(node, { tolerations }), undefined);
    });

    it("Windows nodes are never eligible (the pull containers run Linux binaries); Linux and unlabelled ones are", () => {
        assert.equal(ineligibilityReason(makeNode("w", { labels: { "kubernetes.io/os": "windows" } }), {}), "windows");
        assert.equal(ineligibilityReason(makeNode("l", { labels: { "kubernetes.io/os": "linux" } }), {}), undefined);
        assert.equal(ineligibilityReason(makeNode("u"), {}), undefined);
    });

    it("nodesToKeepOut: selected nodes the DaemonSet controller would still pull on", () => {
        const selected = { pool: "users" };
        const nodes = [
            makeNode("ok", { labels: selected }),
            makeNode("cordoned", { labels: selected, unschedulable: true }),
            makeNode("sick", { labels: selected, ready: false }),
            makeNode("pressured", {
                labels: selected,
                taints: [{ key: "node.kubernetes.io/memory-pressure", effect: "NoSchedule" }],
            }),
            // Its own untolerated taint keeps the DaemonSet off: no need to name it.
            makeNode("tainted", { labels: selected, taints: [userTaint] }),
            // Not selected: the DaemonSet's own nodeSelector keeps it off.
            makeNode("other", { unschedulable: true }),
            makeNode("windows", { labels: { ...selected, "kubernetes.io/os": "windows" } }),
        ];
        assert.deepEqual(nodesToKeepOut(nodes, { nodeSelector: selected }), ["cordoned", "pressured", "sick"]);
        const tolerateCordon = [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }];
        assert.deepEqual(nodesToKeepOut(nodes, { nodeSelector: selected, tolerations: tolerateCordon }), [
            "pressured",
            "sick",
        ]);
    });

    it("NotReady nodes are excluded", () => {
        assert.equal(ineligibilityReason(makeNode("n", { ready: false }), {}), "not-ready");
        const noConditions = makeNode("n");
        noConditions.status!.conditions = [];
        assert.equal(ineligibilityReason(noConditions, {}), "not-ready");
    });

    describe("taints by effect", () => {
        const table: [string, boolean][] = [
            ["NoSchedule", false],
            ["NoExecute", false],
            ["PreferNoSchedule", true],
        ];
        for (const [effect, eligible] of table) {
            it(`an untolerated ${effect} taint ${eligible ? "does not exclude" : "excludes"}`, () => {
                const node = makeNode("n", { taints: [{ key: "k", value: "v", effect }] });
                assert.equal(isEligible(node, {}), eligible);
            });
        }
    });

    describe("toleration matching", () => {
        const table: [string, V1Toleration, boolean][] = [
            [
                "Equal with the same key and value",
                { key: userTaint.key, operator: "Equal", value: "user", effect: "NoSchedule" },
                true,
            ],
            ["Equal by default (no operator)", { key: userTaint.key, value: "user" }, true],
            ["Equal with another value", { key: userTaint.key, operator: "Equal", value: "core" }, false],
            ["Exists on the key", { key: userTaint.key, operator: "Exists" }, true],
            ["Exists with an empty key tolerates everything", { operator: "Exists" }, true],
            // The API rejects an empty key with Equal, but ToleratesTaint itself matches any key by value.
            ["an empty key with Equal matches any key with that value", { operator: "Equal", value: "user" }, true],
            ["an empty key with Equal and another value", { operator: "Equal", value: "core" }, false],
            ["another effect", { key: userTaint.key, operator: "Exists", effect: "NoExecute" }, false],
            ["an empty effect matches every effect", { key: userTaint.key, operator: "Exists", effect: "" }, true],
            ["another key", { key: "other", operator: "Exists" }, false],
        ];
        for (const [title, toleration, expected] of table) {
            it(title, () => {
                assert.equal(toleratesTaint(toleration, userTaint), expected);
                const node = makeNode("n", { taints: [userTaint] });
                assert.equal(isEligible(node, { tolerations: [toleration] }), expected);
            });
        }
        it("every blocking taint must be tolerated", () => {
            const node = makeNode("n", { taints: [userTaint, { key: "gpu", effect: "NoExecute" }] });
            assert.equal(isEligible(node, { tolerations: [{ key: userTaint.key, operator: "Exists" }] }), false);
            assert.equal(
                isEligible(node, {
                    tolerations: [
                        { key: userTaint.key, operator: "Exists" },
                        { key: "gpu", operator: "Exists" },
                    ],
                }),
                true,
            );
        });
    });

    it("nodeSelector requires every label to match", () => {
        const node = makeNode("n", { labels: { "hub.jupyter.org/node-purpose": "user", zone: "a" } });
        assert.equal(isEligible(node, { nodeSelector: { "hub.jupyter.org/node-purpose": "user" } }), true);
        assert.equal(isEligible(node, { nodeSelector: { "hub.jupyter.org/node-purpose": "user", zone: "b" } }), false);
        assert.equal(ineligibilityReason(node, { nodeSelector: { missing: "x" } }), "node-selector");
    });

    describe("required node affinity", () => {
        const node = makeNode("node-7", { labels: { zone: "a", cores: "16", pool: "user" } });
        const affinityOf = (expressions: object[], fields: object[] = []) => ({
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{ matchExpressions: expressions, matchFields: fields }] as never,
                },
            },
        });
        const table: [string, object[], object[], boolean][] = [
            ["In matches", [{ key: "zone", operator: "In", values: ["a", "b"] }], [], true],
            ["In misses", [{ key: "zone", operator: "In", values: ["b"] }], [], false],
            ["In on a missing label misses", [{ key: "gpu", operator: "In", values: ["x"] }], [], false],
            ["NotIn matches", [{ key: "zone", operator: "NotIn", values: ["b"] }], [], true],
            ["NotIn misses", [{ key: "zone", operator: "NotIn", values: ["a"] }], [], false],
            ["NotIn on a missing label matches", [{ key: "gpu", operator: "NotIn", values: ["x"] }], [], true],
            ["Exists matches", [{ key: "pool", operator: "Exists" }], [], true],
            ["Exists misses", [{ key: "gpu", operator: "Exists" }], [], false],
            ["DoesNotExist matches", [{ key: "gpu", operator: "DoesNotExist" }], [], true],
            ["DoesNotExist misses", [{ key: "pool", operator: "DoesNotExist" }], [], false],
            ["Gt matches", [{ key: "cores", operator: "Gt", values: ["8"] }], [], true],
            ["Gt misses", [{ key: "cores", operator: "Gt", values: ["16"] }], [], false],
            ["Lt matches", [{ key: "cores", operator: "Lt", values: ["32"] }], [], true],
            ["Lt misses", [{ key: "cores", operator: "Lt", values: ["4"] }], [], false],
            ["Gt on a non-integer label misses", [{ key: "zone", operator: "Gt", values: ["1"] }], [], false],
            ["matchFields metadata.name In", [], [{ key: "metadata.name", operator: "In", values: ["node-7"] }], true],
            [
                "matchFields metadata.name NotIn",
                [],
                [{ key: "metadata.name", operator: "NotIn", values: ["node-7"] }],
                false,
            ],
            [
                "expressions and fields are ANDed",
                [{ key: "zone", operator: "In", values: ["a"] }],
                [{ key: "metadata.name", operator: "In", values: ["other"] }],
                false,
            ],
            ["an empty term matches nothing", [], [], false],
        ];
        for (const [title, expressions, fields, expected] of table) {
            it(title, () => {
                assert.equal(isEligible(node, { affinity: affinityOf(expressions, fields) }), expected);
            });
        }
        it("terms are ORed", () => {
            const affinity = {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [
                            { matchExpressions: [{ key: "zone", operator: "In", values: ["z"] }] },
                            { matchExpressions: [{ key: "pool", operator: "In", values: ["user"] }] },
                        ],
                    },
                },
            };
            assert.equal(isEligible(node, { affinity }), true);
        });
        it("preferred affinity never excludes", () => {
            const affinity = {
                nodeAffinity: {
                    preferredDuringSchedulingIgnoredDuringExecution: [
                        {
                            weight: 100,
                            preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["z"] }] },
                        },
                    ],
                },
            };
            assert.equal(isEligible(node, { affinity }), true);
        });
    });

    describe("the label selector lists and watches of nodes ask for", () => {
        it("selects what nodeSelector selects, and every node without one", () => {
            const nodeSelector = { "hub.jupyter.org/node-purpose": "user", pool: "big" };
            assert.equal(nodeLabelSelector({ nodeSelector }), "hub.jupyter.org/node-purpose=user,pool=big");
            assert.equal(nodeLabelSelector({}), undefined);
            assert.equal(nodeLabelSelector({ nodeSelector: {} }), undefined);
        });
    });
});
