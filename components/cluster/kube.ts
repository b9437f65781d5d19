/**
 * Connecting to the cluster. @kubernetes/client-node is loaded lazily, inside the provider's
 * methods: a module captured at the top level would be serialized into state as a path.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

import { credentialStrings, isKubeconfigContents, unusableKubeconfigReason } from "../rules/credentials";

export type ClientLibrary = typeof k8s;
export type KubeConfig = k8s.KubeConfig;

export function loadClientLibrary(): ClientLibrary {
    // Node >= 22.12 can require() this ES module; see package.json engines.
    return require("@kubernetes/client-node") as ClientLibrary;
}

/**
 * Loads the kubeconfig the inputs name: contents, a path, or (when absent) the ambient
 * KUBECONFIG / ~/.kube/config / in-cluster config. Errors never quote the value (it may be a
 * credential that only looks like a path): they give its form and length, and what to pass.
 */
export function loadKubeConfig(
    lib: ClientLibrary,
    kubeconfig: string | undefined,
    context: string | undefined,
): KubeConfig {
    const kc = new lib.KubeConfig();
    const unusable = kubeconfig === undefined ? undefined : unusableKubeconfigReason(kubeconfig);
    if (unusable !== undefined) throw new Error(`kubeconfig: ${unusable}`);
    try {
        if (kubeconfig === undefined) {
            kc.loadFromDefault();
        } else if (isKubeconfigContents(kubeconfig)) {
            kc.loadFromString(kubeconfig);
        } else {
            kc.loadFromFile(kubeconfig);
        }
    } catch (e) {
        throw new Error(`kubeconfig: ${describeLoadFailure(kubeconfig, e)}`);
    }
    if (context !== undefined) {
        const names = kc.getContexts().map((c) => c.name);
        if (!names.includes(context)) {
            // A context name is no secret, but a credential pasted into `context` would be.
            const shown = /^[^\s]{1,100}$/.test(context) ? `"${context}"` : `(${context.length} characters, not shown)`;
            throw new Error(
                `context: ${shown} is not in the kubeconfig; available contexts: ${names.join(", ") || "(none)"}`,
            );
        }
        kc.setCurrentContext(context);
    }
    if (!kc.getCurrentCluster()) {
        throw new Error("kubeconfig: no current cluster; set `context` or a current-context in the kubeconfig");
    }
    return kc;
}

function describeLoadFailure(kubeconfig: string | undefined, error: unknown): string {
    const kind = (error as Error)?.name ?? "error";
    if (kubeconfig === undefined)
        return `could not load the ambient kubeconfig: ${kind} (check KUBECONFIG or ~/.kube/config)`;
    if (isKubeconfigContents(kubeconfig)) {
        return `could not parse the kubeconfig contents (${kubeconfig.length} characters, not shown): ${kind}; check that they are a valid kubeconfig`;
    }
    // A path that exists is no credential and helps the user; one that does not may be a secret.
    const fs = require("fs") as typeof import("fs");
    if (fs.existsSync(kubeconfig))
        return `could not load the kubeconfig file "${kubeconfig}": ${kind}; check that it is a valid kubeconfig`;
    return (
        `no file at the path given (${kubeconfig.length} characters, not shown, in case it is a credential); ` +
        "pass kubeconfig contents (YAML or JSON, with real newlines) or the path of an existing file"
    );
}

/**
 * The credential strings of the kubeconfig a run uses: the given value, or (when absent) the
 * ambient files client-node would read and the in-cluster service account token.
 */
export function credentialsOf(kubeconfig: string | undefined): string[] {
    if (kubeconfig !== undefined) return credentialStrings(kubeconfig);
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const os = require("os") as typeof import("os");
    const files = process.env.KUBECONFIG
        ? process.env.KUBECONFIG.split(path.delimiter).filter((f) => f !== "")
        : [path.join(os.homedir(), ".kube", "config")];
    files.push("/var/run/secrets/kubernetes.io/serviceaccount/token");
    return files.flatMap((file) => {
        try {
            return credentialStrings(fs.readFileSync(file, "utf8"));
        } catch {
            return [];
        }
    });
}

/** HTTP status of a client-node error, if it is one. */
export function statusCode(error: unknown): number | undefined {
    // API calls put the status in `code`, watches in `statusCode`; a DOMException (an aborted
    // request) has a legacy numeric `code` of its own, which is no HTTP status.
    const e = error as { code?: unknown; statusCode?: unknown; name?: unknown } | undefined;
    if (e?.name === "TimeoutError" || e?.name === "AbortError") return undefined;
    const code = e?.code ?? e?.statusCode;
    return typeof code === "number" && code >= 100 && code <= 599 ? code : undefined;
}

/** A short, credential-free description of an API error. */
export function describeApiError(error: unknown): string {
    const code = statusCode(error);
    const body = (error as { body?: unknown })?.body;
    let detail: string | undefined;
    if (typeof body === "string") {
        try {
            detail = (JSON.parse(body) as { message?: string }).message;
        } catch {
            detail = body.slice(0, 300);
        }
    } else if (body && typeof body === "object") {
        detail = (body as { message?: string }).message;
    }
    if (code !== undefined) {
        return `HTTP ${code}${detail ? `: ${detail}` : ""}`;
    }
    return error instanceof Error ? error.message : String(error);
}

/** How long any single API request may take before it is abandoned (a server that accepts and never answers). */
export const REQUEST_TIMEOUT_SECONDS = 15;

/** Whether an error is a request abandoned by its timeout. */
export function isTimeout(error: unknown): boolean {
    const name = (error as { name?: unknown })?.name;
    const causeName = (error as { cause?: { name?: unknown } })?.cause?.name;
    return name === "TimeoutError" || causeName === "TimeoutError" || /aborted due to timeout/i.test(String(error));
}

/** Errors worth retrying: throttling, server errors, timeouts, and connections that failed. */
export function isRetryable(error: unknown): boolean {
    const code = statusCode(error);
    if (code === undefined) {
        return (
            isTimeout(error) ||
            !(error instanceof TypeError) ||
            /fetch failed|ECONN|socket|network/i.test(String(error))
        );
    }
    return code === 429 || code >= 500;
}

/**
 * Per-request options for @kubernetes/client-node: a timeout on every request (an AbortSignal set
 * by a middleware when the request starts: REQUEST_TIMEOUT_SECONDS, or less when `deadline`, in
 * ms since the epoch, comes sooner), and a Content-Type for patches.
 */
export function requestOptions(lib: ClientLibrary, options: { deadline?: number; contentType?: string } = {}) {
    const configuration = {
        middleware: [
            {
                pre: (context: k8s.RequestContext) => {
                    const left = options.deadline === undefined ? Infinity : options.deadline - Date.now();
                    context.setSignal(
                        AbortSignal.timeout(Math.max(1000, Math.min(REQUEST_TIMEOUT_SECONDS * 1000, left))),
                    );
                    return new lib.Observable(Promise.resolve(context));
                },
                post: (response: k8s.ResponseContext) => new lib.Observable(Promise.resolve(response)),
            },
        ],
        middlewareMergeStrategy: "append" as const,
    };
    return options.contentType
        ? lib.setHeaderOptions("Content-Type", options.contentType, configuration)
        : configuration;
}

/** One API call, named for error messages: `list nodes`, `create daemonsets in namespace "jhub"`. */
export interface ApiCall {
    verb: string;
    resource: string;
    namespace?: string;
}

export interface RetryOptions {
    /** No attempt starts after this time (ms since the epoch), and waits never pass it. */
    deadline?: number;
    /** At most this many attempts. Default 6. */
    attempts?: number;
}

/**
 * Runs `operation` (one API request), retrying retryable errors with capped exponential back-off
 * until the attempts or the deadline run out. Errors keep their HTTP status (`code`) and say which
 * call failed: a 403 names the missing permission, a timeout says the call did not answer.
 */
export async function callApi<T>(call: ApiCall, operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 6;
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
        try {
            return await operation();
        } catch (e) {
            const next = Date.now() + delay;
            const outOfTime = options.deadline !== undefined && next + 1000 >= options.deadline;
            if (attempt >= attempts || outOfTime || !isRetryable(e)) throw describeCallError(e, call, attempt);
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(delay * 2, 4000);
        }
    }
}

/** An Error naming the call, carrying the HTTP status as `code` (a plain Error: see references.ts). */
export function describeCallError(error: unknown, call: ApiCall, attempts = 1): Error {
    const code = statusCode(error);
    const where = call.namespace ? ` in namespace "${call.namespace}"` : code === 403 ? " (cluster-wide)" : "";
    let message: string;
    if (code === 403) {
        message = `image-prepuller: the credentials may not ${call.verb} ${call.resource}${where}; grant RBAC verb "${call.verb}" on "${call.resource}" (see README, RBAC). ${describeApiError(error)}`;
    } else if (isTimeout(error)) {
        message = `image-prepuller: ${call.verb} ${call.resource}${where} did not answer (${attempts} attempt${attempts === 1 ? "" : "s"}, each given up after at most ${REQUEST_TIMEOUT_SECONDS}s); check that the API server is reachable and responding`;
    } else {
        message = `image-prepuller: ${call.verb} ${call.resource}${where} failed${attempts > 1 ? ` after ${attempts} attempts` : ""}: ${describeApiError(error)}`;
    }
    return Object.assign(new Error(message), { code });
}
