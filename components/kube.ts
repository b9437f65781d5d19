/**
 * Connecting to the cluster. @kubernetes/client-node is loaded lazily, inside the provider's
 * methods: a module captured at the top level would be serialized into state as a path.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

export type ClientLibrary = typeof k8s;
export type KubeConfig = k8s.KubeConfig;

export function loadClientLibrary(): ClientLibrary {
    // Node >= 22.12 can require() this ES module; see package.json engines.
    return require("@kubernetes/client-node") as ClientLibrary;
}

/** Kubeconfig contents are YAML or JSON with several lines; anything else is a file path. */
export function looksLikeKubeconfigContents(value: string): boolean {
    return value.includes("\n") || value.trimStart().startsWith("{") || value.trimStart().startsWith("apiVersion");
}

/**
 * Loads the kubeconfig the inputs name: contents, a path, or (when absent) the ambient
 * KUBECONFIG / ~/.kube/config / in-cluster config. Errors never include the contents.
 */
export function loadKubeConfig(
    lib: ClientLibrary,
    kubeconfig: string | undefined,
    context: string | undefined,
): KubeConfig {
    const kc = new lib.KubeConfig();
    try {
        if (kubeconfig === undefined) {
            kc.loadFromDefault();
        } else if (looksLikeKubeconfigContents(kubeconfig)) {
            kc.loadFromString(kubeconfig);
        } else {
            kc.loadFromFile(kubeconfig);
        }
    } catch (e) {
        const source =
            kubeconfig === undefined
                ? "the ambient kubeconfig"
                : looksLikeKubeconfigContents(kubeconfig)
                  ? "the kubeconfig contents"
                  : `the kubeconfig file "${kubeconfig}"`;
        throw new Error(
            `kubeconfig: could not load ${source}: ${(e as Error).name ?? "error"} (check that it is a valid kubeconfig)`,
        );
    }
    if (context !== undefined) {
        const names = kc.getContexts().map((c) => c.name);
        if (!names.includes(context)) {
            throw new Error(
                `context: "${context}" is not in the kubeconfig; available contexts: ${names.join(", ") || "(none)"}`,
            );
        }
        kc.setCurrentContext(context);
    }
    if (!kc.getCurrentCluster()) {
        throw new Error("kubeconfig: no current cluster; set `context` or a current-context in the kubeconfig");
    }
    return kc;
}

/** HTTP status of a client-node error, if it is one. */
export function statusCode(error: unknown): number | undefined {
    // API calls put the status in `code`, watches in `statusCode`.
    const e = error as { code?: unknown; statusCode?: unknown } | undefined;
    const code = e?.code ?? e?.statusCode;
    return typeof code === "number" ? code : undefined;
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

/** Errors worth retrying: throttling, server errors, and connections that failed. */
export function isRetryable(error: unknown): boolean {
    const code = statusCode(error);
    if (code === undefined) {
        return !(error instanceof TypeError) || /fetch failed|ECONN|socket|network/i.test(String(error));
    }
    return code === 429 || code >= 500;
}

/** Retries `operation` on retryable errors with capped exponential back-off. */
export async function withRetry<T>(operation: () => Promise<T>, attempts = 6, firstDelayMs = 250): Promise<T> {
    let delay = firstDelayMs;
    for (let attempt = 1; ; attempt++) {
        try {
            return await operation();
        } catch (e) {
            if (attempt >= attempts || !isRetryable(e)) throw e;
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(delay * 2, 4000);
        }
    }
}

/** Turns a 403 into an error that names the missing permission. */
export function permissionError(error: unknown, verb: string, resource: string, namespace?: string): Error {
    if (statusCode(error) === 403) {
        const where = namespace ? ` in namespace "${namespace}"` : " (cluster-wide)";
        return new Error(
            `image-prepuller: the credentials may not ${verb} ${resource}${where}; grant RBAC verb "${verb}" on "${resource}" (see README, RBAC). ${describeApiError(error)}`,
        );
    }
    return new Error(`image-prepuller: ${verb} ${resource} failed: ${describeApiError(error)}`);
}
