/**
 * Least privilege and secrets on the local cluster: the README's RBAC rules are enough and each
 * one is needed; the pods are admitted under Pod Security "restricted"; bad input creates
 * nothing; credentials never show up in output or errors; two owners in one namespace coexist.
 */
import * as assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { prePullProvider } from "../../components/pulumi/provider";
import { sharedCluster, FAST_PULL, SIM, type TestCluster, FAST_STATUS } from "../../harness/cluster";
import {
    addNode,
    assertNothingLeft,
    create,
    createPullSecret,
    leftovers,
    newScenario,
    removeAllOurs,
    waitFor,
} from "../../harness/scenario";
import { withConsoleLines } from "../support/console";

/** The rules README.md documents as required (events and secrets are optional, and tested apart). */
const CLUSTER_RULES: k8s.V1PolicyRule[] = [{ apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] }];
const NAMESPACE_RULES: k8s.V1PolicyRule[] = [
    { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["create", "get", "list", "delete", "patch"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    { apiGroups: [""], resources: ["events"], verbs: ["list", "watch"] },
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
    await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    await grant(cluster, namespace, name, clusterRules, namespaceRules);
    await waitAuthorized(cluster, namespace, name, [...clusterRules, ...namespaceRules]);
    return kubeconfigFor(cluster, namespace, name);
}

/**
 * Waits until the authorizer allows each rule's first verb to the ServiceAccount (RBAC changes
 * reach its cache quickly, but not at once); a rule without verbs is skipped.
 */
async function waitAuthorized(
    cluster: TestCluster,
    namespace: string,
    name: string,
    rules: k8s.V1PolicyRule[],
): Promise<void> {
    const authorization = cluster.kc.makeApiClient(cluster.lib.AuthorizationV1Api);
    const user = `system:serviceaccount:${namespace}:${name}`;
    await waitFor(
        async () => {
            for (const rule of rules) {
                const verb = rule.verbs[0];
                if (!verb) continue;
                const review = await authorization.createSubjectAccessReview({
                    body: {
                        spec: {
                            user,
                            resourceAttributes: {
                                verb,
                                group: rule.apiGroups?.[0] ?? "",
                                resource: rule.resources?.[0],
                                name: rule.resourceNames?.[0],
                                namespace: rule.resources?.[0] === "nodes" ? undefined : namespace,
                            },
                        },
                    },
                });
                if (!review.status?.allowed) return false;
            }
            return true;
        },
        `the RBAC of ${user} to reach the authorizer`,
        30_000,
    );
}

/** Binds `clusterRules` and `namespaceRules` to the ServiceAccount `name`. */
async function grant(
    cluster: TestCluster,
    namespace: string,
    name: string,
    clusterRules: k8s.V1PolicyRule[],
    namespaceRules: k8s.V1PolicyRule[],
): Promise<void> {
    const rbac = cluster.kc.makeApiClient(cluster.lib.RbacAuthorizationV1Api);
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
}

/** A pre-pull of a public image naming the pull secret `secret`; returns its progress lines. */
async function createWithPullSecret(
    cluster: TestCluster,
    s: { namespace: string; nodeSelector: Record<string, string> },
    kubeconfig: string,
    secret: string,
    nodes: number,
): Promise<string[]> {
    const printed: string[] = [];
    await withConsoleLines(printed, async () => {
        const result = await create(cluster, {
            images: ["registry.example.com/public/notebook:1"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            imagePullSecrets: [secret],
            kubeconfig,
        });
        assert.equal(result.nodes.length, nodes);
    });
    return printed;
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
    async function fullPrePullWith(
        title: string,
        namespaceRules: k8s.V1PolicyRule[],
        extra: Record<string, unknown> = {},
        nodes = ["a", "b"],
    ): Promise<string[]> {
        const s = await newScenario(cluster, title);
        for (const n of nodes) await addNode(cluster, s, n, { annotations: FAST_PULL });
        const kubeconfig = await accountWith(cluster, s.namespace, "prepuller", CLUSTER_RULES, namespaceRules);
        const printed: string[] = [];
        await withConsoleLines(printed, async () => {
            const result = await create(cluster, {
                images: [`python:3.1-${title}`],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                kubeconfig,
                ...extra,
            });
            assert.equal(result.nodes.length, nodes.length);
        });
        await assertNothingLeft(cluster, s.namespace);
        return printed;
    }

    it("a ServiceAccount with exactly the documented RBAC runs a full pre-pull", async () => {
        await fullPrePullWith("rbac-full", NAMESPACE_RULES);
    });

    it("the documented RBAC covers maxParallelNodes (patch on daemonsets), and without patch the error names it", async () => {
        const printed = await fullPrePullWith("rbac-batches", NAMESPACE_RULES, { maxParallelNodes: 1 }, [
            "a",
            "b",
            "c",
        ]);
        assert.ok(
            printed.some((l) => /now pulling on/.test(l)),
            "the batch never moved",
        );
        const s = await newScenario(cluster, "rbac-no-patch");
        for (const n of ["a", "b"]) await addNode(cluster, s, n, { annotations: FAST_PULL });
        const kubeconfig = await accountWith(
            cluster,
            s.namespace,
            "prepuller",
            CLUSTER_RULES,
            without(NAMESPACE_RULES, "daemonsets", "patch"),
        );
        await assert.rejects(
            create(cluster, {
                images: ["python:3.1-no-patch"],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                kubeconfig,
                maxParallelNodes: 1,
            }),
            /"patch" on "daemonsets"/,
        );
        await removeAllOurs(cluster, s.namespace);
    });

    it('without the optional "list" on events a full pre-pull still completes, saying what it cannot see', async () => {
        const rules = NAMESPACE_RULES.filter((r) => !r.resources!.includes("events"));
        const printed = await fullPrePullWith("rbac-no-events", rules);
        assert.ok(
            printed.some((l) => /may not list events .* reported only at the timeout/.test(l)),
            printed.join("\n"),
        );
    });

    it("RBAC granted a few seconds after the run started (made in the same up) is waited for", async () => {
        const s = await newScenario(cluster, "rbac-late");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        await cluster.core.createNamespacedServiceAccount({
            namespace: s.namespace,
            body: { metadata: { name: "prepuller" } },
        });
        const kubeconfig = await kubeconfigFor(cluster, s.namespace, "prepuller");
        const creating = create(cluster, {
            images: ["python:3.1-rbac-late"],
            namespace: s.namespace,
            nodeSelector: s.nodeSelector,
            kubeconfig,
        });
        await new Promise((r) => setTimeout(r, 3000));
        await grant(cluster, s.namespace, "prepuller", CLUSTER_RULES, NAMESPACE_RULES);
        const result = await creating;
        assert.equal(result.nodes.length, 1);
        await assertNothingLeft(cluster, s.namespace);
    });

    it('"get" on secrets scoped to the pull secret (resourceNames): a missing one fails at once, and the check reads no data', async () => {
        const s = await newScenario(cluster, "rbac-scoped-secrets");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        await createPullSecret(cluster, s.namespace, { "registry.example.com": { username: "u", password: "p" } });
        const scoped = [
            ...NAMESPACE_RULES,
            { apiGroups: [""], resources: ["secrets"], resourceNames: ["regcred", "missing"], verbs: ["get"] },
        ];
        const kubeconfig = await accountWith(cluster, s.namespace, "prepuller", CLUSTER_RULES, scoped);
        const printed = await createWithPullSecret(cluster, s, kubeconfig, "regcred", 1);
        assert.ok(!printed.some((l) => /may not get secret/.test(l)), printed.join("\n"));
        await assert.rejects(
            create(cluster, {
                // Another image: with the first on every node already, the run would skip before any check.
                images: ["registry.example.com/public/notebook:2"],
                namespace: s.namespace,
                nodeSelector: s.nodeSelector,
                imagePullSecrets: ["missing"],
                kubeconfig,
            }),
            /imagePullSecrets: secret "missing" does not exist in namespace/,
        );
        // The same rules read the secret's metadata only: a full read through them returns no data.
        const lib = cluster.lib;
        const kc = new lib.KubeConfig();
        kc.loadFromString(kubeconfig);
        const core = kc.makeApiClient(lib.CoreV1Api);
        const metadataOnly = await core.readNamespacedSecret(
            { name: "regcred", namespace: s.namespace },
            lib.setHeaderOptions("Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
        );
        assert.equal(metadataOnly.data, undefined);
        assert.equal((metadataOnly as { kind?: string }).kind, "PartialObjectMetadata");
        await assertNothingLeft(cluster, s.namespace);
    });

    it('with "get" on secrets denied, a pull secret is left to the kubelet (it warns and pulls public images)', async () => {
        const s = await newScenario(cluster, "rbac-no-secrets");
        for (const n of ["a", "b"]) await addNode(cluster, s, n, { annotations: FAST_PULL });
        await createPullSecret(cluster, s.namespace, { "registry.example.com": { username: "u", password: "p" } });
        const kubeconfig = await accountWith(cluster, s.namespace, "prepuller", CLUSTER_RULES, NAMESPACE_RULES);
        const printed = await createWithPullSecret(cluster, s, kubeconfig, "regcred", 2);
        assert.ok(
            printed.some((l) =>
                /may not get secret "regcred" in namespace .*: if it is missing, the kubelet's pull errors tell/.test(
                    l,
                ),
            ),
            printed.join("\n"),
        );
        await assertNothingLeft(cluster, s.namespace);
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
    // "get" on daemonsets is needed only to recover from a lost create response and to notice a
    // DaemonSet deleted by someone else; untested here.
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
        // The negative control: the same namespace rejects a privileged pod.
        await assert.rejects(
            cluster.core.createNamespacedPod({
                namespace: s.namespace,
                body: {
                    metadata: { name: "privileged" },
                    spec: {
                        containers: [{ name: "c", image: "python:2.7", securityContext: { privileged: true } }],
                    },
                },
            }),
            /violates PodSecurity [\\"]+restricted/,
        );
        await assertNothingLeft(cluster, s.namespace);
    });

    it("rejects 30+ bad inputs at check, naming the property, and creates nothing", async () => {
        const s = await newScenario(cluster, "bad-input");
        await addNode(cluster, s, "a", { annotations: FAST_PULL });
        // Each bad input, and the property its failure must name.
        const bad: [Record<string, unknown>, string][] = [
            [{}, "images"],
            [{ images: [] }, "images"],
            [{ images: "python" }, "images"],
            [{ images: [1] }, "images[0]"],
            [{ images: ["upper/Case"] }, "images[0]"],
            [{ images: ["a:b:c"] }, "images[0]"],
            [{ images: ["python@sha256:123"] }, "images[0]"],
            [{ images: [`p:${"x".repeat(200)}`] }, "images[0]"],
            [{ images: ["-lead"] }, "images[0]"],
            [{ images: ["python"], namespace: "Bad_NS" }, "namespace"],
            [{ images: ["python"], namespace: 5 }, "namespace"],
            [{ images: ["python"], nodeSelector: [] }, "nodeSelector"],
            [{ images: ["python"], nodeSelector: { "a b": "c" } }, "nodeSelector"],
            [{ images: ["python"], nodeSelector: { a: "b c" } }, 'nodeSelector["a"]'],
            [{ images: ["python"], tolerations: "all" }, "tolerations"],
            [{ images: ["python"], tolerations: [{ key: "k", operator: "Sometimes" }] }, "tolerations[0].operator"],
            [
                { images: ["python"], tolerations: [{ key: "k", operator: "Exists", value: "v" }] },
                "tolerations[0].value",
            ],
            [{ images: ["python"], tolerations: [{ key: "k", effect: "Never" }] }, "tolerations[0].effect"],
            [{ images: ["python"], tolerations: ["k"] }, "tolerations[0]"],
            [{ images: ["python"], affinity: [] }, "affinity"],
            [{ images: ["python"], affinity: { podAffinity: {} } }, "affinity.podAffinity"],
            [
                {
                    images: ["python"],
                    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } },
                },
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            ],
            [
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
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            ],
            [{ images: ["python"], imagePullSecrets: "regcred" }, "imagePullSecrets"],
            [{ images: ["python"], imagePullSecrets: ["Reg Cred"] }, "imagePullSecrets[0]"],
            [{ images: ["python"], priorityClassName: "High!" }, "priorityClassName"],
            [{ images: ["python"], pollIntervalSeconds: -1 }, "pollIntervalSeconds"],
            [{ images: ["python"], pollIntervalSeconds: "fast" }, "pollIntervalSeconds"],
            [{ images: ["python"], timeoutSeconds: 0 }, "timeoutSeconds"],
            [{ images: ["python"], timeoutSeconds: 1, pollIntervalSeconds: 5 }, "timeoutSeconds"],
            [{ images: ["python"], kubeconfig: 42 }, "kubeconfig"],
            [{ images: ["python"], kubeconfig: "/no/such/kubeconfig" }, "kubeconfig"],
            [{ images: ["python"], context: "nope", kubeconfig: cluster.kubeconfig }, "context"],
            [{ images: ["python"], helperImage: "UPPER" }, "helperImage"],
            [{ images: ["python"], pauseImage: "pause@sha256:0" }, "pauseImage"],
            [{ images: ["python"], daemonSetPatch: "spec: {}" }, "daemonSetPatch"],
            [{ images: ["python"], ownerId: "Not Valid" }, "ownerId"],
            [{ images: ["python"], unknownThing: true }, "unknownThing"],
            [{ images: ["python"], maxParallelNodes: 0 }, "maxParallelNodes"],
            [{ images: ["python"], continuous: "yes" }, "continuous"],
        ];
        for (const [news, property] of bad) {
            const { failures } = await prePullProvider.check!(
                {},
                { kubeconfig: cluster.kubeconfig, namespace: s.namespace, ...news },
            );
            const input = JSON.stringify(news).slice(0, 200);
            assert.ok((failures ?? []).length > 0, `accepted ${input}`);
            assert.ok(
                failures!.some((f) => f.property === property && f.reason.length > 0),
                `${input}: expected a failure naming ${property}, got ${JSON.stringify(failures)}`,
            );
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
