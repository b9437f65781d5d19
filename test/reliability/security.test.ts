/**
 * Least privilege and secrets on the local cluster: the README's RBAC rules are enough and each
 * one is needed; the pods are admitted under Pod Security "restricted"; bad input creates
 * nothing; credentials never show up in output or errors; two owners in one namespace coexist.
 */
import * as assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { prePullProvider } from "../../components/provider";
import { sharedCluster, FAST_PULL, SIM, type TestCluster, FAST_STATUS } from "../support/cluster";
import { addNode, assertNothingLeft, create, leftovers, newScenario, removeAllOurs } from "../support/scenario";

/** The rules README.md documents (secrets/get is optional and left out here). */
const CLUSTER_RULES: k8s.V1PolicyRule[] = [{ apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] }];
const NAMESPACE_RULES: k8s.V1PolicyRule[] = [
    { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["create", "list", "delete"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "delete"] },
];

async function kubeconfigFor(cluster: TestCluster, namespace: string, account: string): Promise<string> {
    const { status } = await cluster.core.createNamespacedServiceAccountToken({
        name: account,
        namespace,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const current = cluster.kc.getCurrentCluster()!;
    const kc = new cluster.lib.KubeConfig();
    kc.loadFromOptions({
        clusters: [{ ...current, name: "local" }],
        users: [{ name: account, token: status!.token }],
        contexts: [{ name: account, cluster: "local", user: account }],
        currentContext: account,
    });
    return kc.exportConfig();
}

/** Grants exactly `clusterRules` and `namespaceRules` to a new ServiceAccount; returns its kubeconfig. */
async function accountWith(
    cluster: TestCluster,
    namespace: string,
    name: string,
    clusterRules: k8s.V1PolicyRule[],
    namespaceRules: k8s.V1PolicyRule[],
): Promise<string> {
    const rbac = cluster.kc.makeApiClient(cluster.lib.RbacAuthorizationV1Api);
    await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    const subjects = [{ kind: "ServiceAccount", name, namespace }];
    await rbac.createClusterRole({ body: { metadata: { name: `${namespace}-${name}` }, rules: clusterRules } });
    await rbac.createClusterRoleBinding({
        body: {
            metadata: { name: `${namespace}-${name}` },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${namespace}-${name}` },
            subjects,
        },
    });
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: namespaceRules } });
    await rbac.createNamespacedRoleBinding({
        namespace,
        body: {
            metadata: { name },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
            subjects,
        },
    });
    // RBAC changes reach the authorizer's cache quickly but not instantly.
    await new Promise((r) => setTimeout(r, 1500));
    return kubeconfigFor(cluster, namespace, name);
}

function without(rules: k8s.V1PolicyRule[], resource: string, verb: string): k8s.V1PolicyRule[] {
    return rules.map((r) => (r.resources!.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r));
}

describe("security", function () {
    this.timeout(300_000);
    let cluster: TestCluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
    });

    /** A full pre-pull on two nodes by a ServiceAccount with `namespaceRules`; nothing may be left. */
    async function fullPrePullWith(title: string, namespaceRules: k8s.V1PolicyRule[]): Promise<void> {
        const s = await newScenario(cluster, title);
        for (const n of ["a", "b"]) await addNode(cluster, s, n, { annotations: FAST_PULL });
        const kubeconfig = await accountWith(cluster, s.namespace, "prepuller", CLUSTER_RULES, namespaceRules);
        const result = await create(cluster, {
            images: [`python:3.1-${title}`],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            kubeconfig,
        });
        assert.equal(result.nodes.length, 2);
        await assertNothingLeft(cluster, s.namespace);
    }

    it("a ServiceAccount with exactly the documented RBAC runs a full pre-pull", async () => {
        await fullPrePullWith("rbac-full", NAMESPACE_RULES);
    });

    it('without the optional "delete" on pods a full pre-pull still leaves nothing (the garbage collector removes the pods)', async () => {
        const rules = without(NAMESPACE_RULES, "pods", "delete");
        assert.ok(rules.some((r) => r.resources!.includes("pods") && !r.verbs.includes("delete")));
        await fullPrePullWith("rbac-no-delete-pods", rules);
    });

    const needed: [string, string, boolean][] = [
        ["nodes", "list", true],
        ["nodes", "watch", true],
        ["daemonsets", "create", false],
        ["daemonsets", "list", false],
        ["daemonsets", "delete", false],
        ["pods", "list", false],
        ["pods", "watch", false],
    ];
    for (const [resource, verb, clusterScoped] of needed) {
        it(`without "${verb}" on ${resource} the error names that permission`, async () => {
            const s = await newScenario(cluster, `rbac-no-${verb}-${resource}`);
            await addNode(cluster, s, "a", {
                annotations: { [SIM.pullSeconds]: "1", ...FAST_STATUS },
            });
            const kubeconfig = await accountWith(
                cluster,
                s.namespace,
                "prepuller",
                clusterScoped ? without(CLUSTER_RULES, resource, verb) : CLUSTER_RULES,
                clusterScoped ? NAMESPACE_RULES : without(NAMESPACE_RULES, resource, verb),
            );
            await assert.rejects(
                create(cluster, {
                    images: ["python:3.0"],
                    namespace: s.namespace,
                    nodeSelector: s.nodeSelector,
                    kubeconfig,
                    timeoutSeconds: 60,
                }),
                (e: Error) => {
                    assert.match(e.message, new RegExp(`"${verb}" on "${resource}"`));
                    return true;
                },
            );
            // With admin rights, remove anything the crippled account could not (e.g. without delete).
            await removeAllOurs(cluster, s.namespace);
        });
    }

    it("pre-pull pods are admitted in a namespace enforcing Pod Security restricted", async () => {
        const s = await newScenario(cluster, "pod-security");
        await cluster.core.patchNamespace(
            {
                name: s.namespace,
                body: { metadata: { labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
            },
            cluster.lib.setHeaderOptions("Content-Type", cluster.lib.PatchStrategy.MergePatch),
        );
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        const result = await create(cluster, {
            images: ["python:2.7"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            timeoutSeconds: 60,
        });
        assert.equal(result.skipped, false);
        await assertNothingLeft(cluster, s.namespace);
    });

    it("rejects 30+ bad inputs at check, naming the property, and creates nothing", async () => {
        const s = await newScenario(cluster, "bad-input");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        const bad: Record<string, unknown>[] = [
            {},
            { images: [] },
            { images: "python" },
            { images: [1] },
            { images: ["upper/Case"] },
            { images: ["a:b:c"] },
            { images: ["python@sha256:123"] },
            { images: [`p:${"x".repeat(200)}`] },
            { images: ["-lead"] },
            { images: ["python"], namespace: "Bad_NS" },
            { images: ["python"], namespace: 5 },
            { images: ["python"], nodeSelector: [] },
            { images: ["python"], nodeSelector: { "a b": "c" } },
            { images: ["python"], nodeSelector: { a: "b c" } },
            { images: ["python"], tolerations: "all" },
            { images: ["python"], tolerations: [{ key: "k", operator: "Sometimes" }] },
            { images: ["python"], tolerations: [{ key: "k", operator: "Exists", value: "v" }] },
            { images: ["python"], tolerations: [{ key: "k", effect: "Never" }] },
            { images: ["python"], tolerations: ["k"] },
            { images: ["python"], affinity: [] },
            { images: ["python"], affinity: { podAffinity: {} } },
            { images: ["python"], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } } },
            {
                images: ["python"],
                affinity: {
                    nodeAffinity: {
                        requiredDuringSchedulingIgnoredDuringExecution: {
                            nodeSelectorTerms: [{ matchExpressions: [{ key: "k", operator: "Has" }] }],
                        },
                    },
                },
            },
            { images: ["python"], imagePullSecrets: "regcred" },
            { images: ["python"], imagePullSecrets: ["Reg Cred"] },
            { images: ["python"], priorityClassName: "High!" },
            { images: ["python"], pollIntervalSeconds: -1 },
            { images: ["python"], pollIntervalSeconds: "fast" },
            { images: ["python"], timeoutSeconds: 0 },
            { images: ["python"], timeoutSeconds: 1, pollIntervalSeconds: 5 },
            { images: ["python"], kubeconfig: 42 },
            { images: ["python"], kubeconfig: "/no/such/kubeconfig" },
            { images: ["python"], context: "nope", kubeconfig: cluster.kubeconfig },
            { images: ["python"], helperImage: "UPPER" },
            { images: ["python"], pauseImage: "" + "pause@sha256:0" },
            { images: ["python"], daemonSetPatch: "spec: {}" },
            { images: ["python"], ownerId: "Not Valid" },
            { images: ["python"], unknownThing: true },
        ];
        assert.ok(bad.length >= 30);
        for (const news of bad) {
            const { failures } = await prePullProvider.check!(
                {},
                { kubeconfig: cluster.kubeconfig, namespace: s.namespace, ...news },
            );
            assert.ok((failures ?? []).length > 0, `accepted ${JSON.stringify(news).slice(0, 200)}`);
            for (const f of failures!) assert.ok(f.property && f.reason, JSON.stringify(f));
        }
        assert.deepEqual(await leftovers(cluster, s.namespace), []);
        const all = await cluster.apps.listDaemonSetForAllNamespaces({
            labelSelector: "app.kubernetes.io/managed-by=pulumi-image-prepuller",
        });
        assert.deepEqual(
            all.items.filter((d) => d.metadata?.namespace === s.namespace),
            [],
        );
    });

    it("never prints or throws the kubeconfig's credentials", async () => {
        const s = await newScenario(cluster, "secrets");
        const bad = "registry.example.com/secret/unpullable:1";
        await addNode(cluster, s, "a", { annotations: { ...FAST_PULL, [SIM.unpullable]: bad } });
        const credential = /(?:client-key-data|token):\s*(\S+)/.exec(cluster.kubeconfig)![1]!;
        const printed: string[] = [];
        const original = console.log;
        console.log = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
        let message = "";
        try {
            await create(cluster, { images: [bad], namespace: s.namespace, nodeSelector: s.nodeSelector }).catch(
                (e: Error) => (message = `${e.message}\n${e.stack}`),
            );
            const checked = await prePullProvider.check!(
                {},
                { images: ["python"], kubeconfig: cluster.kubeconfig, context: "absent" },
            );
            message += JSON.stringify(checked.failures);
        } finally {
            console.log = original;
        }
        assert.ok(message.length > 0);
        assert.ok(!message.includes(credential), "a credential appears in an error");
        assert.ok(!printed.join("\n").includes(credential), "a credential appears in the output");
        await assertNothingLeft(cluster, s.namespace);
    });

    it("two pre-pullers in one namespace at once do not interfere", async () => {
        const s = await newScenario(cluster, "concurrent");
        await addNode(cluster, s, "a", { annotations: { [SIM.pullSeconds]: "1" } });
        await addNode(cluster, s, "b", { annotations: { [SIM.pullSeconds]: "1" } });
        const [first, second] = await Promise.all([
            create(cluster, { images: ["python:3.12-alpine"], namespace: s.namespace, nodeSelector: s.nodeSelector }),
            create(cluster, { images: ["node:22-alpine"], namespace: s.namespace, nodeSelector: s.nodeSelector }),
        ]);
        assert.notEqual(first.ownerId, second.ownerId);
        assert.equal(first.nodes.length, 2);
        assert.equal(second.nodes.length, 2);
        await assertNothingLeft(cluster, s.namespace);
    });
});
