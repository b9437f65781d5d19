/**
 * What went wrong with an API call, in words a person can act on: the HTTP status, whether it
 * was a timeout, whether a retry can help, and a message naming the call. Credential-free: API
 * error bodies are cut and the provider redacts every message on its way out.
 */

/** HTTP status of a client-node error, if it is one. */
export function statusCode(error: unknown): number | undefined {
    // API calls put the status in `code`, watches in `statusCode`; a DOMException (an aborted
    // request) has a legacy numeric `code` of its own, which is no HTTP status.
    const e = error as { code?: unknown; statusCode?: unknown; name?: unknown } | undefined;
    if (e?.name === "TimeoutError" || e?.name === "AbortError") return undefined;
    const code = e?.code ?? e?.statusCode;
    return typeof code === "number" && code >= 100 && code <= 599 ? code : undefined;
}

/** The API's own message in an error's body (a Status), if there is one. */
function apiMessage(error: unknown): string | undefined {
    const body = (error as { body?: unknown })?.body;
    if (typeof body === "string") {
        try {
            return (JSON.parse(body) as { message?: string }).message;
        } catch {
            return undefined;
        }
    }
    return body && typeof body === "object" ? (body as { message?: string }).message : undefined;
}

/**
 * Whether a 403 comes from the authorizer (RBAC: `User "x" cannot list resource "nodes" ...`),
 * not from admission (a terminating namespace, a quota, a webhook), which also answer 403.
 */
export function isPermissionDenial(error: unknown): boolean {
    if (statusCode(error) !== 403) return false;
    const message = apiMessage(error);
    return message === undefined || / cannot [a-z]+ resource "/.test(message);
}

function isJson(text: string): boolean {
    try {
        JSON.parse(text);
        return true;
    } catch {
        return false;
    }
}

/** A short, credential-free description of an API error. */
export function describeApiError(error: unknown): string {
    const code = statusCode(error);
    const body = (error as { body?: unknown })?.body;
    // A body that is not JSON (a proxy's page) is quoted in part.
    const detail = typeof body === "string" && !isJson(body) ? body.slice(0, 300) : apiMessage(error);
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

/**
 * Whether an error says the cluster cannot be reached with these credentials at all: no
 * connection (refused, no such host, no route), no answer, or credentials it no longer accepts
 * (401). What `deleteUnreachable` forgives.
 */
export function isUnreachable(error: unknown): boolean {
    if ((error as { unreachable?: unknown })?.unreachable === true) return true;
    const code = statusCode(error);
    if (code !== undefined) return code === 401;
    return (
        isTimeout(error) ||
        /fetch failed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ETIMEDOUT|socket hang up/i.test(
            `${String(error)} ${String((error as { cause?: unknown })?.cause ?? "")}`,
        )
    );
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

/** One API call, named for error messages: `list nodes`, `create daemonsets in namespace "jhub"`. */
export interface ApiCall {
    verb: string;
    resource: string;
    namespace?: string;
}

/** An Error naming the call, carrying the HTTP status as `code` (a plain Error: see references.ts). */
export function describeCallError(error: unknown, call: ApiCall, attempts = 1): Error {
    const code = statusCode(error);
    const where = call.namespace ? ` in namespace "${call.namespace}"` : code === 403 ? " (cluster-wide)" : "";
    const detail = apiMessage(error) ?? "";
    let message: string;
    if (code === 403 && isPermissionDenial(error)) {
        message = `image-prepuller: the credentials may not ${call.verb} ${call.resource}${where}; grant RBAC verb "${call.verb}" on "${call.resource}" (see README, RBAC). ${describeApiError(error)}`;
    } else if (code === 403) {
        message = `image-prepuller: ${call.verb} ${call.resource}${where} was refused: ${detail}${admissionHint(detail, call)}`;
    } else if (code === 404 && /^namespaces "[^"]*" not found/.test(detail) && call.namespace) {
        message = `image-prepuller: namespace "${call.namespace}" does not exist; create it first (a Namespace resource the component dependsOn) or set namespace to an existing one`;
    } else if (isTimeout(error)) {
        message = `image-prepuller: ${call.verb} ${call.resource}${where} did not answer (${attempts} attempt${attempts === 1 ? "" : "s"}, each given up after at most ${REQUEST_TIMEOUT_SECONDS}s); check that the API server is reachable and responding`;
    } else {
        message = `image-prepuller: ${call.verb} ${call.resource}${where} failed${attempts > 1 ? ` after ${attempts} attempts` : ""}: ${describeApiError(error)}`;
    }
    return Object.assign(new Error(message), { code, unreachable: isUnreachable(error) });
}

/** What to change when admission, not RBAC, refused a call. */
function admissionHint(detail: string, call: ApiCall): string {
    if (/because it is being terminated/.test(detail)) {
        return ` (namespace "${call.namespace}" is being deleted; wait until it is gone and create it again, or pre-pull in another namespace)`;
    }
    if (/exceeded quota/.test(detail)) {
        return ` (a ResourceQuota in namespace "${call.namespace}" allows no more ${call.resource}; raise it, or pre-pull in another namespace)`;
    }
    if (/admission webhook .* denied/.test(detail)) {
        return ` (an admission webhook refuses the pre-puller's ${call.resource}; allow them in its policy)`;
    }
    return " (an admission plugin or policy refused it; RBAC allowed it)";
}
