/**
 * What the watch caches keep of each object: only the fields eligibility and presence read.
 * A Node as the apiserver sends it carries managedFields, addresses, every condition and up to
 * 50 image entries; at 2,000 nodes the whole objects dominate the provider's memory. The
 * projections keep the API's shape, so eligibility.ts and presence.ts work on them unchanged.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { referenceSatisfies, tryParseImageReference, type ImageReference } from "./references";
import type { Event, Node, Pod, Wire } from "./wire";

/**
 * A Node reduced to its name, labels, resourceVersion (which the watch cache compares), cordon
 * flag, taints, Ready condition and those `status.images` entries (their names that satisfy a
 * wanted image, and their size) that hold a wanted image.
 */
export function projectNode(node: Node, wanted: readonly ImageReference[]): Node {
    const metadata = node.metadata ?? {};
    const ready = (node.status?.conditions ?? []).filter((c) => c.type === "Ready");
    const images: { names: string[]; sizeBytes?: number }[] = [];
    for (const image of node.status?.images ?? []) {
        const names: string[] = [];
        for (const name of image.names ?? []) {
            const parsed = tryParseImageReference(name);
            if (parsed && wanted.some((w) => referenceSatisfies(parsed, w))) names.push(name);
        }
        // Its size, for the pull report.
        if (names.length > 0) images.push(image.sizeBytes ? { names, sizeBytes: image.sizeBytes } : { names });
    }
    return {
        metadata: { name: metadata.name, resourceVersion: metadata.resourceVersion, labels: metadata.labels },
        spec: {
            unschedulable: node.spec?.unschedulable,
            taints: node.spec?.taints?.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
        },
        status: {
            conditions: ready.map((c) => ({ type: c.type, status: c.status })),
            images,
        },
    };
}

/**
 * A pre-pull Pod reduced to its owner, node (or the node its affinity pins it to), PodScheduled
 * and PodReadyToStartContainers conditions, container images and container states (with the fields the API always sends, so
 * that the projection is still a Pod).
 */
export function projectPod(pod: Pod): Pod {
    const metadata = pod.metadata ?? {};
    const conditions = (pod.status?.conditions ?? []).filter(
        (c) => c.type === "PodScheduled" || c.type === "PodReadyToStartContainers",
    );
    const containers = (list: k8s.V1Container[] | undefined) => list?.map((c) => ({ name: c.name, image: c.image }));
    const statuses = (list: Wire<k8s.V1ContainerStatus>[] | undefined) =>
        list?.map((s) => ({
            name: s.name,
            image: s.image,
            imageID: s.imageID,
            ready: s.ready,
            restartCount: s.restartCount,
            state: projectState(s.state),
            lastState: projectState(s.lastState),
        }));
    return {
        metadata: {
            name: metadata.name,
            namespace: metadata.namespace,
            resourceVersion: metadata.resourceVersion,
            uid: metadata.uid,
            deletionTimestamp: metadata.deletionTimestamp,
            ownerReferences: metadata.ownerReferences?.map((o) => ({
                apiVersion: o.apiVersion,
                kind: o.kind,
                name: o.name,
                uid: o.uid,
            })),
        },
        spec: {
            nodeName: pod.spec?.nodeName,
            initContainers: containers(pod.spec?.initContainers),
            containers: containers(pod.spec?.containers) ?? [],
            affinity: pod.spec?.nodeName ? undefined : pod.spec?.affinity,
        },
        status: {
            phase: pod.status?.phase,
            conditions: conditions.map((c) => ({
                type: c.type,
                status: c.status,
                reason: c.reason,
                message: c.message,
            })),
            initContainerStatuses: statuses(pod.status?.initContainerStatuses),
            containerStatuses: statuses(pod.status?.containerStatuses),
        },
    };
}

/** A Warning event reduced to what failure messages need. */
export function projectEvent(event: Event): Event {
    return {
        metadata: {
            name: event.metadata?.name,
            namespace: event.metadata?.namespace,
            resourceVersion: event.metadata?.resourceVersion,
        },
        involvedObject: {
            kind: event.involvedObject?.kind,
            name: event.involvedObject?.name,
            uid: event.involvedObject?.uid,
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        count: event.count,
        firstTimestamp: event.firstTimestamp,
        lastTimestamp: event.lastTimestamp,
        eventTime: event.eventTime,
    };
}

function projectState(state: Wire<k8s.V1ContainerState> | undefined): Wire<k8s.V1ContainerState> | undefined {
    if (!state) return undefined;
    const result: Wire<k8s.V1ContainerState> = {};
    if (state.waiting) result.waiting = { reason: state.waiting.reason, message: state.waiting.message };
    // The times are for the pull report (components/rules/pull-report.ts).
    if (state.running) result.running = { startedAt: state.running.startedAt };
    if (state.terminated) {
        const t = state.terminated;
        result.terminated = {
            exitCode: t.exitCode,
            reason: t.reason,
            message: t.message,
            startedAt: t.startedAt,
            finishedAt: t.finishedAt,
        };
    }
    return result;
}
