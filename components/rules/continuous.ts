/**
 * Continuous mode: a long-lived DaemonSet with the pre-pull pods' shape and scheduling, so that
 * nodes joining later pull the images on arrival (like the JupyterHub chart's continuous image
 * puller). The component creates it as a `k8s.apps.v1.DaemonSet` through the kubernetes provider;
 * this module renders it from the normalized inputs.
 */
import { daemonSetSpecification, LABEL_COMPONENT, renderDaemonSet } from "./daemonset";
import type { PrePullInputs } from "./inputs";

/**
 * The continuous puller's owner id, which names its DaemonSet and labels its pods: distinct from
 * the pre-pull's, so neither's cleanup touches the other's. (Before it was a kubernetes resource,
 * it was `<ownerId>-continuous`; a different name lets an upgrade create the new one before the
 * old one's delete runs.)
 */
export function continuousPullerOwnerId(ownerId: string): string {
    return `continuous-${ownerId.replace(/^prepull-/, "")}`;
}

/** The owner id of the continuous puller of versions before 0.2 (a dynamic resource). */
export function legacyContinuousOwnerId(ownerId: string): string {
    return `${ownerId}-continuous`;
}

export function renderContinuousPuller(inputs: PrePullInputs): Record<string, unknown> {
    const owner = continuousPullerOwnerId(inputs.ownerId);
    return renderDaemonSet({
        ...daemonSetSpecification(inputs),
        name: owner,
        ownerId: owner,
        extraLabels: { [LABEL_COMPONENT]: "continuous-puller" },
    });
}
