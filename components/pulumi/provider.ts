/**
 * The dynamic provider. Kept small and stateless: it validates once in `check`, decides `diff`
 * offline, and hands the cluster work to ./prepull. Pulumi serializes this object into state and
 * runs the stored copy on `delete`, so `delete` accepts state written by any earlier version.
 */
import type * as pulumi from "@pulumi/pulumi";
import {
    DEFAULT_NAMESPACE,
    normalizeInputs,
    OPERATIONAL_PROPERTIES,
    PULL_PROPERTIES,
    type PrePullInputs,
} from "../rules/inputs";
import { UNKNOWN_VALUE } from "../rules/input-fields";
import {
    clusterIdentity,
    credentialsOf,
    loadClientLibrary,
    loadKubeConfig,
    quickClusterIdentity,
} from "../cluster/kubeconfig";
import { isUnreachable } from "../cluster/errors";
import { ownerSelector } from "../rules/daemonset";
import { kubeconfigForm, redact, redactError } from "../rules/credentials";
import { legacyContinuousOwnerId } from "../rules/continuous";
import type { PrePullOutputs, PrePullResult } from "../rules/public-types";
import { inspectPresence, prePull, removeOwnedObjects, type OwnedObjects } from "../run/prepull";

export type { PrePullOutputs } from "../rules/public-types";

/** JSON with sorted keys, so that equal values compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
    return JSON.stringify(value, (_key, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
            : v,
    );
}

function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN_VALUE) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
    return false;
}

export function changedProperties(olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
    return [...PULL_PROPERTIES, ...OPERATIONAL_PROPERTIES].filter(
        (key) => containsUnknown(news[key]) || canonicalJson(olds[key] ?? null) !== canonicalJson(news[key] ?? null),
    );
}

/**
 * Whether the kubeconfig now points at another cluster (server or CA changed). Unknown on either
 * side (the ambient kubeconfig, state written before 0.2) counts as the same cluster.
 */
function clusterChanged(olds: Record<string, unknown>, news: Record<string, unknown>): boolean {
    return (
        typeof olds.clusterIdentity === "string" &&
        typeof news.clusterIdentity === "string" &&
        olds.clusterIdentity !== news.clusterIdentity
    );
}

/** deleteUnreachable, from the stored inputs or, as @pulumi/kubernetes reads it, the environment. */
function deletesUnreachable(props: { deleteUnreachable?: unknown } | undefined): boolean {
    return props?.deleteUnreachable === true || process.env.PULUMI_K8S_DELETE_UNREACHABLE === "true";
}

/**
 * Removes what an owner has; with `forgive` (deleteUnreachable), a cluster that cannot be reached
 * leaves it in place with a warning instead of failing the delete.
 */
async function removeOrForget(
    owned: OwnedObjects,
    forgive: boolean,
    logLine: (line: string) => void,
    warn = true,
): Promise<void> {
    try {
        await removeOwnedObjects(owned, logLine);
    } catch (e) {
        if (!forgive || !isUnreachable(e)) throw e;
        if (!warn) return;
        logLine(
            `image-prepuller: warning: the cluster cannot be reached (${(e as Error).message.replace(/^image-prepuller: /, "")}); removing ${owned.namespace}/${owned.ownerId} from the state without deleting anything (deleteUnreachable). If the cluster still exists, delete its DaemonSets labelled ${ownerSelector(owned.ownerId)} yourself.`,
        );
    }
}

/** Whether a refresh found eligible nodes missing images (drift the next update heals). */
function hasDrift(olds: Record<string, unknown>): boolean {
    const missing = olds.missingNodes;
    return missing !== null && typeof missing === "object" && Object.keys(missing).length > 0;
}

function newOwnerId(): string {
    return `prepull-${(require("crypto") as typeof import("crypto")).randomBytes(5).toString("hex")}`;
}

function log(line: string): void {
    console.log(line);
}

/**
 * Runs one provider method with every error and progress line cleaned of the credentials of the
 * kubeconfigs it was given (or of the ambient one): a message from the API, a library or our own
 * code can then never carry a token, password or key, whole or in part.
 */
async function redacting<T>(
    kubeconfigs: readonly unknown[],
    work: (logLine: (line: string) => void, clean: (text: string) => string) => Promise<T>,
): Promise<T> {
    const given = kubeconfigs.filter((k): k is string => typeof k === "string");
    const secrets = given.length > 0 ? given.flatMap(credentialsOf) : credentialsOf(undefined);
    const clean = (text: string) => redact(text, secrets);
    try {
        return await work((line) => log(clean(line)), clean);
    } catch (e) {
        throw redactError(e, secrets);
    }
}

/** The id names the namespace and owner, so cleanup works even from state that lacks them. */
function resourceId(inputs: Pick<PrePullInputs, "namespace" | "ownerId">): string {
    return `${inputs.namespace}/${inputs.ownerId}`;
}

/** The namespace and name an id of this provider holds (`namespace/name`). */
function splitResourceId(id: string): [string | undefined, string | undefined] {
    return id.includes("/") ? (id.split("/", 2) as [string, string]) : [undefined, undefined];
}

/**
 * An update that moved a resource to another namespace or owner first removes, with the new
 * credentials, what it left under the old one.
 */
async function removeIfMoved(
    olds: Partial<Pick<PrePullInputs, "namespace" | "ownerId">>,
    news: PrePullInputs,
    remove: (owned: OwnedObjects, logLine: (line: string) => void) => Promise<void>,
    logLine: (line: string) => void,
): Promise<void> {
    if (olds.namespace && olds.ownerId && (olds.namespace !== news.namespace || olds.ownerId !== news.ownerId)) {
        await remove(
            { namespace: olds.namespace, ownerId: olds.ownerId, kubeconfig: news.kubeconfig, context: news.context },
            logLine,
        );
    }
}

/** `check` of both resources: validation and normalization, offline. */
async function checkInputs(olds: Record<string, unknown>, news: Record<string, unknown>) {
    const { inputs, failures } = normalizeInputs(news, olds, newOwnerId);
    const kubeconfig = inputs.kubeconfig;
    if (kubeconfig !== undefined && !containsUnknown(kubeconfig) && !containsUnknown(inputs.context)) {
        // Offline: parses the kubeconfig (or reads the file) without contacting the cluster.
        try {
            inputs.clusterIdentity =
                quickClusterIdentity(kubeconfig, inputs.context) ??
                clusterIdentity(loadKubeConfig(loadClientLibrary(), kubeconfig, inputs.context));
        } catch (e) {
            const message = (e as Error).message;
            const property = message.startsWith("context:") ? "context" : "kubeconfig";
            failures.push({ property, reason: message.replace(/^(kubeconfig|context): /, "") });
        }
    } else if (
        kubeconfig === undefined &&
        typeof inputs.context === "string" &&
        !containsUnknown(inputs.context) &&
        kubeconfigForm(inputs.context) !== "path"
    ) {
        failures.push({
            property: "context",
            reason: `must be a context name, not kubeconfig contents (got ${inputs.context.length} characters, not shown); pass the contents as kubeconfig`,
        });
    }
    return { inputs, failures };
}

export const prePullProvider: pulumi.dynamic.ResourceProvider = {
    async check(olds: Record<string, unknown>, news: Record<string, unknown>) {
        return redacting([news?.kubeconfig], async (_logLine, clean) => {
            const { inputs, failures } = await checkInputs(olds, news);
            return { inputs, failures: failures.map((f) => ({ ...f, reason: clean(f.reason) })) };
        });
    },

    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const changed = changedProperties(olds, news);
        return {
            changes: changed.length > 0 || hasDrift(olds) || clusterChanged(olds, news),
            replaces: [],
            deleteBeforeReplace: false,
        };
    },

    async create(inputs: PrePullInputs) {
        return redacting([inputs.kubeconfig], async (logLine) => {
            const result = await prePull(inputs, logLine);
            return { id: resourceId(inputs), outs: { ...inputs, ...result } };
        });
    },

    async update(_id: string, olds: PrePullOutputs, news: PrePullInputs) {
        const pullChanged = changedProperties(olds as never, news as never).some((k) =>
            (PULL_PROPERTIES as readonly string[]).includes(k),
        );
        if (!pullChanged && !hasDrift(olds as never) && !clusterChanged(olds as never, news as never)) {
            // Only how we connect (same cluster) or wait changed: record it, nothing to pull.
            const previous: PrePullResult = {
                nodes: olds.nodes ?? [],
                skipped: olds.skipped ?? true,
                durationSeconds: olds.durationSeconds ?? 0,
                missingNodes: {},
                ...(olds.droppedNodes ? { droppedNodes: olds.droppedNodes } : {}),
                ...(olds.skippedNodes ? { skippedNodes: olds.skippedNodes } : {}),
                ...(olds.pullReport ? { pullReport: olds.pullReport } : {}),
            };
            return { outs: { ...news, ...previous } };
        }
        return redacting([news.kubeconfig, olds.kubeconfig], async (logLine) => {
            await removeIfMoved(olds, news, removeOwnedObjects, logLine);
            const result = await prePull(news, logLine);
            return { outs: { ...news, ...result } };
        });
    },

    async read(id: string, props?: PrePullOutputs) {
        if (!props || !Array.isArray(props.images)) {
            return { id, props: props ?? {} };
        }
        return redacting([props.kubeconfig], async () => {
            const now = await inspectPresence(props);
            return { id, props: { ...props, nodes: now.nodes, missingNodes: now.missingNodes } };
        });
    },

    async delete(id: string, props: Partial<PrePullOutputs>) {
        const [idNamespace, idOwner] = splitResourceId(id);
        const namespace = props?.namespace ?? idNamespace;
        const ownerId = props?.ownerId ?? idOwner;
        if (!namespace || !ownerId) return;
        await redacting([props?.kubeconfig], (logLine) =>
            removeOrForget(
                { namespace, ownerId, kubeconfig: props?.kubeconfig, context: props?.context },
                deletesUnreachable(props),
                logLine,
            ),
        );
    },
};

/** Inputs of the cleanup guard: just enough to find what an owner may have left. */
export interface CleanupInputs {
    namespace?: string;
    ownerId: string;
    kubeconfig?: string;
    context?: string;
    deleteUnreachable?: boolean;
}

/**
 * The cleanup guard is created (instantly, with no cluster call) before the pre-pull starts.
 * If `pulumi up` is killed mid-pre-pull, the pre-pull resource never reaches state but the
 * guard does, so the next `pulumi destroy` still removes the DaemonSet the killed run left.
 */
export const cleanupProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: CleanupInputs, news: CleanupInputs) {
        const changes = (["namespace", "ownerId", "kubeconfig", "context", "deleteUnreachable"] as const).some(
            (k) => olds[k] !== news[k],
        );
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: CleanupInputs) {
        return {
            id: resourceId({ namespace: inputs.namespace ?? DEFAULT_NAMESPACE, ownerId: inputs.ownerId }),
            outs: inputs,
        };
    },
    async update(_id: string, _olds: CleanupInputs, news: CleanupInputs) {
        return { outs: news };
    },
    async delete(id: string, props: Partial<CleanupInputs>) {
        const owned = { ...props, namespace: props?.namespace ?? DEFAULT_NAMESPACE };
        await prePullProvider.delete!(id, owned as never);
        // Versions before 0.2 kept the continuous puller as a dynamic resource of this owner.
        if (owned.ownerId) {
            const ownerId = legacyContinuousOwnerId(owned.ownerId);
            // The same cluster the delete above reached or forgave: no second warning.
            await redacting([owned.kubeconfig], (logLine) =>
                removeOrForget({ ...(owned as OwnedObjects), ownerId }, deletesUnreachable(owned), logLine, false),
            );
        }
    },
};
