import * as assert from "node:assert/strict";
import {
    daemonSetName,
    LABEL_COMPONENT,
    LABEL_OWNER,
    LABEL_PULL_GROUP,
    mergePatch,
    ownerSelector,
    pullGroups,
    renderDaemonSet,
    type DaemonSetSpecification,
} from "../../../components/rules/daemonset";
import { continuousPullerOwnerId, renderContinuousPuller } from "../../../components/rules/continuous";
import type { PrePullInputs } from "../../../components/rules/inputs";

const base: DaemonSetSpecification = {
    name: "prepull-hub-abc",
    namespace: "jhub",
    ownerId: "prepull-hub-abc",
    images: ["docker.io/library/python:3.12", "gcr.io/distroless/static:nonroot"],
    helperImage: "docker.io/library/busybox:1.37.0",
    pauseImage: "registry.k8s.io/pause:3.10",
    nodeSelector: { "hub.jupyter.org/node-purpose": "user" },
    tolerations: [{ key: "hub.jupyter.org/dedicated", operator: "Equal", value: "user", effect: "NoSchedule" }],
    imagePullSecrets: ["regcred"],
    priorityClassName: "user-placeholder",
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = any;

describe("DaemonSet rendering", () => {
    const ds: Manifest = renderDaemonSet(base);
    const pod = ds.spec.template.spec;

    it("runs one init container per image with a no-op from the shared volume, never a shell", () => {
        const pulls = pod.initContainers.slice(1);
        assert.deepEqual(
            pulls.map((c: Manifest) => c.image),
            base.images,
        );
        for (const c of pulls) {
            assert.deepEqual(c.command, ["/prepuller/true"]);
            assert.ok(c.volumeMounts.some((m: Manifest) => m.mountPath === "/prepuller"));
            assert.equal(c.imagePullPolicy, "IfNotPresent");
        }
        assert.equal(pod.initContainers[0].image, base.helperImage);
        assert.deepEqual(pod.initContainers[0].command, ["cp", "/bin/true", "/prepuller/true"]);
        assert.deepEqual(
            pod.containers.map((c: Manifest) => c.image),
            [base.pauseImage],
        );
    });

    it("is admitted under Pod Security restricted: non-root, no privilege escalation, all capabilities dropped", () => {
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        for (const c of [...pod.initContainers, ...pod.containers]) {
            assert.equal(c.securityContext.allowPrivilegeEscalation, false);
            assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
            assert.equal(c.securityContext.runAsNonRoot, true);
            assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
        }
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.terminationGracePeriodSeconds, 0);
        assert.ok(pod.volumes.every((v: Manifest) => v.emptyDir));
    });

    it("carries the user's scheduling constraints, pull secrets and priority class", () => {
        assert.deepEqual(pod.nodeSelector, base.nodeSelector);
        assert.deepEqual(pod.tolerations, base.tolerations);
        assert.deepEqual(pod.imagePullSecrets, [{ name: "regcred" }]);
        assert.equal(pod.priorityClassName, "user-placeholder");
    });

    it("labels the DaemonSet and its pods with the owner", () => {
        assert.equal(ds.metadata.labels[LABEL_OWNER], base.ownerId);
        assert.equal(ds.spec.selector.matchLabels[LABEL_OWNER], base.ownerId);
        assert.equal(ds.spec.template.metadata.labels[LABEL_OWNER], base.ownerId);
        assert.equal(ds.metadata.namespace, "jhub");
    });

    it("applies a merge patch but keeps name, namespace and owner labels", () => {
        const patched: Manifest = renderDaemonSet({
            ...base,
            daemonSetPatch: {
                metadata: { name: "hijack", labels: { team: "data", [LABEL_OWNER]: "other" }, annotations: { a: "b" } },
                spec: { selector: null, template: { spec: { priorityClassName: null, hostNetwork: false } } },
            },
        });
        assert.equal(patched.metadata.name, base.name);
        assert.equal(patched.metadata.labels.team, "data");
        assert.equal(patched.metadata.labels[LABEL_OWNER], base.ownerId);
        assert.equal(patched.metadata.annotations.a, "b");
        assert.equal(patched.spec.selector.matchLabels[LABEL_OWNER], base.ownerId);
        assert.equal(patched.spec.template.spec.priorityClassName, undefined);
        assert.equal(patched.spec.template.spec.hostNetwork, false);
        assert.equal(patched.spec.template.spec.initContainers.length, 3);
    });

    it("confines a batch to its nodes after the user's patch, and never restarts pods to move it", () => {
        const batched: Manifest = renderDaemonSet({
            ...base,
            nodeBatch: ["n1", "n2"],
            daemonSetPatch: { spec: { template: { spec: { affinity: null } } } },
        });
        const terms = batched.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
        assert.deepEqual(
            terms.nodeSelectorTerms.map((t: Manifest) => t.matchFields[0].values[0]),
            ["n1", "n2"],
        );
        assert.deepEqual(batched.spec.updateStrategy, { type: "OnDelete" });
        assert.equal(ds.spec.updateStrategy.type, "RollingUpdate");
    });

    it("keeps every DaemonSet off Windows nodes, after the user's patch", () => {
        for (const manifest of [
            ds,
            renderDaemonSet({ ...base, daemonSetPatch: { spec: { template: { spec: { affinity: null } } } } }),
            renderDaemonSet({ ...base, nodeBatch: ["n1"] }),
        ] as Manifest[]) {
            const terms =
                manifest.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
                    .nodeSelectorTerms;
            for (const term of terms) {
                assert.deepEqual(term.matchExpressions.at(-1), {
                    key: "kubernetes.io/os",
                    operator: "NotIn",
                    values: ["windows"],
                });
            }
        }
    });

    it("the blocking pre-pull keeps its pods off the nodes named, and never restarts pods to change them", () => {
        const pinned: Manifest = renderDaemonSet({ ...base, keepOut: ["cordoned-1", "sick-2"] });
        const terms =
            pinned.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
                .nodeSelectorTerms;
        assert.deepEqual(terms[0].matchFields, [
            { key: "metadata.name", operator: "NotIn", values: ["cordoned-1"] },
            { key: "metadata.name", operator: "NotIn", values: ["sick-2"] },
        ]);
        assert.deepEqual(pinned.spec.updateStrategy, { type: "OnDelete" });
        const none: Manifest = renderDaemonSet({ ...base, keepOut: [] });
        assert.deepEqual(none.spec.updateStrategy, { type: "OnDelete" });
        assert.equal(
            none.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
                .nodeSelectorTerms[0].matchFields,
            undefined,
        );
    });

    it("extra labels go on the DaemonSet and its pods, never into the selector", () => {
        const labelled: Manifest = renderDaemonSet({
            ...base,
            extraLabels: { [LABEL_COMPONENT]: "x", [LABEL_OWNER]: "no" },
        });
        assert.equal(labelled.metadata.labels[LABEL_COMPONENT], "x");
        assert.equal(labelled.spec.template.metadata.labels[LABEL_COMPONENT], "x");
        assert.equal(labelled.spec.selector.matchLabels[LABEL_COMPONENT], undefined);
        assert.equal(labelled.metadata.labels[LABEL_OWNER], base.ownerId);
    });

    it("parallelPulls deals the images in order over at most that many pods, never more than images", () => {
        const images = ["a", "b", "c", "d", "e"];
        assert.deepEqual(pullGroups(images), [images]);
        assert.deepEqual(pullGroups(images, 1), [images]);
        assert.deepEqual(pullGroups(images, 2), [
            ["a", "c", "e"],
            ["b", "d"],
        ]);
        assert.deepEqual(pullGroups(images, 8), [["a"], ["b"], ["c"], ["d"], ["e"]]);
        assert.deepEqual(pullGroups(["a"], 3), [["a"]]);
        assert.equal(daemonSetName("prepull-hub-abc"), "prepull-hub-abc");
        assert.equal(daemonSetName("prepull-hub-abc", 0), "prepull-hub-abc");
        assert.equal(daemonSetName("prepull-hub-abc", 2), "prepull-hub-abc-p3");
    });

    it("a pull group's DaemonSet selects only its own pods, while the owner selector finds all of them", () => {
        const groups = [0, 1].map((group): Manifest =>
            renderDaemonSet({ ...base, name: daemonSetName(base.ownerId, group), group }),
        );
        for (const [group, manifest] of groups.entries()) {
            assert.equal(manifest.spec.selector.matchLabels[LABEL_PULL_GROUP], String(group));
            assert.equal(manifest.spec.template.metadata.labels[LABEL_PULL_GROUP], String(group));
            // The template's labels satisfy its own selector and not the other group's.
            const other = groups[1 - group].spec.selector.matchLabels;
            const labels = manifest.spec.template.metadata.labels;
            assert.ok(Object.entries(manifest.spec.selector.matchLabels).every(([k, v]) => labels[k] === v));
            assert.ok(!Object.entries(other).every(([k, v]) => labels[k] === v));
            for (const term of ownerSelector(base.ownerId).split(",")) {
                const [k, v] = term.split("=");
                assert.equal(labels[k!], v);
            }
        }
        // A patch cannot take the group out of the selector.
        const patched: Manifest = renderDaemonSet({
            ...base,
            group: 1,
            daemonSetPatch: { spec: { selector: { matchLabels: { [LABEL_PULL_GROUP]: null } } } },
        });
        assert.equal(patched.spec.selector.matchLabels[LABEL_PULL_GROUP], "1");
        // The only DaemonSet (parallelPulls 1) renders as before: no group label.
        assert.equal(ds.spec.selector.matchLabels[LABEL_PULL_GROUP], undefined);
        assert.equal(ds.metadata.labels[LABEL_PULL_GROUP], undefined);
    });

    it("the continuous puller has the pre-pull pods' shape, under its own name and owner label", () => {
        const inputs: PrePullInputs = {
            ...base,
            images: [...base.images],
            tolerations: [...base.tolerations!],
            nodeSelector: base.nodeSelector!,
            imagePullSecrets: [...base.imagePullSecrets!],
            pollIntervalSeconds: 2,
            timeoutSeconds: 600,
        };
        const continuous: Manifest = renderContinuousPuller(inputs);
        assert.equal(continuous.metadata.name, continuousPullerOwnerId(base.ownerId));
        assert.match(continuous.metadata.name, /^continuous-/);
        assert.equal(continuous.spec.selector.matchLabels[LABEL_OWNER], continuousPullerOwnerId(base.ownerId));
        assert.equal(continuous.spec.template.metadata.labels[LABEL_COMPONENT], "continuous-puller");
        // The pre-pull's cleanup selects its owner label value exactly: it cannot match the continuous puller.
        assert.ok(!ownerSelector(continuousPullerOwnerId(base.ownerId)).endsWith(`=${base.ownerId}`));
        assert.deepEqual(continuous.spec.template.spec, pod);
    });

    it("merge patch follows RFC 7386", () => {
        assert.deepEqual(mergePatch({ a: "b", c: { d: "e", f: "g" } }, { a: "z", c: { f: null } }), {
            a: "z",
            c: { d: "e" },
        });
        assert.deepEqual(mergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
        assert.deepEqual(mergePatch({ a: "b" }, ["c"]), ["c"]);
    });
});
