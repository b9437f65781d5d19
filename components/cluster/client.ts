/**
 * The one way a run talks to the API: built once per run from the kubeconfig, it owns the
 * request options (a timeout on every request), the retry policy, the pager and the watches.
 * Every request and every wait between retries ends when the run's AbortSignal fires (its
 * deadline, or nobody waiting any more), so no call outlives the run.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describeCallError, isPermissionDenial, isRetryable, REQUEST_TIMEOUT_SECONDS, type ApiCall } from "./errors";
import {
    loadClientLibrary,
    loadKubeConfig,
    type ClientLibrary,
    type KubeConfig,
    type RequestContext,
    type ResponseContext,
} from "./kubeconfig";

export interface CallOptions {
    /** At most this many attempts. Default 6. */
    attempts?: number;
    /**
     * A permission the run can do without (events, secrets): an RBAC denial is final at once.
     * Other calls retry one for RBAC_PROPAGATION_SECONDS after the client was made, since RBAC
     * created in the same `pulumi up` takes a moment to reach the authorizer.
     */
    optional?: boolean;
    /** Content-Type of the request body (patches). */
    contentType?: string;
    /** Accept header of the request (a metadata-only read). */
    accept?: string;
}

export type RequestOptions = ReturnType<ClusterClient["requestOptions"]>;

/** A page of a list, as client-node returns it. */
export interface ListPage<T> {
    items: T[];
    metadata?: { resourceVersion?: string; _continue?: string };
}

/** How long after a run started an RBAC denial of a required call is retried (RBAC made in the same up). */
export const RBAC_PROPAGATION_SECONDS = 10;

/** Lists are read in pages of this many objects, so a large cluster is never in memory whole. */
export const LIST_PAGE_SIZE = 250;

export class ClusterClient {
    readonly core: InstanceType<ClientLibrary["CoreV1Api"]>;
    readonly apps: InstanceType<ClientLibrary["AppsV1Api"]>;

    private constructor(
        readonly lib: ClientLibrary,
        readonly kc: KubeConfig,
        /** Fires when the run ends: its deadline passed, or nobody waits for it any more. */
        readonly signal: AbortSignal,
        /** Until then (ms since the epoch), an RBAC denial of a required call is retried. */
        private readonly rbacGraceUntil: number,
    ) {
        this.core = kc.makeApiClient(lib.CoreV1Api);
        this.apps = kc.makeApiClient(lib.AppsV1Api);
    }

    static connect(kubeconfig: string | undefined, context: string | undefined, signal: AbortSignal): ClusterClient {
        const lib = loadClientLibrary();
        return new ClusterClient(
            lib,
            loadKubeConfig(lib, kubeconfig, context),
            signal,
            Date.now() + RBAC_PROPAGATION_SECONDS * 1000,
        );
    }

    /** The same connection bounded by another signal (cleanup has a budget of its own). */
    withSignal(signal: AbortSignal): ClusterClient {
        return new ClusterClient(this.lib, this.kc, signal, this.rbacGraceUntil);
    }

    /**
     * client-node's per-request options: each request is abandoned after REQUEST_TIMEOUT_SECONDS
     * or when the run's signal fires (an AbortSignal set by a middleware as the request starts).
     */
    requestOptions(contentType?: string, accept?: string) {
        const lib = this.lib;
        const run = this.signal;
        const configuration = {
            middleware: [
                {
                    pre: (context: RequestContext) => {
                        context.setSignal(AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_SECONDS * 1000), run]));
                        return new lib.Observable(Promise.resolve(context));
                    },
                    post: (response: ResponseContext) => new lib.Observable(Promise.resolve(response)),
                },
            ],
            middlewareMergeStrategy: "append" as const,
        };
        const typed = contentType ? lib.setHeaderOptions("Content-Type", contentType, configuration) : configuration;
        return accept ? lib.setHeaderOptions("Accept", accept, typed) : typed;
    }

    /**
     * One API request, retried on retryable errors with capped exponential back-off until the
     * attempts run out or the run's signal fires. Errors keep their HTTP status (`code`) and name
     * the call: a 403 names the missing permission, a timeout says the call did not answer.
     */
    async call<T>(
        call: ApiCall,
        operation: (options: RequestOptions) => Promise<T>,
        options: CallOptions = {},
    ): Promise<T> {
        const attempts = options.attempts ?? 6;
        let delay = 250;
        for (let attempt = 1; ; attempt++) {
            try {
                return await operation(this.requestOptions(options.contentType, options.accept));
            } catch (e) {
                const propagating = !options.optional && isPermissionDenial(e) && Date.now() < this.rbacGraceUntil;
                if (propagating) attempt--; // not an attempt used up: the permission may still arrive
                if (!propagating && (attempt >= attempts || this.signal.aborted || !isRetryable(e))) {
                    throw describeCallError(e, call, attempt);
                }
                try {
                    await sleep(delay, undefined, { signal: this.signal });
                } catch {
                    throw describeCallError(e, call, attempt);
                }
                delay = Math.min(delay * 2, 4000);
            }
        }
    }

    /**
     * One GET of an API path, its body parsed as plain JSON: no typed model is built (client-node's
     * typed calls parse a list a second time into class instances, which a large cluster's list
     * makes costly), and the Accept header may ask for another form (a Table, metadata only). Made
     * with client-node's own HTTP library and credentials, bounded like every request (see
     * requestOptions). Errors carry the HTTP status (`code`) and the API's Status body, as the typed
     * calls' do. One attempt: wrap it in `call` for retries.
     */
    async getJson<T>(
        path: string,
        query: Record<string, string | number | boolean | undefined> = {},
        accept = "application/json",
    ): Promise<T> {
        const lib = this.lib;
        const url = new URL(`${this.kc.getCurrentCluster()!.server}${path}`);
        for (const [key, value] of Object.entries(query)) {
            if (value !== undefined) url.searchParams.set(key, String(value));
        }
        const context = new lib.RequestContext(url.toString(), lib.HttpMethod.GET);
        await this.kc.applySecurityAuthentication(context);
        context.setHeaderParam("Accept", accept);
        context.setSignal(AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_SECONDS * 1000), this.signal]));
        const response = await new lib.IsomorphicFetchHttpLibrary().send(context).toPromise();
        const text = await response.body.text();
        if (response.httpStatusCode >= 400) {
            throw new lib.ApiException(response.httpStatusCode, `GET ${url.pathname}`, text, {});
        }
        return JSON.parse(text) as T;
    }

    /** Every page of a list, each retried as `call` does, handed to `onPage` as it arrives. */
    async listPages<T>(
        call: ApiCall,
        listPage: (page: { limit: number; _continue?: string }, options: RequestOptions) => Promise<ListPage<T>>,
        onPage: (page: ListPage<T>) => void,
        options: CallOptions & { pageSize?: number } = {},
    ): Promise<{ resourceVersion?: string }> {
        let resourceVersion: string | undefined;
        let token: string | undefined;
        do {
            const page = await this.call(
                call,
                (requestOptions) =>
                    listPage({ limit: options.pageSize ?? LIST_PAGE_SIZE, _continue: token }, requestOptions),
                options,
            );
            onPage(page);
            resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
            token = page.metadata?._continue || undefined;
        } while (token);
        return { resourceVersion };
    }
}
