/**
 * Watched caches of Nodes, our Pods and our DaemonSet's Events: client-node's ListWatch (a paged
 * list, then a watch from its resourceVersion), holding compact projections or Table rows instead
 * of whole objects, restarted after watch errors (a restarted apiserver, dropped connections, a
 * watch that stops sending: client-node aborts one that is silent for WATCH_SILENCE_SECONDS).
 * Each watch asks for bookmarks and ends itself after WATCH_TIMEOUT_SECONDS, so a quiet watch is
 * renewed from where it was (the apiserver's bookmark before the end says where) instead of
 * being abandoned and re-listed.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ClusterClient, ListPage, RequestOptions } from "./client";
import { describeCallError, isTimeout, statusCode, type ApiCall } from "./errors";

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
/**
 * Each watch asks the apiserver to end it after this long; the apiserver sends a bookmark 2 s
 * before (its watch cache's rule), so a quiet but healthy watch always delivers something within
 * WATCH_SILENCE_SECONDS and is renewed from that bookmark, without a list.
 */
export const WATCH_TIMEOUT_SECONDS = 25;

type WatchCallback = (phase: string, obj: unknown, raw: unknown) => void;

export interface WatchSpec<T> {
    /** API path of the collection, e.g. `/api/v1/nodes`. */
    path: string;
    /** Names the call in errors (`list nodes`, `list pods in namespace "jhub"`). */
    call: ApiCall;
    /**
     * One page of the list, already in the cache's form (projected objects, or rows). The watch
     * starts from the resourceVersion of the last page.
     */
    listPage: (page: { limit: number; _continue?: string }, options: RequestOptions) => Promise<ListPage<T>>;
    /** Objects per list page; default LIST_PAGE_SIZE. */
    pageSize?: number;
    labelSelector?: string;
    fieldSelector?: string;
    /** The watch's Accept header (a Table); default JSON objects. */
    accept?: string;
    /** More query parameters of the watch (`includeObject=None`). */
    query?: Record<string, string>;
    /**
     * A watch event's object in the cache's form, or undefined to leave it out of the cache (the
     * watch still moves past it). Bookmarks pass here too, and their result is dropped.
     */
    project: (obj: unknown) => T | undefined;
    onChange: () => void;
    /** Each change of the cache (the list's objects, then each event's), before onChange. */
    onEvent?: (change: "add" | "update" | "delete", obj: T) => void;
    /** The run can do without this watch: a permission denied is final at once (see CallOptions). */
    optional?: boolean;
}

/**
 * client-node's Watch sends no Accept header of its own: a configuration that adds one to the
 * kubeconfig's credentials makes it watch Table rows. Watch uses no more of the KubeConfig.
 */
function acceptingConfig(kc: ClusterClient["kc"], accept: string): ClusterClient["kc"] {
    return {
        getCurrentCluster: () => kc.getCurrentCluster(),
        applySecurityAuthentication: async (
            context: Parameters<ClusterClient["kc"]["applySecurityAuthentication"]>[0],
        ) => {
            await kc.applySecurityAuthentication(context);
            context.setHeaderParam("Accept", accept);
        },
    } as ClusterClient["kc"];
}

function resourceVersionOf(obj: unknown): { resourceVersion?: string } {
    return { resourceVersion: (obj as { metadata?: { resourceVersion?: string } })?.metadata?.resourceVersion };
}

/** Informer errors come from its list (API errors carry `code`) or its watch (`statusCode`). */
function failedVerb(error: unknown): "list" | "watch" {
    return (error as { statusCode?: unknown })?.statusCode !== undefined ? "watch" : "list";
}

/**
 * Starts a watched cache and resolves once its first list is in. It stops by itself when the
 * client's signal fires, so no watch or timer outlives the run.
 */
export async function watchObjects<T extends { metadata?: { name?: string; namespace?: string } }>(
    cluster: ClusterClient,
    spec: WatchSpec<T>,
): Promise<Watched<T>> {
    const listProjected = async (): Promise<ListPage<T>> => {
        const items: T[] = [];
        const { resourceVersion } = await cluster.listPages<T>(
            spec.call,
            spec.listPage,
            (page) => {
                for (const item of page.items) items.push(item);
            },
            { attempts: 2, optional: spec.optional, pageSize: spec.pageSize },
        );
        return { items, metadata: { resourceVersion } };
    };
    // The watch hands each event's object to the cache; projecting it first keeps the cache small.
    // A healthy watch ends after WATCH_TIMEOUT_SECONDS, closed by the apiserver (in a quiet
    // collection without a bookmark: the watch cache sends one only once something newer
    // happened), and ListWatch watches again from the same resourceVersion at once, without a
    // list. client-node's Watch aborts a watch that has been silent for 30 s
    // (WATCH_SILENCE_SECONDS): then the connection, not the collection, was silent. A watch that
    // delivers nothing at all (a stalled connection) would leave the cache stale for good, so a
    // reconnect after a watch that was so aborted without delivering anything answers
    // "410 Gone" instead, which makes ListWatch re-list.
    const watch = new cluster.lib.Watch(spec.accept ? acceptingConfig(cluster.kc, spec.accept) : cluster.kc);
    let watches = 0;
    let eventsThisWatch = 0;
    let silenced = false;
    let endedOnTime = false;
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
            if (watches++ > 0 && silenced && eventsThisWatch === 0) {
                silenced = false;
                trouble = `watch ${spec.call.resource} delivered nothing for ${WATCH_SILENCE_SECONDS}s; re-listing`;
                setImmediate(() => done({ statusCode: 410 }));
                return new AbortController();
            }
            eventsThisWatch = 0;
            // ListWatch may start a watch while (or after) it is stopped: a re-list or a reconnect
            // in flight when the run ended. Such a watch is aborted at once, so no socket of a
            // finished run stays open (test/integration/finished-runs.test.ts).
            if (stopped) return new AbortController();
            const startedAt = Date.now();
            const request = await watch.watch(
                watchPath,
                { ...query, ...spec.query, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
                (phase: string, obj: unknown, raw: unknown) => {
                    eventsThisWatch++;
                    // A bookmark too: a Table watch sends its column names with its first event, whatever that is.
                    const projected = phase === "ERROR" ? undefined : spec.project(obj);
                    if (phase !== "ADDED" && phase !== "MODIFIED" && phase !== "DELETED") {
                        callback(phase, obj, raw);
                        return;
                    }
                    // Left out of the cache: a bookmark of its resourceVersion moves the watch past it.
                    if (projected === undefined) callback("BOOKMARK", { metadata: resourceVersionOf(obj) }, raw);
                    else callback(phase, projected, raw);
                },
                (err: unknown) => {
                    silenced = isTimeout(err);
                    endedOnTime = !err && Date.now() - startedAt >= (WATCH_TIMEOUT_SECONDS - 5) * 1000;
                    done(err);
                },
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
        // ListWatch waits longer before each reconnect until an event arrives; a watch the
        // apiserver ended on time is renewed at once instead.
        { delayFn: (ms: number) => (endedOnTime ? Promise.resolve() : sleep(ms)) },
    );
    let firstError: unknown;
    let synced = false;
    let fatal: Error | undefined;
    const verbCall = (err: unknown): ApiCall => ({ ...spec.call, verb: failedVerb(err) });
    const changed = () => {
        trouble = undefined;
        spec.onChange();
    };
    for (const change of ["add", "update", "delete"] as const) {
        informer.on(change, (obj) => {
            spec.onEvent?.(change, obj as unknown as T);
            changed();
        });
    }
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
