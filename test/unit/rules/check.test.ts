import * as assert from "node:assert/strict";
import { prePullProvider } from "../../../components/pulumi/provider";
import { UNKNOWN_VALUE } from "../../../components/rules/input-fields";

const check = (news: Record<string, unknown>, olds: Record<string, unknown> = {}) => prePullProvider.check!(olds, news);
const kubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]",
    "users: [{name: u, user: {token: s3cr3t-token}}]",
    "contexts: [{name: ctx, context: {cluster: c, user: u}}]",
    "current-context: ctx",
].join("\n");

describe("check", () => {
    describe("rejects bad input, naming the property", () => {
        const table: [string, Record<string, unknown>, string, RegExp?][] = [
            ["missing images", {}, "images", /required/],
            ["empty images", { images: [] }, "images", /at least one/],
            ["images not a list", { images: "python" }, "images", /list/],
            ["uppercase repository", { images: ["Python:3"] }, "images[0]", /lowercase/],
            ["two tags", { images: ["ok", "python:3:4"] }, "images[1]"],
            ["short digest", { images: ["python@sha256:abcd"] }, "images[0]", /64/],
            ["tag over 128 chars", { images: [`python:${"x".repeat(129)}`] }, "images[0]", /tag/],
            ["leading separator", { images: ["-python"] }, "images[0]"],
            ["non-string image", { images: [7] }, "images[0]", /string/],
            ["namespace not a DNS label", { images: ["python"], namespace: "Jupyter_Hub" }, "namespace", /DNS-1123/],
            ["namespace too long", { images: ["python"], namespace: "a".repeat(64) }, "namespace"],
            ["zero poll interval", { images: ["python"], pollIntervalSeconds: 0 }, "pollIntervalSeconds", /positive/],
            ["string poll interval", { images: ["python"], pollIntervalSeconds: "2" }, "pollIntervalSeconds"],
            ["negative timeout", { images: ["python"], timeoutSeconds: -1 }, "timeoutSeconds"],
            ["NaN timeout", { images: ["python"], timeoutSeconds: NaN }, "timeoutSeconds"],
            [
                "timeout shorter than poll",
                { images: ["python"], pollIntervalSeconds: 10, timeoutSeconds: 5 },
                "timeoutSeconds",
                /shorter/,
            ],
            [
                "unknown toleration operator",
                { images: ["python"], tolerations: [{ key: "k", operator: "Matches" }] },
                "tolerations[0].operator",
            ],
            [
                "unknown toleration effect",
                { images: ["python"], tolerations: [{ key: "k", operator: "Exists", effect: "NoRun" }] },
                "tolerations[0].effect",
            ],
            [
                "Exists with a value",
                { images: ["python"], tolerations: [{ key: "k", operator: "Exists", value: "v" }] },
                "tolerations[0].value",
            ],
            [
                "empty key with Equal",
                { images: ["python"], tolerations: [{ operator: "Equal", value: "v" }] },
                "tolerations[0].key",
            ],
            [
                "tolerationSeconds without NoExecute",
                { images: ["python"], tolerations: [{ key: "k", operator: "Exists", tolerationSeconds: 5 }] },
                "tolerations[0].tolerationSeconds",
            ],
            ["tolerations not a list", { images: ["python"], tolerations: { key: "k" } }, "tolerations"],
            ["bad nodeSelector key", { images: ["python"], nodeSelector: { "bad key": "v" } }, "nodeSelector"],
            ["bad nodeSelector value", { images: ["python"], nodeSelector: { k: "not valid!" } }, 'nodeSelector["k"]'],
            ["non-string nodeSelector value", { images: ["python"], nodeSelector: { k: 1 } }, 'nodeSelector["k"]'],
            ["affinity not an object", { images: ["python"], affinity: "user" }, "affinity"],
            ["podAntiAffinity", { images: ["python"], affinity: { podAntiAffinity: {} } }, "affinity.podAntiAffinity"],
            [
                "empty nodeSelectorTerms",
                {
                    images: ["python"],
                    affinity: {
                        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
                    },
                },
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            ],
            [
                "unknown affinity operator",
                {
                    images: ["python"],
                    affinity: {
                        nodeAffinity: {
                            requiredDuringSchedulingIgnoredDuringExecution: {
                                nodeSelectorTerms: [
                                    { matchExpressions: [{ key: "k", operator: "Like", values: ["a"] }] },
                                ],
                            },
                        },
                    },
                },
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            ],
            [
                "In without values",
                {
                    images: ["python"],
                    affinity: {
                        nodeAffinity: {
                            requiredDuringSchedulingIgnoredDuringExecution: {
                                nodeSelectorTerms: [{ matchExpressions: [{ key: "k", operator: "In" }] }],
                            },
                        },
                    },
                },
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            ],
            [
                "Gt with a word",
                {
                    images: ["python"],
                    affinity: {
                        nodeAffinity: {
                            requiredDuringSchedulingIgnoredDuringExecution: {
                                nodeSelectorTerms: [
                                    { matchExpressions: [{ key: "k", operator: "Gt", values: ["ten"] }] },
                                ],
                            },
                        },
                    },
                },
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            ],
            [
                "matchFields on a label",
                {
                    images: ["python"],
                    affinity: {
                        nodeAffinity: {
                            requiredDuringSchedulingIgnoredDuringExecution: {
                                nodeSelectorTerms: [{ matchFields: [{ key: "zone", operator: "In", values: ["a"] }] }],
                            },
                        },
                    },
                },
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key",
            ],
            [
                "preferred weight out of range",
                {
                    images: ["python"],
                    affinity: {
                        nodeAffinity: {
                            preferredDuringSchedulingIgnoredDuringExecution: [
                                { weight: 0, preference: { matchExpressions: [] } },
                            ],
                        },
                    },
                },
                "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            ],
            [
                "pull secret not a DNS subdomain",
                { images: ["python"], imagePullSecrets: ["Reg_Cred"] },
                "imagePullSecrets[0]",
            ],
            ["pull secret object without name", { images: ["python"], imagePullSecrets: [{}] }, "imagePullSecrets[0]"],
            [
                "priority class not a DNS subdomain",
                { images: ["python"], priorityClassName: "High Priority" },
                "priorityClassName",
            ],
            ["helper image invalid", { images: ["python"], helperImage: "BusyBox" }, "helperImage"],
            ["pause image invalid", { images: ["python"], pauseImage: "pause::1" }, "pauseImage"],
            ["patch not an object", { images: ["python"], daemonSetPatch: [] }, "daemonSetPatch"],
            ["kubeconfig not a string", { images: ["python"], kubeconfig: { a: 1 } }, "kubeconfig"],
            [
                "kubeconfig unparsable",
                { images: ["python"], kubeconfig: "apiVersion: v1\nclusters: [[[" },
                "kubeconfig",
            ],
            [
                "kubeconfig file missing",
                { images: ["python"], kubeconfig: "/nonexistent/kubeconfig" },
                "kubeconfig",
                // A path that does not exist may be a credential pasted in the wrong form: not quoted.
                /^no file at the path given \(23 characters, not shown/,
            ],
            [
                "kubeconfig as base64",
                { images: ["python"], kubeconfig: Buffer.from(kubeconfig).toString("base64") },
                "kubeconfig",
                /base64-encoded kubeconfig contents/,
            ],
            ["unknown context", { images: ["python"], kubeconfig, context: "prod" }, "context", /prod/],
            ["typo in a property", { images: ["python"], toleration: [] }, "toleration", /unknown property/],
            ["continuous not a boolean", { images: ["python"], continuous: "yes" }, "continuous", /true or false/],
            ["continuous as a number", { images: ["python"], continuous: 1 }, "continuous", /true or false/],
            ["zero maxParallelNodes", { images: ["python"], maxParallelNodes: 0 }, "maxParallelNodes", /at least 1/],
            ["fractional maxParallelNodes", { images: ["python"], maxParallelNodes: 1.5 }, "maxParallelNodes", /whole/],
            ["string maxParallelNodes", { images: ["python"], maxParallelNodes: "2" }, "maxParallelNodes"],
            [
                "zero parallelPulls",
                { images: ["python"], parallelPulls: 0 },
                "parallelPulls",
                /from 1 to 8, got number 0/,
            ],
            [
                "nine parallelPulls",
                { images: ["python"], parallelPulls: 9 },
                "parallelPulls",
                /from 1 to 8, got number 9/,
            ],
            ["fractional parallelPulls", { images: ["python"], parallelPulls: 2.5 }, "parallelPulls", /whole number/],
            ["string parallelPulls", { images: ["python"], parallelPulls: "2" }, "parallelPulls", /from 1 to 8/],
            [
                "unschedulableNodes not a policy",
                { images: ["python"], unschedulableNodes: "wait" },
                "unschedulableNodes",
                /must be one of "skip", "fail", got string "wait"/,
            ],
            [
                "nodeStatusMaxImages of 0",
                { images: ["python"], nodeStatusMaxImages: 0 },
                "nodeStatusMaxImages",
                /at least 1, or -1 for no cap/,
            ],
            [
                "unschedulableNodes as a boolean",
                { images: ["python"], unschedulableNodes: true },
                "unschedulableNodes",
                /must be one of "skip", "fail"/,
            ],
        ];
        for (const [title, news, property, reason] of table) {
            it(`${title} -> ${property}`, async () => {
                const result = await check(news);
                const failure = (result.failures ?? []).find((f) => f.property === property);
                assert.ok(failure, `expected a failure for ${property}, got ${JSON.stringify(result.failures)}`);
                if (reason) assert.match(failure.reason, reason);
            });
        }
    });

    it("never echoes kubeconfig contents in a failure", async () => {
        const result = await check({
            images: ["python"],
            kubeconfig: kubeconfig.replace("current-context: ctx", "current-context: nope") + "\n",
            context: "absent",
        });
        assert.ok((result.failures ?? []).length > 0);
        assert.ok(!JSON.stringify(result.failures).includes("s3cr3t-token"));
    });

    it("accepts and normalizes valid forms, merging duplicates", async () => {
        const digest = `sha256:${"e".repeat(64)}`;
        const result = await check({
            images: [
                "python",
                "docker.io/library/python:latest",
                "localhost:5000/app:1",
                "localhost/tool",
                `python:3.12@${digest}`,
                "quay.io/jupyter/base-notebook",
            ],
            namespace: "jhub",
            tolerations: [
                { key: "hub.jupyter.org/dedicated", operator: "Equal", value: "user", effect: "NoSchedule" },
                { operator: "Exists" },
            ],
            nodeSelector: { "hub.jupyter.org/node-purpose": "user" },
            affinity: {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [{ matchExpressions: [{ key: "cores", operator: "Gt", values: ["4"] }] }],
                    },
                },
            },
            imagePullSecrets: ["regcred", { name: "regcred" }, { name: "other.cred" }],
            pollIntervalSeconds: 0.5,
            kubeconfig,
            context: "ctx",
        });
        assert.deepEqual(result.failures, []);
        const inputs = result.inputs as Record<string, unknown>;
        assert.deepEqual(inputs.images, [
            "docker.io/library/python:latest",
            "localhost:5000/app:1",
            "localhost/tool:latest",
            `docker.io/library/python:3.12@${digest}`,
            "quay.io/jupyter/base-notebook:latest",
        ]);
        assert.deepEqual(inputs.imagePullSecrets, ["regcred", "other.cred"]);
        assert.equal(inputs.timeoutSeconds, 600);
        assert.equal(inputs.pollIntervalSeconds, 0.5);
        assert.match(String(inputs.ownerId), /^prepull-[0-9a-f]{10}$/);
    });

    it("applies defaults", async () => {
        const { inputs, failures } = await check({ images: ["python"] });
        assert.deepEqual(failures, []);
        const i = inputs as Record<string, unknown>;
        assert.equal(i.namespace, "default");
        assert.equal(i.pollIntervalSeconds, 2);
        assert.equal(i.timeoutSeconds, 600);
        assert.deepEqual(i.tolerations, []);
    });

    it("leaves continuous, maxParallelNodes and unschedulableNodes out at their defaults, so older state compares equal", async () => {
        const plain = (await check({ images: ["python"] })).inputs as Record<string, unknown>;
        const explicit = await check({
            images: ["python"],
            continuous: false,
            maxParallelNodes: null,
            unschedulableNodes: "skip",
            parallelPulls: 1,
        });
        assert.deepEqual(explicit.failures, []);
        assert.deepEqual(Object.keys(explicit.inputs as object).sort(), Object.keys(plain).sort());
        const set = (
            await check({ images: ["python"], continuous: true, maxParallelNodes: 3, unschedulableNodes: "fail" })
        ).inputs;
        assert.equal((set as Record<string, unknown>).continuous, true);
        assert.equal((set as Record<string, unknown>).maxParallelNodes, 3);
        assert.equal((set as Record<string, unknown>).unschedulableNodes, "fail");
    });

    it("keeps the owner id of an existing resource", async () => {
        const { inputs } = await check({ images: ["python"] }, { ownerId: "prepull-keepme" });
        assert.equal((inputs as Record<string, unknown>).ownerId, "prepull-keepme");
    });

    it("passes values unknown during preview through without failing", async () => {
        const { failures } = await check({
            images: [UNKNOWN_VALUE, "python"],
            namespace: UNKNOWN_VALUE,
            kubeconfig: UNKNOWN_VALUE,
        });
        assert.deepEqual(failures, []);
    });
});
