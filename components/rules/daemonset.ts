/**
 * The pre-pull DaemonSet, rendered as a plain manifest. Each image gets an init container
 * that runs a no-op binary from a shared emptyDir, so images without a shell or any binary
 * (distroless, scratch) work: the helper image copies its statically linked `true` there first.
 */
import type { V1Affinity, V1Toleration } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { excludeNodes, requireLabel, restrictToNodes } from "./batches";
import { OS_LABEL } from "./eligibility";
import type { PrePullInputs } from "./inputs";
import type { Pod } from "./wire";

export const LABEL_NAME = "app.kubernetes.io/name";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_OWNER = "prepuller.pulumi.com/owner";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
/** With parallelPulls, which of a node's pre-pull pods (and DaemonSets) this is: "0", "1", ... */
export const LABEL_PULL_GROUP = "prepuller.pulumi.com/pull-group";
/**
 * Which run of a blocking pre-pull made a DaemonSet and its pods, in its selector too: the run
 * watches exactly its own pods by label, and no DaemonSet adopts the pods of an earlier run's.
 */
export const LABEL_RUN = "prepuller.pulumi.com/run";
export const APP_NAME = "image-prepuller";
export const MANAGER = "pulumi-image-prepuller";

const NOOP_VOLUME = "prepuller-noop";
const NOOP_DIR = "/prepuller";
/** Busybox dispatches on its program name, so the copy must be called `true`. */
const NOOP_BINARY = `${NOOP_DIR}/true`;
const NONROOT_UID = 65534;
/** The init container that copies the helper image's no-op into the pods' shared volume. */
export const HELPER_CONTAINER = "install-noop";

export interface DaemonSetSpecification {
    name: string;
    namespace: string;
    ownerId: string;
    images: readonly string[];
    helperImage: string;
    pauseImage: string;
    nodeSelector?: Record<string, string>;
    tolerations?: readonly V1Toleration[];
    affinity?: V1Affinity;
    imagePullSecrets?: readonly string[];
    priorityClassName?: string;
    daemonSetPatch?: Record<string, unknown>;
    /**
     * Confine the pods to these nodes (`maxParallelNodes`); must be non-empty when given. Pods
     * are then never restarted by a template change, so moving the batch never interrupts a pull.
     */
    nodeBatch?: readonly string[];
    /**
     * The blocking pre-pull's DaemonSet: keep it off these nodes (see nodesToKeepOut), which the
     * DaemonSet controller would otherwise pull on. Given, even empty, the pods are never restarted
     * by a template change (OnDelete), so updating the list never interrupts a pull. Absent: the
     * continuous puller (a rolling update carries new images to its pods).
     */
    keepOut?: readonly string[];
    /** Labels added to the DaemonSet and its pods (not to the selector). */
    extraLabels?: Record<string, string>;
    /**
     * One of several DaemonSets of a pre-pull that spreads each node's images over several pods
     * (parallelPulls): its index labels it and its pods, in its selector too, so that no two
     * select each other's pods. Absent: the only one.
     */
    group?: number;
    /** The blocking pre-pull's run (LABEL_RUN); absent for the continuous puller. */
    run?: string;
}

/** The DaemonSet both modes render: the user's pod shape and scheduling. */
export function daemonSetSpecification(inputs: PrePullInputs): Omit<DaemonSetSpecification, "name" | "ownerId"> {
    return {
        namespace: inputs.namespace,
        images: inputs.images,
        helperImage: inputs.helperImage,
        pauseImage: inputs.pauseImage,
        nodeSelector: inputs.nodeSelector,
        tolerations: inputs.tolerations,
        affinity: inputs.affinity,
        imagePullSecrets: inputs.imagePullSecrets,
        priorityClassName: inputs.priorityClassName,
        daemonSetPatch: inputs.daemonSetPatch,
    };
}

export function ownerLabels(ownerId: string): Record<string, string> {
    return { [LABEL_NAME]: APP_NAME, [LABEL_MANAGED_BY]: MANAGER, [LABEL_OWNER]: ownerId };
}

/** Label selector string for everything one pre-puller owns. */
export function ownerSelector(ownerId: string): string {
    return `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_OWNER}=${ownerId}`;
}

/** Label selector string for the pods of one run of a pre-puller. */
export function runSelector(ownerId: string, run: string): string {
    return `${ownerSelector(ownerId)},${LABEL_RUN}=${run}`;
}

/** The pre-pull DaemonSet's name; with parallelPulls, the first keeps it and the others add -p2, -p3, ... */
export function daemonSetName(ownerId: string, group = 0): string {
    return group === 0 ? ownerId : `${ownerId}-p${group + 1}`;
}

/** Pods of these DaemonSets (by UID): a leftover of an earlier run is neither evidence nor a problem. */
export function ownPods(pods: readonly Pod[], daemonSetUids: readonly string[]): Pod[] {
    return pods.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => daemonSetUids.includes(o.uid)));
}

/** "DaemonSet ns/a", or "DaemonSets ns/a, ns/a-p2" (parallelPulls), for messages. */
export function describeDaemonSets(namespace: string, names: readonly string[]): string {
    return `DaemonSet${names.length === 1 ? "" : "s"} ${names.map((n) => `${namespace}/${n}`).join(", ")}`;
}

/**
 * The images of each of a node's pre-pull pods: `parallelPulls` pods at most (never more than
 * images), dealt in the given order (the first pod gets the 1st, (n+1)th, ... image), so that
 * each pod pulls its share in sequence while the pods pull at the same time.
 */
export function pullGroups(images: readonly string[], parallelPulls = 1): string[][] {
    const count = Math.max(1, Math.min(parallelPulls, images.length));
    const groups: string[][] = Array.from({ length: count }, () => []);
    images.forEach((image, index) => groups[index % count]!.push(image));
    return groups;
}

const containerSecurityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: NONROOT_UID,
    runAsGroup: NONROOT_UID,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

const smallResources = {
    requests: { cpu: "1m", memory: "8Mi" },
    limits: { memory: "64Mi" },
};

export function renderDaemonSet(spec: DaemonSetSpecification): Record<string, unknown> {
    const labels: Record<string, string> = { ...ownerLabels(spec.ownerId) };
    if (spec.group !== undefined) labels[LABEL_PULL_GROUP] = String(spec.group);
    if (spec.run !== undefined) labels[LABEL_RUN] = spec.run;
    const podLabels = { ...spec.extraLabels, ...labels };
    const noopMount = [{ name: NOOP_VOLUME, mountPath: NOOP_DIR }];
    const pullContainers = spec.images.map((image, index) => ({
        name: `pull-${index}`,
        image,
        imagePullPolicy: "IfNotPresent",
        command: [NOOP_BINARY],
        volumeMounts: [{ ...noopMount[0], readOnly: true }],
        securityContext: containerSecurityContext,
        resources: smallResources,
    }));
    const podSpec: Record<string, unknown> = {
        initContainers: [
            {
                name: HELPER_CONTAINER,
                image: spec.helperImage,
                imagePullPolicy: "IfNotPresent",
                command: ["cp", "/bin/true", NOOP_BINARY],
                volumeMounts: noopMount,
                securityContext: containerSecurityContext,
                resources: smallResources,
            },
            ...pullContainers,
        ],
        containers: [
            {
                name: "pause",
                image: spec.pauseImage,
                imagePullPolicy: "IfNotPresent",
                securityContext: containerSecurityContext,
                resources: smallResources,
            },
        ],
        volumes: [{ name: NOOP_VOLUME, emptyDir: { sizeLimit: "16Mi" } }],
        terminationGracePeriodSeconds: 0,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: NONROOT_UID,
            runAsGroup: NONROOT_UID,
            seccompProfile: { type: "RuntimeDefault" },
        },
    };
    if (spec.nodeSelector && Object.keys(spec.nodeSelector).length > 0) podSpec.nodeSelector = spec.nodeSelector;
    if (spec.tolerations && spec.tolerations.length > 0) podSpec.tolerations = spec.tolerations;
    if (spec.affinity) podSpec.affinity = spec.affinity;
    if (spec.imagePullSecrets && spec.imagePullSecrets.length > 0) {
        podSpec.imagePullSecrets = spec.imagePullSecrets.map((name) => ({ name }));
    }
    if (spec.priorityClassName) podSpec.priorityClassName = spec.priorityClassName;

    const rendered: Record<string, unknown> = {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: spec.name, namespace: spec.namespace, labels: { ...podLabels } },
        spec: {
            selector: { matchLabels: { ...labels } },
            updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "100%" } },
            template: { metadata: { labels: { ...podLabels } }, spec: podSpec },
        },
    };
    const patched = spec.daemonSetPatch
        ? reassertIdentity(
              mergePatch(rendered, spec.daemonSetPatch) as Record<string, unknown>,
              spec,
              labels,
              podLabels,
          )
        : rendered;
    return place(patched, spec);
}

/**
 * Applied after the user's patch, which cannot undo it: Linux nodes only (the pull containers
 * run Linux binaries; Windows nodes are never eligible), and for the blocking pre-pull the batch
 * (what bounds parallelism) or the nodes to keep out.
 */
function place(manifest: Record<string, unknown>, spec: DaemonSetSpecification): Record<string, unknown> {
    const dsSpec = asRecord(manifest.spec);
    const template = asRecord(dsSpec.template);
    const podSpec = asRecord(template.spec);
    let affinity: V1Affinity | undefined = requireLabel(podSpec.affinity as V1Affinity | undefined, {
        key: OS_LABEL,
        operator: "NotIn",
        values: ["windows"],
    });
    if (spec.nodeBatch) affinity = restrictToNodes(affinity, spec.nodeBatch);
    else if (spec.keepOut) affinity = excludeNodes(affinity, spec.keepOut);
    podSpec.affinity = affinity;
    template.spec = podSpec;
    dsSpec.template = template;
    if (spec.nodeBatch || spec.keepOut) dsSpec.updateStrategy = { type: "OnDelete" };
    return { ...manifest, spec: dsSpec };
}

/** A patch may add labels or change anything else, but not what cleanup and presence depend on. */
function reassertIdentity(
    manifest: Record<string, unknown>,
    spec: DaemonSetSpecification,
    labels: Record<string, string>,
    podLabels: Record<string, string>,
): Record<string, unknown> {
    const metadata = asRecord(manifest.metadata);
    metadata.name = spec.name;
    metadata.namespace = spec.namespace;
    metadata.labels = { ...asRecord(metadata.labels), ...podLabels };
    manifest.metadata = metadata;
    const dsSpec = asRecord(manifest.spec);
    dsSpec.selector = { matchLabels: { ...labels } };
    const template = asRecord(dsSpec.template);
    const templateMeta = asRecord(template.metadata);
    templateMeta.labels = { ...asRecord(templateMeta.labels), ...podLabels };
    template.metadata = templateMeta;
    dsSpec.template = template;
    manifest.spec = dsSpec;
    manifest.apiVersion = "apps/v1";
    manifest.kind = "DaemonSet";
    return manifest;
}

function asRecord(value: unknown): Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? { ...(value as object) } : {};
}

/** RFC 7386 JSON Merge Patch: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
        return patch;
    }
    const result: Record<string, unknown> = asRecord(target);
    for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
        if (value === null) {
            delete result[key];
        } else {
            result[key] = mergePatch(result[key], value);
        }
    }
    return result;
}
