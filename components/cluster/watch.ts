/**
 * Watched caches of Nodes, our Pods and our DaemonSet's Events: client-node's ListWatch (a paged
 * list, then a watch from its resourceVersion), holding compact projections instead of whole
 * objects, restarted after watch errors (a restarted apiserver, dropped connections, a watch that
 * stops sending: client-node aborts one that is silent for WATCH_SILENCE_SECONDS).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ClusterClient, ListPage, RequestOptions } from "./client";
import { describeCallError, statusCode, type ApiCall } from "./errors";

export interface Watched<T> {
    list(): readonly T[];
    /** An error that restarting the watch cannot fix (missing permission), if one happened. */
    fatalError(): Error | undefined;
    /** The last error of this watch while it is failing, for messages; undefined while healthy. */
    trouble(): string | undefined;
    stop(): Promise<void>;
}

/** A watch that delivers nothing (not even a bookmark) for this long is abandoned and re-listed. */
export const WATCH_SILENCE_SECONDS = 30;

type WatchCallback = (phase: string, obj: unknown, raw: unknown) => void;

export interface WatchSpec<T> {
    /** API path of the collection, e.g. `/api/v1/nodes`. */
    path: string;
    /** Names the call in errors (`list nodes`, `list pods in namespace "jhub"`). */
    call: ApiCall;
    listPage: (page: { limit: number; _continue?: string }, options: RequestOptions) => Promise<unknown>;
    labelSelector?: string;
    fieldSelector?: string;
    project: (obj: T) => T;
    onChange: () => void;
    /** The run can do without this watch: a permission denied is final at once (see CallOptions). */
    optional?: boolean;
}

/** Informer errors come from its list (API errors carry `code`) or its watch (`statusCode`). */
function failedVerb(error: unknown): "list" | "watch" {
    return (error as { statusCode?: unknown })?.statusCode !== undefined ? "watch" : "list";
}

/**
 * Starts a watched cache and resolves once its first list is in. It stops by itself when the
 * client's signal fires, so no watch or timer outlives the run.
 */
export async function watchObjects<T extends { metadata?: { name?: string } }>(
    cluster: ClusterClient,
    spec: WatchSpec<T>,
): Promise<Watched<T>> {
    const listProjected = async (): Promise<ListPage<T>> => {
        const items: T[] = [];
        const { resourceVersion } = await cluster.listPages<T>(
            spec.call,
            (page, options) => spec.listPage(page, options) as Promise<ListPage<T>>,
            (page) => {
                for (const item of page.items) items.push(spec.project(item));
            },
            { attempts: 2, optional: spec.optional },
        );
        return { items, metadata: { resourceVersion } };
    };
    // The watch hands each event's object to the cache; projecting it first keeps the cache small.
    // client-node's Watch aborts a watch that has been silent for 30 s (WATCH_SILENCE_SECONDS) and
    // ListWatch then watches again from the same resourceVersion, without a list. A watch that
    // delivers nothing at all (a stalled connection) would leave the cache stale for good, so a
    // reconnect after a silent watch answers "410 Gone" instead, which makes ListWatch re-list.
    const watch = new cluster.lib.Watch(cluster.kc);
    let watches = 0;
    let eventsThisWatch = 0;
    let trouble: string | undefined;
    // Declared before the closures that read them: Pulumi's closure serializer needs that order.
    let stopped = false;
    let restart: NodeJS.Timeout | undefined;
    const projectingWatch = {
        watch: async (
            watchPath: string,
            query: Record<string, string | number | boolean | undefined>,
            callback: WatchCallback,
            done: (err: unknown) => void,
        ) => {
            if (watches++ > 0 && eventsThisWatch === 0) {
                eventsThisWatch = -1; // the next watch, after this re-list, starts afresh
                trouble = `watch ${spec.call.resource} delivered nothing for ${WATCH_SILENCE_SECONDS}s; re-listing`;
                setImmediate(() => done({ statusCode: 410 }));
                return new AbortController();
            }
            eventsThisWatch = 0;
            // ListWatch may start a watch while (or after) it is stopped: a re-list or a reconnect
            // in flight when the run ended. Such a watch is aborted at once, so no socket of a
            // finished run stays open (test/integration/finished-runs.test.ts).
            if (stopped) return new AbortController();
            const request = await watch.watch(
                watchPath,
                query,
                (phase: string, obj: unknown, raw: unknown) => {
                    eventsThisWatch++;
                    callback(
                        phase,
                        phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? spec.project(obj as T) : obj,
                        raw,
                    );
                },
                done,
            );
            if (stopped) request.abort();
            return request;
        },
    };
    const informer = new cluster.lib.ListWatch(
        spec.path,
        projectingWatch as never,
        listProjected as never,
        false,
        spec.labelSelector,
        spec.fieldSelector,
    );
    let firstError: unknown;
    let synced = false;
    let fatal: Error | undefined;
    const verbCall = (err: unknown): ApiCall => ({ ...spec.call, verb: failedVerb(err) });
    const changed = () => {
        trouble = undefined;
        spec.onChange();
    };
    informer.on("add", changed);
    informer.on("update", changed);
    informer.on("delete", changed);
    informer.on("error", (err: unknown) => {
        if (!synced) {
            firstError = err;
            return;
        }
        const code = statusCode(err);
        if (code === 401 || code === 403) {
            fatal = describeCallError(err, verbCall(err));
            spec.onChange();
            return;
        }
        trouble = describeCallError(err, verbCall(err)).message.replace(/^image-prepuller: /, "");
        if (!stopped) restart = setTimeout(() => void (stopped ? undefined : informer.start()), 1000);
    });
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        clearTimeout(restart);
        await informer.stop();
    };
    for (let attempt = 0; ; attempt++) {
        firstError = undefined;
        await informer.start();
        if (firstError === undefined) break;
        const code = statusCode(firstError);
        const failed = () => describeCallError(firstError, verbCall(firstError));
        if (code === 401 || code === 403 || attempt >= 5 || cluster.signal.aborted) {
            await informer.stop();
            throw failed();
        }
        try {
            await sleep(500 * 2 ** attempt, undefined, { signal: cluster.signal });
        } catch {
            await informer.stop();
            throw failed();
        }
    }
    synced = true;
    // The run ended (its deadline, or nobody waits any more): the watch ends with it.
    cluster.signal.addEventListener("abort", () => void stop(), { once: true });
    return {
        list: () => informer.list() as unknown as readonly T[],
        fatalError: () => fatal,
        trouble: () => trouble,
        stop,
    };
}
