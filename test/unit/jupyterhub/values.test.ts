import * as assert from "node:assert/strict";
import type { ImagePrePullerArgs } from "../../../components/pulumi/component";
import { normalizeInputs } from "../../../components/rules/inputs";
import { fromJupyterHubValues, type JupyterHubValuesOptions } from "../../../components/jupyterhub/values";
import { lintValues } from "../fixtures/jupyterhub-values";

// The published chart 4.4.0 tags its own images with the chart version.
const NETWORK_TOOLS = "quay.io/jupyterhub/k8s-network-tools:4.4.0";
const SINGLEUSER = "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0";
const USER_POD_TOLERATIONS = [
    { key: "hub.jupyter.org/dedicated", operator: "Equal", value: "user", effect: "NoSchedule" },
    { key: "hub.jupyter.org_dedicated", operator: "Equal", value: "user", effect: "NoSchedule" },
];
const NODE_PURPOSE_USER = {
    matchExpressions: [{ key: "hub.jupyter.org/node-purpose", operator: "In", values: ["user"] }],
};
const noMetadataBlock = { cloudMetadata: { blockWithIptables: false } };

function toleration(key: string) {
    return { key, operator: "Equal", value: "v", effect: "NoSchedule" };
}

function requiredTerm(key: string) {
    return { matchExpressions: [{ key, operator: "In", values: ["test"] }] };
}

function deepFreeze<T>(value: T): T {
    if (value !== null && typeof value === "object") {
        for (const child of Object.values(value)) deepFreeze(child);
        Object.freeze(value);
    }
    return value;
}

function checkFailures(args: object) {
    return normalizeInputs({ ...args }, undefined, () => "test-owner").failures;
}

describe("fromJupyterHubValues", () => {
    it("with empty values gives the chart's defaults: its user and network-tools images, user-pod tolerations", () => {
        assert.deepEqual(fromJupyterHubValues({}), {
            images: [NETWORK_TOOLS, SINGLEUSER],
            nodeSelector: {},
            tolerations: USER_POD_TOLERATIONS,
            imagePullSecrets: [],
        });
    });

    it("maps the chart's lint-and-validate values as the chart's puller DaemonSet renders them", () => {
        assert.deepEqual(fromJupyterHubValues(lintValues(), { releaseName: "jhub" }), {
            images: [
                NETWORK_TOOLS,
                SINGLEUSER,
                "mock-init-container-image",
                "mock-extra-container-image",
                "xyz:xyz",
                "xxx:xxx",
                "yyy:yyy",
                "mock-user/mock-image1:mock-tag",
                "mock-user/mock-image2:mock-tag",
            ],
            nodeSelector: { "mock-node-selector": "mock" },
            tolerations: [
                {
                    key: "mock-taint-key-userPods",
                    operator: "Equal",
                    value: "mock-taint-value-userPods",
                    effect: "NoSchedule",
                },
                {
                    effect: "NoSchedule",
                    key: "mock-taint-key-singleuser",
                    operator: "Equal",
                    value: "mock-taint-value-singleuser",
                },
                {
                    key: "mock-taint-key-prePuller",
                    operator: "Equal",
                    value: "mock-taint-value-prePuller",
                    effect: "NoSchedule",
                },
            ],
            affinity: {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [NODE_PURPOSE_USER, requiredTerm("hub.jupyter.org/test-required-node")],
                    },
                },
            },
            imagePullSecrets: ["a", "b", "image-pull-secret"],
            priorityClassName: "jhub-image-puller-priority",
        });
    });

    describe("pulls the images the chart's image pullers pull", () => {
        const cases: [string, Record<string, unknown>, string[], JupyterHubValuesOptions?][] = [
            ["the default user image, tagged with the chart version", { singleuser: noMetadataBlock }, [SINGLEUSER]],
            [
                "a custom user image",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        image: { name: "quay.io/jupyter/scipy-notebook", tag: "2025-03-14" },
                    },
                },
                ["quay.io/jupyter/scipy-notebook:2025-03-14"],
            ],
            [
                "a tag-only override with the chart's image name",
                { singleuser: { ...noMetadataBlock, image: { tag: "4.1.0" } } },
                ["quay.io/jupyterhub/k8s-singleuser-sample:4.1.0"],
            ],
            [
                "a name-only override with the chart version's tag (Helm merges the image map)",
                { singleuser: { ...noMetadataBlock, image: { name: "registry.example.com/singleuser-sample" } } },
                ["registry.example.com/singleuser-sample:4.4.0"],
            ],
            [
                "the network-tools image while the cloud metadata server is blocked (the default), before the user image",
                {},
                [NETWORK_TOOLS, SINGLEUSER],
            ],
            [
                "a custom network-tools image",
                { singleuser: { networkTools: { image: { name: "mirror.example.com/network-tools", tag: "1" } } } },
                ["mirror.example.com/network-tools:1", SINGLEUSER],
            ],
            ["no network-tools image without blockWithIptables", { singleuser: noMetadataBlock }, [SINGLEUSER]],
            [
                "no network-tools image when blockWithIptables is null (Helm deletes the default)",
                { singleuser: { cloudMetadata: { blockWithIptables: null } } },
                [SINGLEUSER],
            ],
            [
                "the legacy cloudMetadata.enabled: false as blocking, whatever blockWithIptables says",
                { singleuser: { cloudMetadata: { enabled: false, blockWithIptables: false } } },
                [NETWORK_TOOLS, SINGLEUSER],
            ],
            [
                "the legacy cloudMetadata.enabled: true as not blocking",
                { singleuser: { cloudMetadata: { enabled: true, blockWithIptables: true } } },
                [SINGLEUSER],
            ],
            [
                "init containers' images, then extra containers' images",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        extraContainers: [{ name: "sidecar", image: "example.com/sidecar:2" }],
                        initContainers: [
                            { name: "a", image: "example.com/init-a:1" },
                            { name: "b", image: "example.com/init-b:1" },
                        ],
                    },
                },
                [SINGLEUSER, "example.com/init-a:1", "example.com/init-b:1", "example.com/sidecar:2"],
            ],
            [
                "profileList kubespawner_override images, skipping profiles without one",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        profileList: [
                            { display_name: "default", default: true },
                            {
                                display_name: "gpu",
                                kubespawner_override: { image: "quay.io/jupyter/pytorch-notebook:cuda12" },
                            },
                            { display_name: "cpu only", kubespawner_override: { cpu_limit: 2 } },
                            {
                                display_name: "r",
                                kubespawner_override: { image: "quay.io/jupyter/r-notebook:2025-03-14" },
                            },
                        ],
                    },
                },
                [SINGLEUSER, "quay.io/jupyter/pytorch-notebook:cuda12", "quay.io/jupyter/r-notebook:2025-03-14"],
            ],
            [
                "profile_options choices' images by sorted option and choice key, not the unlisted_choice",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        profileList: [
                            {
                                display_name: "choose",
                                kubespawner_override: { image: "example.com/profile:1" },
                                profile_options: {
                                    zeta: {
                                        choices: { only: { kubespawner_override: { image: "example.com/zeta:1" } } },
                                    },
                                    image: {
                                        choices: {
                                            scipy: { kubespawner_override: { image: "example.com/scipy:1" } },
                                            base: { kubespawner_override: { image: "example.com/base:1" } },
                                            "no-image": { kubespawner_override: { mem_limit: "2G" } },
                                        },
                                        unlisted_choice: {
                                            enabled: true,
                                            kubespawner_override: { image: "example.com/custom:{value}" },
                                        },
                                    },
                                },
                            },
                        ],
                    },
                },
                [
                    SINGLEUSER,
                    "example.com/profile:1",
                    "example.com/base:1",
                    "example.com/scipy:1",
                    "example.com/zeta:1",
                ],
            ],
            [
                "no profileList images with prePuller.pullProfileListImages false",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        profileList: [
                            {
                                kubespawner_override: { image: "example.com/profile:1" },
                                profile_options: {
                                    image: { choices: { a: { kubespawner_override: { image: "example.com/a:1" } } } },
                                },
                            },
                        ],
                    },
                    prePuller: { pullProfileListImages: false },
                },
                [SINGLEUSER],
            ],
            [
                "prePuller.extraImages by sorted key, after everything else",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        profileList: [{ kubespawner_override: { image: "example.com/profile:1" } }],
                    },
                    prePuller: {
                        extraImages: {
                            spark: { name: "quay.io/jupyter/all-spark-notebook", tag: "2025-03-14" },
                            datascience: {
                                name: "quay.io/jupyter/datascience-notebook",
                                tag: "2025-03-14",
                                pullPolicy: "Always",
                            },
                        },
                    },
                },
                [
                    SINGLEUSER,
                    "example.com/profile:1",
                    "quay.io/jupyter/datascience-notebook:2025-03-14",
                    "quay.io/jupyter/all-spark-notebook:2025-03-14",
                ],
            ],
            [
                "each image once, merging references equal after normalization (first spelling kept)",
                {
                    singleuser: {
                        ...noMetadataBlock,
                        image: { name: "jupyter/base-notebook", tag: "x" },
                        initContainers: [{ name: "copy", image: "docker.io/jupyter/base-notebook:x" }],
                        profileList: [{ kubespawner_override: { image: "index.docker.io/jupyter/base-notebook:x" } }],
                    },
                    prePuller: { extraImages: { again: { name: "jupyter/base-notebook", tag: "x" } } },
                },
                ["jupyter/base-notebook:x"],
            ],
            [
                "the chart version's tag for the chart's own images",
                {},
                ["quay.io/jupyterhub/k8s-network-tools:4.1.0", "quay.io/jupyterhub/k8s-singleuser-sample:4.1.0"],
                { chartVersion: "4.1.0" },
            ],
            [
                "a pre-release chart version's tag",
                { singleuser: noMetadataBlock },
                ["quay.io/jupyterhub/k8s-singleuser-sample:4.0.0-beta.1"],
                { chartVersion: "4.0.0-beta.1" },
            ],
            [
                "explicit tags whatever the chart version, even a development build",
                { singleuser: { image: { tag: "a" }, networkTools: { image: { tag: "b" } } } },
                ["quay.io/jupyterhub/k8s-network-tools:b", "quay.io/jupyterhub/k8s-singleuser-sample:a"],
                { chartVersion: "4.4.1-0.dev.git.7.h1234abc" },
            ],
        ];
        for (const [behaviour, values, expected, options] of cases) {
            it(behaviour, () => {
                assert.deepEqual(fromJupyterHubValues(values, options).images, expected);
            });
        }

        it("ignores images outside the user pods: the hub's, the image awaiter's, the pause container's", () => {
            const values = {
                hub: { image: { name: "example.com/hub", tag: "1" } },
                prePuller: {
                    hook: { image: { name: "example.com/awaiter", tag: "1" } },
                    pause: { image: { name: "example.com/pause", tag: "1" } },
                },
            };
            assert.deepEqual(fromJupyterHubValues(values).images, [NETWORK_TOOLS, SINGLEUSER]);
        });
    });

    describe("schedules as the chart schedules its image pullers", () => {
        it("selects nodes by singleuser.nodeSelector only", () => {
            const values = {
                singleuser: { nodeSelector: { "hub.jupyter.org/node-purpose": "user", disk: "ssd" } },
                hub: { nodeSelector: { role: "core" } },
                prePuller: { hook: { nodeSelector: { role: "core" } } },
            };
            assert.deepEqual(fromJupyterHubValues(values).nodeSelector, {
                "hub.jupyter.org/node-purpose": "user",
                disk: "ssd",
            });
        });

        const tolerationCases: [string, Record<string, unknown>, object[]][] = [
            ["the user-pod tolerations by default", {}, USER_POD_TOLERATIONS],
            [
                "user-pod tolerations, then singleuser.extraTolerations, then prePuller.extraTolerations",
                {
                    prePuller: { extraTolerations: [toleration("puller")] },
                    singleuser: { extraTolerations: [toleration("singleuser")] },
                },
                [...USER_POD_TOLERATIONS, toleration("singleuser"), toleration("puller")],
            ],
            [
                "custom user-pod tolerations in place of the defaults",
                {
                    scheduling: { userPods: { tolerations: [toleration("gpu")] } },
                    prePuller: { extraTolerations: [toleration("puller")] },
                },
                [toleration("gpu"), toleration("puller")],
            ],
            [
                "no user-pod tolerations when they are emptied, the extra ones still",
                {
                    scheduling: { userPods: { tolerations: [] } },
                    prePuller: { extraTolerations: [toleration("puller")] },
                },
                [toleration("puller")],
            ],
            [
                "not the core pods' nor the image awaiter Job's tolerations",
                {
                    scheduling: { corePods: { tolerations: [toleration("core")] } },
                    prePuller: { hook: { tolerations: [toleration("hook")] } },
                },
                USER_POD_TOLERATIONS,
            ],
        ];
        for (const [behaviour, values, expected] of tolerationCases) {
            it(`tolerates ${behaviour}`, () => {
                assert.deepEqual(fromJupyterHubValues(values).tolerations, expected);
            });
        }

        const affinityCases: [string, string | undefined, object[], object[] | undefined][] = [
            ["no required affinity with the default prefer", undefined, [], undefined],
            ["the node-purpose term with require", "require", [], [NODE_PURPOSE_USER]],
            ["no required affinity with prefer (a preference only)", "prefer", [], undefined],
            ["no required affinity with ignore", "ignore", [], undefined],
            [
                "the node-purpose term, then singleuser.extraNodeAffinity.required, with require",
                "require",
                [requiredTerm("a"), requiredTerm("b")],
                [NODE_PURPOSE_USER, requiredTerm("a"), requiredTerm("b")],
            ],
            [
                "singleuser.extraNodeAffinity.required alone with prefer",
                "prefer",
                [requiredTerm("a")],
                [requiredTerm("a")],
            ],
            [
                "singleuser.extraNodeAffinity.required alone with ignore",
                "ignore",
                [requiredTerm("a")],
                [requiredTerm("a")],
            ],
        ];
        for (const [behaviour, matchNodePurpose, required, expectedTerms] of affinityCases) {
            it(`requires ${behaviour}`, () => {
                const values = {
                    scheduling: { userPods: { nodeAffinity: { matchNodePurpose } } },
                    singleuser: {
                        extraNodeAffinity: { required, preferred: [{ weight: 10, preference: requiredTerm("p") }] },
                    },
                };
                const expected =
                    expectedTerms === undefined
                        ? undefined
                        : {
                              nodeAffinity: {
                                  requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: expectedTerms },
                              },
                          };
                assert.deepEqual(fromJupyterHubValues(values).affinity, expected);
            });
        }
    });

    describe("uses the pull secrets the chart gives its image pullers", () => {
        const cases: [string, Record<string, unknown>, string[], JupyterHubValuesOptions?][] = [
            ["none by default", {}, []],
            [
                "singleuser.image.pullSecrets, then imagePullSecrets, as strings and { name } objects, de-duplicated",
                {
                    singleuser: { image: { pullSecrets: ["registry-a", { name: "registry-b" }] } },
                    imagePullSecrets: [{ name: "registry-a" }, "shared", "registry-b"],
                },
                ["registry-a", "registry-b", "shared"],
            ],
            [
                "not the hub's nor the image awaiter's pull secrets",
                {
                    hub: { image: { pullSecrets: ["hub-only"] } },
                    prePuller: { hook: { image: { pullSecrets: ["awaiter-only"] } } },
                },
                [],
            ],
            [
                'the secret the chart creates, named without prefix with fullnameOverride "" (the default)',
                { imagePullSecrets: ["shared"], imagePullSecret: { create: true } },
                ["shared", "image-pull-secret"],
            ],
            [
                "the created secret named after a string fullnameOverride",
                { fullnameOverride: "myhub", imagePullSecret: { create: true } },
                ["myhub-image-pull-secret"],
            ],
            [
                "the created secret named after the release and chart name with fullnameOverride null",
                { fullnameOverride: null, imagePullSecret: { create: true } },
                ["prod-jupyterhub-image-pull-secret"],
                { releaseName: "prod" },
            ],
            [
                "the created secret named after a release name that contains the chart name",
                { fullnameOverride: null, imagePullSecret: { create: true } },
                ["my-jupyterhub-image-pull-secret"],
                { releaseName: "my-jupyterhub" },
            ],
            [
                "the created secret named after the release and nameOverride",
                { fullnameOverride: null, nameOverride: "hub", imagePullSecret: { create: true } },
                ["prod-hub-image-pull-secret"],
                { releaseName: "prod" },
            ],
            [
                "not the created secret without automaticReferenceInjection",
                { imagePullSecret: { create: true, automaticReferenceInjection: false } },
                [],
            ],
        ];
        for (const [behaviour, values, expected, options] of cases) {
            it(behaviour, () => {
                assert.deepEqual(fromJupyterHubValues(values, options).imagePullSecrets, expected);
            });
        }
    });

    describe("uses the chart's image-puller priority class only with pod priority enabled", () => {
        const enabled = { scheduling: { podPriority: { enabled: true } } };
        const cases: [string, Record<string, unknown>, string | undefined, JupyterHubValuesOptions?][] = [
            ["none by default", {}, undefined, { releaseName: "jhub" }],
            [
                '<release>-image-puller-priority with fullnameOverride ""',
                enabled,
                "jhub-image-puller-priority",
                { releaseName: "jhub" },
            ],
            ["<fullnameOverride>-image-puller", { ...enabled, fullnameOverride: "myhub" }, "myhub-image-puller"],
            [
                "<release>-jupyterhub-image-puller with fullnameOverride null",
                { ...enabled, fullnameOverride: null },
                "jhub-jupyterhub-image-puller",
                { releaseName: "jhub" },
            ],
            [
                "options.priorityClassName in place of the chart's",
                enabled,
                "pullers-low",
                { priorityClassName: "pullers-low" },
            ],
            [
                "options.priorityClassName when the chart's pullers (and so their class) are disabled",
                { ...enabled, prePuller: { hook: { enabled: false }, continuous: { enabled: false } } },
                "pullers-low",
                { priorityClassName: "pullers-low" },
            ],
        ];
        for (const [behaviour, values, expected, options] of cases) {
            it(behaviour, () => {
                assert.equal(fromJupyterHubValues(values, options).priorityClassName, expected);
            });
        }
    });

    describe("asks for what the values cannot decide, saying which option and why", () => {
        const cases: [string, Record<string, unknown>, RegExp, JupyterHubValuesOptions?][] = [
            [
                'the release name for the priority class with fullnameOverride ""',
                { scheduling: { podPriority: { enabled: true } } },
                /options\.releaseName.*scheduling\.podPriority\.enabled.*<release name>-image-puller-priority/,
            ],
            [
                "the release name for the created pull secret with fullnameOverride null",
                { fullnameOverride: null, imagePullSecret: { create: true } },
                /options\.releaseName.*imagePullSecret\.create.*fullnameOverride null/,
            ],
            [
                "a priority class when the chart creates none (both of its pullers disabled)",
                {
                    scheduling: { podPriority: { enabled: true } },
                    prePuller: { hook: { enabled: false }, continuous: { enabled: false } },
                },
                /options\.priorityClassName.*creates no PriorityClass/,
            ],
            [
                "explicit tags for a development build of the chart",
                { singleuser: { image: { tag: "a" } } },
                /singleuser\.networkTools\.image\.tag: must be set explicitly: chart 4\.4\.1-0\.dev\.git\.7\.h1234abc is a development build/,
                { chartVersion: "4.4.1-0.dev.git.7.h1234abc" },
            ],
        ];
        for (const [behaviour, values, pattern, options] of cases) {
            it(behaviour, () => {
                assert.throws(() => fromJupyterHubValues(values, options), pattern);
            });
        }
    });

    describe("accepts only 4.x chart versions", () => {
        for (const chartVersion of ["3.3.8", "5.0.0", "v4.4.0", "4.4", "latest", ""]) {
            it(`rejects ${JSON.stringify(chartVersion)}`, () => {
                assert.throws(
                    () => fromJupyterHubValues({}, { chartVersion }),
                    /options\.chartVersion .* is not supported: .*4\.x/,
                );
            });
        }
        it("defaults to the 4.4.0 release", () => {
            assert.deepEqual(
                fromJupyterHubValues({}).images,
                fromJupyterHubValues({}, { chartVersion: "4.4.0" }).images,
            );
        });
    });

    describe("rejects bad values, naming the values path and what is allowed", () => {
        const cases: [string, unknown, RegExp][] = [
            ["values not a map", "singleuser: {}", /values must be an object/],
            ["a section not a map", { singleuser: "x" }, /singleuser: must be a map, got string/],
            [
                "an image name not a string",
                { singleuser: { image: { name: 7 } } },
                /singleuser\.image\.name: must be a non-empty string, got number 7/,
            ],
            [
                "an empty image tag",
                { singleuser: { image: { tag: "" } } },
                /singleuser\.image\.tag: must be a non-empty string/,
            ],
            [
                "a null image tag (deleting the default)",
                { singleuser: { image: { tag: null } } },
                /singleuser\.image\.tag: must be a non-empty string, got null/,
            ],
            [
                "an invalid image reference",
                { singleuser: { image: { name: "Jupyter/Base" } } },
                /singleuser\.image: .*must be lowercase/,
            ],
            [
                "a profileList not a list",
                { singleuser: { profileList: {} } },
                /singleuser\.profileList: must be a list/,
            ],
            [
                "a profile not a map",
                { singleuser: { profileList: ["gpu"] } },
                /singleuser\.profileList\[0\]: must be a map/,
            ],
            [
                "a profile image not a string",
                { singleuser: { profileList: [{ kubespawner_override: { image: 3 } }] } },
                /singleuser\.profileList\[0\]\.kubespawner_override\.image: must be an image reference, got number 3/,
            ],
            [
                "the chart's lint values' uppercase profile image",
                { singleuser: { profileList: [{}, { kubespawner_override: { image: "XYZ:XYZ" } }] } },
                /singleuser\.profileList\[1\]\.kubespawner_override\.image: "XYZ:XYZ" .*lowercase/,
            ],
            [
                "an invalid profile option choice image",
                {
                    singleuser: {
                        profileList: [
                            {
                                profile_options: {
                                    image: { choices: { a: { kubespawner_override: { image: "a b" } } } },
                                },
                            },
                        ],
                    },
                },
                /singleuser\.profileList\[0\]\.profile_options\.image\.choices\.a\.kubespawner_override\.image: "a b"/,
            ],
            [
                "an init container without an image",
                { singleuser: { initContainers: [{ name: "init" }] } },
                /singleuser\.initContainers\[0\]\.image: must be a non-empty string, got nothing/,
            ],
            [
                "an extra image without a tag",
                { prePuller: { extraImages: { spark: { name: "quay.io/jupyter/all-spark-notebook" } } } },
                /prePuller\.extraImages\.spark\.tag: must be a non-empty string/,
            ],
            [
                "an extra image not a map",
                { prePuller: { extraImages: { spark: "x:1" } } },
                /prePuller\.extraImages\.spark: must be a map with name and tag/,
            ],
            [
                "a switch not a boolean",
                { prePuller: { pullProfileListImages: "yes" } },
                /prePuller\.pullProfileListImages: must be true or false/,
            ],
            [
                "an unknown matchNodePurpose",
                { scheduling: { userPods: { nodeAffinity: { matchNodePurpose: "required" } } } },
                /scheduling\.userPods\.nodeAffinity\.matchNodePurpose: must be one of ignore, prefer, require/,
            ],
            [
                "tolerations not a list",
                { singleuser: { extraTolerations: { key: "k" } } },
                /singleuser\.extraTolerations: must be a list/,
            ],
            [
                "a toleration the pre-puller would reject",
                { prePuller: { extraTolerations: [{ key: "k", operator: "Matches" }] } },
                /prePuller\.extraTolerations\[0\]\.operator: "Matches" is not a toleration operator; allowed: Equal, Exists/,
            ],
            [
                "a node selector value not a string",
                { singleuser: { nodeSelector: { gpu: true } } },
                /singleuser\.nodeSelector\["gpu"\]: must be a string/,
            ],
            [
                "a required affinity term the pre-puller would reject",
                {
                    scheduling: { userPods: { nodeAffinity: { matchNodePurpose: "require" } } },
                    singleuser: {
                        extraNodeAffinity: { required: [{ matchExpressions: [{ key: "k", operator: "Near" }] }] },
                    },
                },
                /singleuser\.extraNodeAffinity\.required\[0\]\.matchExpressions\[0\]\.operator: "Near" is not allowed/,
            ],
            [
                "a pull secret neither name nor { name }",
                { imagePullSecrets: ["ok", 5] },
                /imagePullSecrets\[1\]: must be a secret name or \{ name: <secret name> \}/,
            ],
            [
                "an invalid pull secret name",
                { singleuser: { image: { pullSecrets: ["My_Secret"] } } },
                /singleuser\.image\.pullSecrets\[0\]: "My_Secret" is not a valid secret name/,
            ],
            [
                "a fullnameOverride that makes an invalid secret name",
                { fullnameOverride: "My_Hub", imagePullSecret: { create: true } },
                /fullnameOverride: "My_Hub-image-pull-secret" is not a valid secret name/,
            ],
            [
                "a fullnameOverride not a string",
                { fullnameOverride: 1, imagePullSecret: { create: true } },
                /fullnameOverride: must be a string or null/,
            ],
        ];
        for (const [behaviour, values, pattern] of cases) {
            it(behaviour, () => {
                const options = { releaseName: "jhub" };
                assert.throws(() => fromJupyterHubValues(values as Record<string, unknown>, options), pattern);
            });
        }
    });

    describe("is pure", () => {
        it("never modifies its input (deep-frozen values work) and returns data of its own", () => {
            const values = deepFreeze(lintValues());
            const result = fromJupyterHubValues(values, { releaseName: "jhub" });
            assert.deepEqual(values, lintValues());
            result.tolerations[0]!.value = "changed";
            result.affinity!.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1]!.matchExpressions!.push(
                { key: "k", operator: "Exists" },
            );
            assert.deepEqual(
                fromJupyterHubValues(values, { releaseName: "jhub" }),
                fromJupyterHubValues(lintValues(), { releaseName: "jhub" }),
            );
        });
    });

    describe("gives arguments that pass the provider's check", () => {
        const cases: [string, Record<string, unknown>][] = [
            ["the defaults", {}],
            ["the chart's lint values", lintValues()],
            [
                "required affinity, pod priority and pull secrets",
                {
                    scheduling: {
                        podPriority: { enabled: true },
                        userPods: { nodeAffinity: { matchNodePurpose: "require" } },
                    },
                    imagePullSecrets: [{ name: "shared" }, "shared"],
                    imagePullSecret: { create: true },
                },
            ],
        ];
        for (const [behaviour, values] of cases) {
            it(behaviour, () => {
                const result = fromJupyterHubValues(values, { releaseName: "jhub" });
                const args: ImagePrePullerArgs = { ...result, namespace: "jhub" };
                assert.deepEqual(checkFailures(args), []);
            });
        }
    });
});

describe("fromJupyterHubValues with values layered as deployments layer them", () => {
    // A common file for every hub, then the file of one hub, as `helm -f common.yaml -f hub.yaml`.
    const common = {
        singleuser: {
            image: { name: "quay.io/jupyter/scipy-notebook", tag: "2025-03-14" },
            nodeSelector: { "node-pool": "users", "topology.kubernetes.io/zone": "a" },
            extraTolerations: [toleration("gpu")],
            profileList: [
                { display_name: "SciPy", default: true },
                { display_name: "R", kubespawner_override: { image: "quay.io/jupyter/r-notebook:2025-03-14" } },
            ],
        },
        prePuller: { extraImages: { legacy: { name: "quay.io/example/legacy", tag: "1" } } },
    };
    const hub = {
        singleuser: {
            image: { tag: "2025-04-01" },
            nodeSelector: { "topology.kubernetes.io/zone": null },
            profileList: [{ display_name: "SciPy", default: true }],
        },
        prePuller: { extraImages: { legacy: null, tools: { name: "quay.io/example/tools", tag: "2" } } },
    };

    it("later files win, maps merge, lists are replaced, and null drops what an earlier file set", () => {
        const args = fromJupyterHubValues([common, hub]);
        assert.deepEqual(args.nodeSelector, { "node-pool": "users" });
        assert.deepEqual(args.images, [
            NETWORK_TOOLS,
            "quay.io/jupyter/scipy-notebook:2025-04-01",
            "quay.io/example/tools:2",
        ]);
        assert.deepEqual(args.tolerations, [...USER_POD_TOLERATIONS, toleration("gpu")]);
        assert.deepEqual(checkFailures(args), []);
    });

    it("a null entry in a map the chart does not default is absent, in one file too", () => {
        const args = fromJupyterHubValues({ singleuser: { nodeSelector: { pool: "users", zone: null } } });
        assert.deepEqual(args.nodeSelector, { pool: "users" });
        assert.deepEqual(checkFailures(args), []);
    });

    it("a layer that is not a map names the file", () => {
        assert.throws(() => fromJupyterHubValues([common, [] as never]), /file 2 of 2 must be an object, got an array/);
    });
});
