/**
 * The API side of the pre-pull DaemonSets (one, or one per pull group with parallelPulls):
 * creating them (safe to retry), moving their batch of nodes (maxParallelNodes), the pull secrets
 * they name, reading them back, and the kubelet's Pulled events the pull report takes sizes from.
 * The watches a run holds are ./node-watch, ./pod-watch and ./event-watch.
 */
import type { ClusterClient } from "../cluster/client";
import { statusCode } from "../cluster/errors";
import { nextBatch } from "../rules/batches";
import type { PrePullInputs } from "../rules/inputs";
import type { Pod } from "../rules/wire";
import type { CreatedDaemonSet } from "./cleanup";
import type { Logger } from "./shared";

/** The Accept header of a metadata-only read (PartialObjectMetadata): no spec, no status, no data. */
const METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

export async function createDaemonSet(
    cluster: ClusterClient,
    namespace: string,
    manifest: Record<string, unknown>,
): Promise<CreatedDaemonSet> {
    // A retry after a lost response (connection reset, timeout) finds the DaemonSet the first
    // attempt created: 409 on a retry means it exists, and a read tells its UID.
    const name = (manifest.metadata as { name: string }).name;
    let attempts = 0;
    const created = await cluster.call({ verb: "create", resource: "daemonsets", namespace }, async (options) => {
        attempts++;
        try {
            return await cluster.apps.createNamespacedDaemonSet({ namespace, body: manifest as never }, options);
        } catch (e) {
            if (attempts > 1 && statusCode(e) === 409) {
                return cluster.apps.readNamespacedDaemonSet({ name, namespace }, options);
            }
            throw e;
        }
    });
    const uid = created.metadata?.uid;
    if (!uid) throw new Error(`image-prepuller: the API server returned DaemonSet ${namespace}/${name} without a UID`);
    return { namespace, name, uid };
}

/**
 * Where the DaemonSet may run, kept current as nodes change: with maxParallelNodes, a batch of
 * nodes that still miss images (nodes that finished leave it and waiting ones join); without it,
 * every selected node but those it must be kept off (cordoned, not ready, pressured: see
 * nodesToKeepOut). Each change is a merge patch of its affinity; the DaemonSet's OnDelete strategy
 * leaves the other pods pulling.
 */
export class Placement {
    constructor(
        private readonly cluster: ClusterClient,
        /** Every DaemonSet of the run (parallelPulls: one per pull group): they share one placement. */
        private readonly daemonSets: readonly CreatedDaemonSet[],
        private readonly render: (
            batch: readonly string[] | undefined,
            keepOut: readonly string[],
        ) => Record<string, unknown>,
        private readonly maxParallel: number | undefined,
        private batch: readonly string[] | undefined,
        private keepOut: readonly string[],
        private readonly log: Logger,
    ) {}

    /** The nodes of the current batch; undefined without maxParallelNodes (every missing node may pull). */
    current(): readonly string[] | undefined {
        return this.batch;
    }

    async move(missingNodes: readonly string[], keepOut: readonly string[]): Promise<void> {
        let next = this.batch;
        if (this.maxParallel !== undefined) {
            const candidate = nextBatch(this.batch ?? [], missingNodes, this.maxParallel);
            if (candidate.length > 0) next = candidate;
        }
        // A batch names only eligible nodes: nothing else to keep out.
        const nextKeepOut = this.maxParallel === undefined ? keepOut : [];
        const sameBatch = canonicalList(next ?? []) === canonicalList(this.batch ?? []);
        if (sameBatch && canonicalList(nextKeepOut) === canonicalList(this.keepOut)) return;
        await this.patchAffinity(this.render(next, nextKeepOut));
        const added = (next ?? []).filter((n) => !(this.batch ?? []).includes(n));
        if (added.length > 0) this.log(`image-prepuller: now pulling on ${added.join(", ")}`);
        const kept = nextKeepOut.filter((n) => !this.keepOut.includes(n));
        if (kept.length > 0) {
            this.log(
                `image-prepuller: keeping the pre-pull pods off ${kept.join(", ")} (not eligible; the DaemonSet controller would run them there)`,
            );
        }
        this.batch = next;
        this.keepOut = nextKeepOut;
    }

    /** Only the node affinity changes (a merge patch replaces its term list), the same on every DaemonSet. */
    private async patchAffinity(manifest: Record<string, unknown>): Promise<void> {
        const template = (manifest.spec as { template: { spec: { affinity: unknown } } }).template;
        for (const daemonSet of this.daemonSets) await this.patchOne(daemonSet, template.spec.affinity);
    }

    private async patchOne(daemonSet: CreatedDaemonSet, affinity: unknown): Promise<void> {
        const { cluster } = this;
        // The UID makes the patch fail rather than touch a DaemonSet another run created under the name.
        const body = {
            metadata: { uid: daemonSet.uid },
            spec: { template: { spec: { affinity } } },
        };
        await cluster.call(
            { verb: "patch", resource: "daemonsets", namespace: daemonSet.namespace },
            (options) =>
                cluster.apps.patchNamespacedDaemonSet(
                    { name: daemonSet.name, namespace: daemonSet.namespace, body },
                    options,
                ),
            { contentType: cluster.lib.PatchStrategy.MergePatch },
        );
    }
}

function canonicalList(values: readonly string[]): string {
    return [...values].sort().join(",");
}

/**
 * Fails at once, naming it, when a pull secret does not exist (and the credentials may tell).
 * A secret read in a namespace that does not exist answers "secret not found" too, so that
 * answer is checked with a server-side dry run of the DaemonSet's create, which says whether the
 * namespace exists and creates nothing.
 */
export async function checkPullSecretsExist(
    cluster: ClusterClient,
    inputs: Pick<PrePullInputs, "imagePullSecrets" | "namespace">,
    manifest: Record<string, unknown>,
    log: Logger,
): Promise<void> {
    for (const name of inputs.imagePullSecrets) {
        try {
            // Only the metadata: the secret's data never reaches this process.
            await cluster.call(
                { verb: "get", resource: "secrets", namespace: inputs.namespace },
                (options) => cluster.core.readNamespacedSecret({ name, namespace: inputs.namespace }, options),
                { optional: true, accept: METADATA_ONLY },
            );
        } catch (e) {
            const code = statusCode(e);
            if (code === 404) {
                await dryRunCreate(cluster, inputs.namespace, manifest);
                throw new Error(
                    `imagePullSecrets: secret "${name}" does not exist in namespace "${inputs.namespace}"; create it or remove it from imagePullSecrets`,
                );
            }
            // Reading secrets is an optional permission: without it, the kubelet reports pull failures instead.
            if (code !== 403) throw e;
            log(
                `image-prepuller: the credentials may not get secret "${name}" in namespace "${inputs.namespace}": if it is missing, the kubelet's pull errors tell (grant get on that secret, see README, RBAC)`,
            );
        }
    }
}

/** A server-side dry run of the DaemonSet's create: its errors (a missing namespace) without creating it. */
async function dryRunCreate(
    cluster: ClusterClient,
    namespace: string,
    manifest: Record<string, unknown>,
): Promise<void> {
    await cluster.call({ verb: "create", resource: "daemonsets", namespace }, (options) =>
        cluster.apps.createNamespacedDaemonSet({ namespace, body: manifest as never, dryRun: "All" }, options),
    );
}

/** The reads of Pulled events for the pull report's sizes get at most this long. */
const PULLED_EVENTS_BUDGET_MS = 3000;

/**
 * The messages of the kubelet's Pulled events of these pods (one small list per pod), for the pull
 * report's sizes. Optional and quick: without `list events`, or with an API that is slow, it
 * returns what it read (the pre-pull is decided by then).
 */
export async function pulledEventMessages(
    cluster: ClusterClient,
    namespace: string,
    pods: readonly Pod[],
): Promise<string[]> {
    const quick = cluster.withSignal(AbortSignal.timeout(PULLED_EVENTS_BUDGET_MS));
    const messages: string[] = [];
    try {
        for (const name of pods.map((p) => p.metadata?.name).filter((n): n is string => n !== undefined)) {
            const listed = await quick.call(
                { verb: "list", resource: "events", namespace },
                (options) =>
                    quick.core.listNamespacedEvent(
                        {
                            namespace,
                            fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name},reason=Pulled`,
                        },
                        options,
                    ),
                { optional: true, attempts: 1 },
            );
            messages.push(...listed.items.map((e) => e.message ?? ""));
        }
    } catch {
        // A nicety: the report keeps the sizes it has.
    }
    return messages;
}

/** Which DaemonSet of the run is gone and why ("ns/name was deleted"), or undefined while all are there. */
export async function anyDaemonSetGone(
    cluster: ClusterClient,
    created: readonly CreatedDaemonSet[],
): Promise<string | undefined> {
    for (const daemonSet of created) {
        const gone = await daemonSetGone(cluster, daemonSet);
        if (gone) return `${daemonSet.namespace}/${daemonSet.name} ${gone}`;
    }
    return undefined;
}

/** Why the DaemonSet this run created is gone, or undefined while it is there (or cannot be read now). */
export async function daemonSetGone(cluster: ClusterClient, created: CreatedDaemonSet): Promise<string | undefined> {
    const { namespace, name, uid } = created;
    try {
        const found = await cluster.call(
            { verb: "get", resource: "daemonsets", namespace },
            (options) => cluster.apps.readNamespacedDaemonSet({ name, namespace }, options),
            { optional: true, accept: METADATA_ONLY },
        );
        if (found.metadata?.uid !== uid) return "was replaced by another DaemonSet of the same name";
        if (found.metadata?.deletionTimestamp) return "is being deleted";
        return undefined;
    } catch (e) {
        if (statusCode(e) === 404) return "was deleted";
        // The watches report an API in trouble; this read decides nothing.
        return undefined;
    }
}
