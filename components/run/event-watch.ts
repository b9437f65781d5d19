/**
 * The Warning events that concern a run: its DaemonSets' (FailedCreate: pods the controller cannot
 * create) and its pods' (FailedCreatePodSandBox, FailedMount: pods the kubelet cannot start).
 * Watched from the moment the run starts, before it creates anything, so that nothing written
 * earlier (a namespace's hour of other events) is listed or kept; events about other objects are
 * skipped as they pass. Optional: without `list events`, only the timeout tells.
 */
import type { ClusterClient, ListPage } from "../cluster/client";
import { statusCode } from "../cluster/errors";
import { watchObjects, type Watched } from "../cluster/watch";
import { podDaemonSet } from "../rules/rows";
import { projectEvent } from "../rules/projection";
import type { Event } from "../rules/wire";
import type { Logger } from "./shared";

export async function watchWarnings(
    cluster: ClusterClient,
    namespace: string,
    /** The names of the run's DaemonSets (known before they are created). */
    daemonSetNames: readonly string[],
    /** Told of each of the run's pods an event names. */
    onPodNamed: (podName: string) => void,
    onChange: () => void,
    log: Logger,
): Promise<Watched<Event> | undefined> {
    const fieldSelector = "type=Warning";
    // The run's events, by name: kept through re-lists, which start from now again.
    const ours = new Map<string, Event>();
    const concernsRun = (event: Event): boolean => {
        const involved = event.involvedObject ?? {};
        if (involved.kind === "DaemonSet") return daemonSetNames.includes(involved.name ?? "");
        return involved.kind === "Pod" && podDaemonSet(involved.name ?? "", daemonSetNames) !== undefined;
    };
    try {
        const watched = await watchObjects<Event>(cluster, {
            path: `/api/v1/namespaces/${namespace}/events`,
            call: { verb: "list", resource: "events", namespace },
            // Only the resourceVersion to watch from: a list of one event, which is not kept.
            listPage: async () => {
                const list = await cluster.getJson<ListPage<Event>>(`/api/v1/namespaces/${namespace}/events`, {
                    fieldSelector,
                    limit: 1,
                });
                return { items: [], metadata: { resourceVersion: list.metadata?.resourceVersion } };
            },
            fieldSelector,
            project: (obj) => {
                const event = obj as Event;
                return concernsRun(event) ? projectEvent(event) : undefined;
            },
            onEvent: (change, event) => {
                if (change === "delete") return;
                ours.set(event.metadata?.name ?? "", event);
                if (event.involvedObject?.kind === "Pod") onPodNamed(event.involvedObject.name ?? "");
            },
            onChange,
            optional: true,
        });
        return {
            list: () => [...ours.values()],
            fatalError: () => watched.fatalError(),
            trouble: () => watched.trouble(),
            stop: () => watched.stop(),
        };
    } catch (e) {
        if (statusCode(e) !== 403) throw e;
        log(
            `image-prepuller: the credentials may not list events in namespace "${namespace}": pods the DaemonSet cannot create are reported only at the timeout (grant list and watch on events, see README, RBAC)`,
        );
        return undefined;
    }
}
