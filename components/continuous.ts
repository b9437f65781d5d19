/**
 * Continuous mode: a long-lived DaemonSet with the pre-pull pods' shape and scheduling, so that
 * nodes joining later pull the images on arrival (like the JupyterHub chart's continuous image
 * puller). Created by server-side apply, so create and update are one idempotent call.
 */
import {
    continuousOwnerId,
    daemonSetName,
    LABEL_COMPONENT,
    MANAGER,
    ownerSelector,
    renderDaemonSet,
} from "./daemonset";
import type { PrePullInputs } from "./inputs";
import { callApi, requestOptions, statusCode } from "./kube";
import { connect, daemonSetSpecification, removeOwnedObjects, type Logger, type OwnedObjects } from "./prepull";

export interface ContinuousPullerState {
    /** `namespace/name` of the long-lived DaemonSet. */
    daemonSet: string;
    /** Whether the DaemonSet exists (false when a refresh found it deleted: the next update recreates it). */
    present: boolean;
}

export function renderContinuousPuller(inputs: PrePullInputs): Record<string, unknown> {
    const owner = continuousOwnerId(inputs.ownerId);
    return renderDaemonSet({
        ...daemonSetSpecification(inputs),
        name: daemonSetName(owner),
        ownerId: owner,
        extraLabels: { [LABEL_COMPONENT]: "continuous-puller" },
    });
}

/** Creates or updates the continuous puller's DaemonSet. */
export async function applyContinuousPuller(inputs: PrePullInputs, log: Logger): Promise<ContinuousPullerState> {
    const cluster = connect(inputs.kubeconfig, inputs.context);
    const name = daemonSetName(continuousOwnerId(inputs.ownerId));
    const namespace = inputs.namespace;
    await callApi({ verb: "patch", resource: "daemonsets", namespace }, () =>
        cluster.apps.patchNamespacedDaemonSet(
            { name, namespace, body: renderContinuousPuller(inputs), fieldManager: MANAGER, force: true },
            requestOptions(cluster.lib, undefined, cluster.lib.PatchStrategy.ServerSideApply),
        ),
    );
    log(
        `image-prepuller: continuous puller DaemonSet ${namespace}/${name} applied; nodes that join will pull the images`,
    );
    return { daemonSet: `${namespace}/${name}`, present: true };
}

/** For refresh: whether the DaemonSet still exists, and how far it got. */
export async function inspectContinuousPuller(inputs: PrePullInputs): Promise<ContinuousPullerState> {
    const cluster = connect(inputs.kubeconfig, inputs.context);
    const namespace = inputs.namespace;
    const name = daemonSetName(continuousOwnerId(inputs.ownerId));
    let found: { metadata?: { name?: string } }[];
    try {
        found = (
            await callApi({ verb: "list", resource: "daemonsets", namespace }, () =>
                cluster.apps.listNamespacedDaemonSet(
                    { namespace, labelSelector: ownerSelector(continuousOwnerId(inputs.ownerId)) },
                    requestOptions(cluster.lib),
                ),
            )
        ).items;
    } catch (e) {
        if (statusCode(e) !== 404) throw e;
        found = [];
    }
    return { daemonSet: `${namespace}/${name}`, present: found.some((ds) => ds.metadata?.name === name) };
}

/** Deletes the continuous puller's DaemonSet (the garbage collector removes its pods). */
export async function removeContinuousPuller(owned: OwnedObjects, log: Logger): Promise<void> {
    await removeOwnedObjects({ ...owned, ownerId: continuousOwnerId(owned.ownerId) }, log);
}
