/**
 * Removing what a pre-pull created. The DaemonSet is deleted with background propagation: the
 * call returns at once and Kubernetes' garbage collector deletes its pods (their grace period is
 * 0, so each goes in one request). Nothing here waits for the pods, so a pre-pull that succeeded
 * is never turned into a failure by a slow garbage collector.
 *
 * A run deletes only the DaemonSet it created, by UID, so an orphaned provider of a killed
 * `pulumi up` that finishes late never deletes the DaemonSet of a newer run of the same resource.
 */
import { ownerSelector } from "../rules/daemonset";
import type { ClusterClient } from "../cluster/client";
import type { Logger } from "./shared";
import { statusCode } from "../cluster/errors";

/** Cleanup after presence is decided (or the run failed) gets this long of its own. */
export const CLEANUP_BUDGET_SECONDS = 30;

/** What cleanup needs: tolerant of state written by earlier versions, so everything is optional. */
export interface OwnedObjects {
    namespace: string;
    ownerId: string;
    kubeconfig?: string;
    context?: string;
}

/** A DaemonSet this run created. */
export interface CreatedDaemonSet {
    namespace: string;
    name: string;
    uid: string;
}

/** The client for cleanup after a run: the same connection, with a budget of its own. */
export function cleanupClient(cluster: ClusterClient): ClusterClient {
    return cluster.withSignal(AbortSignal.timeout(CLEANUP_BUDGET_SECONDS * 1000));
}

/** Deletes the DaemonSet this run created, and only that one (a UID precondition). */
export async function deleteCreatedDaemonSet(
    cluster: ClusterClient,
    created: CreatedDaemonSet,
    log: Logger,
): Promise<void> {
    const { namespace, name, uid } = created;
    try {
        await cluster.call({ verb: "delete", resource: "daemonsets", namespace }, (options) =>
            cluster.apps.deleteNamespacedDaemonSet(
                { name, namespace, propagationPolicy: "Background", body: { preconditions: { uid } } },
                options,
            ),
        );
        log(`image-prepuller: deleted DaemonSet ${namespace}/${name}; the garbage collector removes its pods`);
    } catch (e) {
        // 404: already gone. 409: the name now belongs to another DaemonSet (a newer run's): not ours.
        const code = statusCode(e);
        if (code !== 404 && code !== 409) throw e;
    }
}

/**
 * Deletes every DaemonSet labelled with this owner: what an interrupted run left (before a create)
 * or everything of a resource being deleted.
 */
export async function deleteOwnedDaemonSets(
    cluster: ClusterClient,
    owned: Pick<OwnedObjects, "namespace" | "ownerId">,
    log: Logger,
    leftovers: boolean,
): Promise<void> {
    const namespace = owned.namespace;
    let found: { metadata?: { name?: string; uid?: string } }[];
    try {
        found = (
            await cluster.call({ verb: "list", resource: "daemonsets", namespace }, (options) =>
                cluster.apps.listNamespacedDaemonSet(
                    { namespace, labelSelector: ownerSelector(owned.ownerId) },
                    options,
                ),
            )
        ).items;
    } catch (e) {
        if (statusCode(e) === 404) return;
        throw e;
    }
    for (const ds of found) {
        const name = ds.metadata?.name;
        const uid = ds.metadata?.uid;
        if (!name || !uid) continue;
        await deleteCreatedDaemonSet(
            cluster,
            { namespace, name, uid },
            leftovers
                ? (line) => log(line.replace("deleted DaemonSet", "removed DaemonSet left by an interrupted run:"))
                : log,
        );
    }
}
