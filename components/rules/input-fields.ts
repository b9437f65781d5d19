/**
 * Reading one field of the raw inputs: unknowns the engine passes during preview go through
 * untouched, every problem is collected (so `check` reports them all at once, by property), and
 * what is valid comes out normalized. The scheduling fields are in ./scheduling-fields.
 */
import { isDns1123Label, isDns1123Subdomain } from "./kubernetes-validation";
import { describeType, parseImageReference } from "./references";

/** The placeholder the engine passes for values not known during preview. */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN_VALUE;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

export interface CheckFailure {
    property: string;
    reason: string;
}

export interface Collector {
    readonly failures: CheckFailure[];
    fail(property: string, reason: string): void;
}

/** A closure, not a class: Pulumi's closure serializer drops class field initializers. */
export function collector(): Collector {
    const failures: CheckFailure[] = [];
    return { failures, fail: (property, reason) => void failures.push({ property, reason }) };
}

export function normalizeImages(value: unknown, errors: Collector): string[] {
    if (isUnknown(value)) return value as unknown as string[];
    if (value === undefined || value === null) {
        errors.fail(
            "images",
            'is required: a non-empty list of image references, e.g. ["jupyter/scipy-notebook:2024-01-15"]',
        );
        return [];
    }
    if (!Array.isArray(value)) {
        errors.fail("images", `must be a list of image references, got ${describeType(value)}`);
        return [];
    }
    if (value.length === 0) {
        errors.fail("images", "must list at least one image reference");
        return [];
    }
    const seen = new Set<string>();
    const result: string[] = [];
    value.forEach((item, index) => {
        if (isUnknown(item)) {
            result.push(item as string);
            return;
        }
        try {
            const normalized = parseImageReference(item).normalized;
            if (!seen.has(normalized)) {
                seen.add(normalized);
                result.push(normalized);
            }
        } catch (e) {
            errors.fail(`images[${index}]`, errorText(e));
        }
    });
    return result;
}

export function normalizeSingleImage(value: unknown, property: string, fallback: string, errors: Collector): string {
    if (value === undefined || value === null) return fallback;
    if (isUnknown(value)) return value as string;
    try {
        return parseImageReference(value).normalized;
    } catch (e) {
        errors.fail(property, errorText(e));
        return fallback;
    }
}

export function normalizeNamespace(value: unknown, fallback: string, errors: Collector): string {
    if (value === undefined || value === null) return fallback;
    if (isUnknown(value)) return value as string;
    if (typeof value !== "string" || !isDns1123Label(value)) {
        errors.fail(
            "namespace",
            `${typeof value === "string" ? `"${value}"` : describeType(value)} is not a valid namespace name (a DNS-1123 label: at most 63 lowercase letters, digits and "-", starting and ending alphanumeric)`,
        );
        return fallback;
    }
    return value;
}

export function normalizePullSecrets(value: unknown, errors: Collector): string[] {
    if (value === undefined || value === null) return [];
    if (isUnknown(value)) return value as unknown as string[];
    if (!Array.isArray(value)) {
        errors.fail("imagePullSecrets", `must be a list of secret names, got ${describeType(value)}`);
        return [];
    }
    const result: string[] = [];
    value.forEach((item, index) => {
        // Accept the Kubernetes LocalObjectReference shape too, as people copy it from pod specs.
        const name = isPlainObject(item) ? item.name : item;
        if (typeof name !== "string" || !isDns1123Subdomain(name)) {
            errors.fail(
                `imagePullSecrets[${index}]`,
                `${typeof name === "string" ? `"${name}"` : describeType(name)} is not a valid secret name (a DNS-1123 subdomain: lowercase letters, digits, "-" and ".")`,
            );
        } else if (!result.includes(name)) {
            result.push(name);
        }
    });
    return result;
}

export function normalizeSeconds(value: unknown, property: string, fallback: number, errors: Collector): number {
    if (value === undefined || value === null) return fallback;
    if (isUnknown(value)) return value as unknown as number;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
        errors.fail(property, `must be a positive number of seconds, got ${describeType(value)}`);
        return fallback;
    }
    return value;
}

export function optionalName(value: unknown, property: string, errors: Collector): string | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    if (isUnknown(value)) return value as string;
    if (typeof value !== "string" || !isDns1123Subdomain(value)) {
        errors.fail(
            property,
            `${typeof value === "string" ? `"${value}"` : describeType(value)} is not a valid name (a DNS-1123 subdomain)`,
        );
        return undefined;
    }
    return value;
}

export function optionalString(value: unknown, property: string, errors: Collector): string | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") {
        // Never echo the value: this may be a credential.
        errors.fail(property, `must be a string, got ${Array.isArray(value) ? "an array" : typeof value}`);
        return undefined;
    }
    return value;
}

export function normalizePatch(value: unknown, errors: Collector): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as unknown as Record<string, unknown>;
    if (!isPlainObject(value)) {
        errors.fail(
            "daemonSetPatch",
            `must be an object (a JSON merge patch of the DaemonSet manifest), got ${describeType(value)}`,
        );
        return undefined;
    }
    return value;
}

export function normalizeContinuous(value: unknown, errors: Collector): boolean {
    return normalizeFlag(value, "continuous", errors);
}

/** An optional boolean, false when absent. */
export function normalizeFlag(value: unknown, property: string, errors: Collector): boolean {
    if (value === undefined || value === null) return false;
    if (isUnknown(value)) return value as unknown as boolean;
    if (typeof value !== "boolean") {
        errors.fail(property, `must be true or false, got ${describeType(value)}`);
        return false;
    }
    return value;
}

/** The choices of `unschedulableNodes`, the first the default. */
export const UNSCHEDULABLE_NODE_POLICIES: readonly string[] = ["skip", "fail"];

export function normalizeUnschedulableNodes(value: unknown, errors: Collector): "skip" | "fail" | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as unknown as "skip";
    if (typeof value !== "string" || !UNSCHEDULABLE_NODE_POLICIES.includes(value)) {
        errors.fail(
            "unschedulableNodes",
            `must be one of ${UNSCHEDULABLE_NODE_POLICIES.map((p) => `"${p}"`).join(", ")}, got ${describeType(value)}`,
        );
        return undefined;
    }
    return value as "skip" | "fail";
}

/** The kubelet's --node-status-max-images: a whole number of images, at least 1, or -1 (no cap). */
export function normalizeNodeStatusMaxImages(value: unknown, errors: Collector): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as unknown as number;
    if (typeof value !== "number" || !Number.isInteger(value) || (value < 1 && value !== -1)) {
        errors.fail(
            "nodeStatusMaxImages",
            `must be the kubelets' --node-status-max-images: a whole number, at least 1, or -1 for no cap; got ${describeType(value)}`,
        );
        return undefined;
    }
    return value;
}

export function normalizeMaxParallelNodes(value: unknown, errors: Collector): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as unknown as number;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
        errors.fail("maxParallelNodes", `must be a whole number of nodes, at least 1, got ${describeType(value)}`);
        return undefined;
    }
    return value;
}

/** The most pre-pull pods a node gets: each is one more pod against the node's pod limit. */
export const MAX_PARALLEL_PULLS = 8;

export function normalizeParallelPulls(value: unknown, errors: Collector): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as unknown as number;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_PARALLEL_PULLS) {
        errors.fail(
            "parallelPulls",
            `must be a whole number of pre-pull pods per node, from 1 to ${MAX_PARALLEL_PULLS}, got ${describeType(value)}`,
        );
        return undefined;
    }
    return value;
}

export function normalizeOwnerId(value: unknown, old: unknown, makeOwnerId: () => string, errors: Collector): string {
    const candidate = value ?? old;
    if (candidate === undefined || candidate === null || candidate === "") return makeOwnerId();
    if (typeof candidate !== "string" || !isDns1123Label(candidate) || candidate.length > 50) {
        errors.fail(
            "ownerId",
            `${describeType(candidate)} is not a valid owner id (a DNS-1123 label of at most 50 characters)`,
        );
        return makeOwnerId();
    }
    return candidate;
}

function errorText(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}
