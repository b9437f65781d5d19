/**
 * The one way in for data: the provider's `check` validates raw inputs offline and turns them
 * into `PrePullInputs`, the normalized shape everything after works on.
 */
import type { Affinity, NodeSelectorRequirement, NodeSelectorTerm, Toleration } from "./kubernetes-types";
import { describeType, parseImageReference } from "./references";

export const DEFAULT_NAMESPACE = "default";
export const DEFAULT_POLL_INTERVAL_SECONDS = 2;
export const DEFAULT_TIMEOUT_SECONDS = 600;
export const DEFAULT_HELPER_IMAGE = "docker.io/library/busybox:1.37.0";
export const DEFAULT_PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

/** The placeholder the engine passes for values not known during preview. */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface PrePullInputs {
    /** Normalized, de-duplicated image references, in the order first given. */
    images: string[];
    namespace: string;
    nodeSelector: Record<string, string>;
    tolerations: Toleration[];
    affinity?: Affinity;
    imagePullSecrets: string[];
    priorityClassName?: string;
    pollIntervalSeconds: number;
    timeoutSeconds: number;
    /** Kubeconfig contents or a path to one; absent: the ambient kubeconfig or in-cluster config. */
    kubeconfig?: string;
    context?: string;
    helperImage: string;
    pauseImage: string;
    daemonSetPatch?: Record<string, unknown>;
    /** Keep a long-lived DaemonSet so that nodes joining later pull the images too. Absent: false. */
    continuous?: boolean;
    /** At most this many nodes pull at once; absent: all eligible nodes at once. */
    maxParallelNodes?: number;
    /** Names the DaemonSet and labels everything this resource creates. Stable for its lifetime. */
    ownerId: string;
}

export interface CheckFailure {
    property: string;
    reason: string;
}

/** Inputs whose change means the images must be pulled again (on possibly other nodes). */
export const PULL_PROPERTIES = [
    "images",
    "namespace",
    "nodeSelector",
    "tolerations",
    "affinity",
    "imagePullSecrets",
    "priorityClassName",
    "helperImage",
    "pauseImage",
    "daemonSetPatch",
] as const;
/**
 * Inputs that change how we connect, wait, own the objects or keep nodes supplied later
 * (`continuous`), but not what must be on the nodes now: changing only these never re-pulls.
 */
export const OPERATIONAL_PROPERTIES = [
    "pollIntervalSeconds",
    "timeoutSeconds",
    "kubeconfig",
    "context",
    "ownerId",
    "continuous",
    "maxParallelNodes",
] as const;
/** Properties a user may set; anything else is a typo we reject rather than ignore. */
export const INPUT_PROPERTIES: readonly string[] = [...PULL_PROPERTIES, ...OPERATIONAL_PROPERTIES];
/** Properties the engine or earlier versions put into stored inputs. */
const IGNORED_PROPERTIES: readonly string[] = ["__provider"];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const TOLERATION_OPERATORS = ["Equal", "Exists"];
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const NODE_SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN_VALUE;
}

export function isDns1123Label(value: string): boolean {
    return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
    return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** Kubernetes label key: optional DNS subdomain prefix and "/", then a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
    const slash = key.indexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && !isDns1123Subdomain(prefix)) {
        return `"${key}" has an invalid prefix "${prefix}" (must be a lowercase DNS subdomain)`;
    }
    if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
        return `"${key}" is not a valid label key (1-63 characters of letters, digits, "-", "_", ".", starting and ending alphanumeric, with an optional DNS-subdomain prefix and "/")`;
    }
    return undefined;
}

export function labelValueProblem(value: unknown): string | undefined {
    if (typeof value !== "string") return `must be a string, got ${describeType(value)}`;
    if (value === "") return undefined;
    if (value.length > 63 || !QUALIFIED_NAME.test(value)) {
        return `"${value}" is not a valid label value (at most 63 characters of letters, digits, "-", "_", ".", starting and ending alphanumeric)`;
    }
    return undefined;
}

/**
 * A 64-bit integer as Go's strconv.ParseInt reads one (optional sign, decimal digits), the way the
 * scheduler reads the operands of Gt and Lt; undefined when it is none.
 */
export function parseInt64(text: string): bigint | undefined {
    if (!/^[+-]?\d+$/.test(text)) return undefined;
    const value = BigInt(text);
    return value >= -(2n ** 63n) && value < 2n ** 63n ? value : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

interface Collector {
    readonly failures: CheckFailure[];
    fail(property: string, reason: string): void;
}

/** A closure, not a class: Pulumi's closure serializer drops class field initializers. */
function collector(): Collector {
    const failures: CheckFailure[] = [];
    return { failures, fail: (property, reason) => void failures.push({ property, reason }) };
}

export interface NormalizeResult {
    inputs: PrePullInputs;
    failures: CheckFailure[];
}

/**
 * Validates and normalizes raw inputs. `olds` are the previously checked inputs, if any: the
 * owner id is kept from them so a resource keeps its DaemonSet name for its whole life.
 * `makeOwnerId` is called only for a new resource without one.
 */
export function normalizeInputs(
    news: Record<string, unknown>,
    olds: Record<string, unknown> | undefined,
    makeOwnerId: () => string,
): NormalizeResult {
    const errors = collector();
    for (const key of Object.keys(news)) {
        if (!INPUT_PROPERTIES.includes(key) && !IGNORED_PROPERTIES.includes(key)) {
            errors.fail(key, `unknown property "${key}"; allowed: ${INPUT_PROPERTIES.join(", ")}`);
        }
    }

    const inputs: PrePullInputs = {
        images: normalizeImages(news.images, errors),
        namespace: normalizeNamespace(news.namespace, errors),
        nodeSelector: normalizeNodeSelector(news.nodeSelector, errors),
        tolerations: normalizeTolerations(news.tolerations, errors),
        imagePullSecrets: normalizePullSecrets(news.imagePullSecrets, errors),
        pollIntervalSeconds: normalizeSeconds(
            news.pollIntervalSeconds,
            "pollIntervalSeconds",
            DEFAULT_POLL_INTERVAL_SECONDS,
            errors,
        ),
        timeoutSeconds: normalizeSeconds(news.timeoutSeconds, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS, errors),
        helperImage: normalizeSingleImage(news.helperImage, "helperImage", DEFAULT_HELPER_IMAGE, errors),
        pauseImage: normalizeSingleImage(news.pauseImage, "pauseImage", DEFAULT_PAUSE_IMAGE, errors),
        ownerId: normalizeOwnerId(news.ownerId, olds?.ownerId, makeOwnerId, errors),
    };
    const affinity = normalizeAffinity(news.affinity, errors);
    if (affinity !== undefined) inputs.affinity = affinity;
    const priorityClassName = optionalName(news.priorityClassName, "priorityClassName", errors);
    if (priorityClassName !== undefined) inputs.priorityClassName = priorityClassName;
    const kubeconfig = optionalString(news.kubeconfig, "kubeconfig", errors);
    if (kubeconfig !== undefined) inputs.kubeconfig = kubeconfig;
    const context = optionalString(news.context, "context", errors);
    if (context !== undefined) inputs.context = context;
    const patch = normalizePatch(news.daemonSetPatch, errors);
    if (patch !== undefined) inputs.daemonSetPatch = patch;
    // Defaults are left out, so that state written before these inputs existed compares equal.
    const continuous = normalizeContinuous(news.continuous, errors);
    if (continuous !== false) inputs.continuous = continuous;
    const maxParallelNodes = normalizeMaxParallelNodes(news.maxParallelNodes, errors);
    if (maxParallelNodes !== undefined) inputs.maxParallelNodes = maxParallelNodes;

    if (
        !isUnknown(inputs.pollIntervalSeconds) &&
        !isUnknown(inputs.timeoutSeconds) &&
        inputs.timeoutSeconds < inputs.pollIntervalSeconds &&
        !errors.failures.some((f) => f.property === "timeoutSeconds" || f.property === "pollIntervalSeconds")
    ) {
        errors.fail(
            "timeoutSeconds",
            `${inputs.timeoutSeconds} is shorter than pollIntervalSeconds (${inputs.pollIntervalSeconds}); the timeout must be at least one poll interval`,
        );
    }
    return { inputs, failures: errors.failures };
}

function normalizeImages(value: unknown, errors: Collector): string[] {
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

function normalizeSingleImage(value: unknown, property: string, fallback: string, errors: Collector): string {
    if (value === undefined || value === null) return fallback;
    if (isUnknown(value)) return value as string;
    try {
        return parseImageReference(value).normalized;
    } catch (e) {
        errors.fail(property, errorText(e));
        return fallback;
    }
}

function normalizeNamespace(value: unknown, errors: Collector): string {
    if (value === undefined || value === null) return DEFAULT_NAMESPACE;
    if (isUnknown(value)) return value as string;
    if (typeof value !== "string" || !isDns1123Label(value)) {
        errors.fail(
            "namespace",
            `${typeof value === "string" ? `"${value}"` : describeType(value)} is not a valid namespace name (a DNS-1123 label: at most 63 lowercase letters, digits and "-", starting and ending alphanumeric)`,
        );
        return DEFAULT_NAMESPACE;
    }
    return value;
}

function normalizeNodeSelector(value: unknown, errors: Collector): Record<string, string> {
    if (value === undefined || value === null) return {};
    if (isUnknown(value)) return value as unknown as Record<string, string>;
    if (!isPlainObject(value)) {
        errors.fail("nodeSelector", `must be a map of label keys to values, got ${describeType(value)}`);
        return {};
    }
    const result: Record<string, string> = {};
    for (const [key, labelValue] of Object.entries(value)) {
        const keyProblem = labelKeyProblem(key);
        if (keyProblem) errors.fail(`nodeSelector`, keyProblem);
        const valueProblem = isUnknown(labelValue) ? undefined : labelValueProblem(labelValue);
        if (valueProblem) errors.fail(`nodeSelector["${key}"]`, valueProblem);
        if (!keyProblem && !valueProblem) result[key] = labelValue as string;
    }
    return result;
}

function normalizeTolerations(value: unknown, errors: Collector): Toleration[] {
    if (value === undefined || value === null) return [];
    if (isUnknown(value)) return value as unknown as Toleration[];
    if (!Array.isArray(value)) {
        errors.fail("tolerations", `must be a list of tolerations, got ${describeType(value)}`);
        return [];
    }
    const result: Toleration[] = [];
    value.forEach((item, index) => {
        const property = `tolerations[${index}]`;
        if (!isPlainObject(item)) {
            errors.fail(property, `must be an object with key, operator, value, effect; got ${describeType(item)}`);
            return;
        }
        const before = errors.failures.length;
        for (const field of Object.keys(item)) {
            if (!["key", "operator", "value", "effect", "tolerationSeconds"].includes(field)) {
                errors.fail(
                    `${property}.${field}`,
                    `unknown field; allowed: key, operator, value, effect, tolerationSeconds`,
                );
            }
        }
        const { key, operator, value: tolerationValue, effect, tolerationSeconds } = item;
        const op = operator === undefined || operator === "" ? "Equal" : operator;
        if (typeof op !== "string" || !TOLERATION_OPERATORS.includes(op)) {
            errors.fail(
                `${property}.operator`,
                `${JSON.stringify(operator)} is not a toleration operator; allowed: Equal, Exists`,
            );
        }
        if (key !== undefined && key !== "") {
            const problem =
                typeof key === "string" ? labelKeyProblem(key) : `must be a string, got ${describeType(key)}`;
            if (problem) errors.fail(`${property}.key`, problem);
        } else if (op === "Equal") {
            errors.fail(`${property}.key`, `an empty key needs operator Exists (it then tolerates every taint)`);
        }
        if (op === "Exists" && tolerationValue !== undefined && tolerationValue !== "") {
            errors.fail(`${property}.value`, `must be empty when operator is Exists`);
        } else if (tolerationValue !== undefined) {
            const problem = labelValueProblem(tolerationValue);
            if (problem) errors.fail(`${property}.value`, problem);
        }
        if (effect !== undefined && effect !== "" && (typeof effect !== "string" || !TAINT_EFFECTS.includes(effect))) {
            errors.fail(
                `${property}.effect`,
                `${JSON.stringify(effect)} is not a taint effect; allowed: ${TAINT_EFFECTS.join(", ")} (or empty for all)`,
            );
        }
        if (tolerationSeconds !== undefined) {
            if (typeof tolerationSeconds !== "number" || !Number.isInteger(tolerationSeconds)) {
                errors.fail(
                    `${property}.tolerationSeconds`,
                    `must be a whole number of seconds, got ${describeType(tolerationSeconds)}`,
                );
            } else if (effect !== "NoExecute") {
                errors.fail(`${property}.tolerationSeconds`, `only applies to effect NoExecute`);
            }
        }
        if (errors.failures.length === before) {
            const toleration: Toleration = {};
            if (key) toleration.key = key as string;
            toleration.operator = op as string;
            if (tolerationValue) toleration.value = tolerationValue as string;
            if (effect) toleration.effect = effect as string;
            if (tolerationSeconds !== undefined) toleration.tolerationSeconds = tolerationSeconds as number;
            result.push(toleration);
        }
    });
    return result;
}

function normalizeAffinity(value: unknown, errors: Collector): Affinity | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as Affinity;
    if (!isPlainObject(value)) {
        errors.fail("affinity", `must be an object with nodeAffinity, got ${describeType(value)}`);
        return undefined;
    }
    const before = errors.failures.length;
    for (const field of Object.keys(value)) {
        if (field === "podAffinity" || field === "podAntiAffinity") {
            errors.fail(`affinity.${field}`, `is not supported: pre-pulling is per node, so only nodeAffinity applies`);
        } else if (field !== "nodeAffinity") {
            errors.fail(`affinity.${field}`, `unknown field; allowed: nodeAffinity`);
        }
    }
    const nodeAffinity = value.nodeAffinity;
    if (nodeAffinity === undefined) return errors.failures.length === before ? {} : undefined;
    if (!isPlainObject(nodeAffinity)) {
        errors.fail("affinity.nodeAffinity", `must be an object, got ${describeType(nodeAffinity)}`);
        return undefined;
    }
    for (const field of Object.keys(nodeAffinity)) {
        if (
            field !== "requiredDuringSchedulingIgnoredDuringExecution" &&
            field !== "preferredDuringSchedulingIgnoredDuringExecution"
        ) {
            errors.fail(
                `affinity.nodeAffinity.${field}`,
                `unknown field; allowed: requiredDuringSchedulingIgnoredDuringExecution, preferredDuringSchedulingIgnoredDuringExecution`,
            );
        }
    }
    const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    const requiredPath = "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    if (required !== undefined) {
        if (
            !isPlainObject(required) ||
            !Array.isArray(required.nodeSelectorTerms) ||
            required.nodeSelectorTerms.length === 0
        ) {
            errors.fail(requiredPath, `must be an object with a non-empty nodeSelectorTerms list`);
        } else {
            required.nodeSelectorTerms.forEach((term, i) =>
                validateTerm(term, `${requiredPath}.nodeSelectorTerms[${i}]`, true, errors),
            );
        }
    }
    const preferred = nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    const preferredPath = "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution";
    if (preferred !== undefined) {
        if (!Array.isArray(preferred)) {
            errors.fail(preferredPath, `must be a list of {weight, preference}, got ${describeType(preferred)}`);
        } else {
            preferred.forEach((item, i) => {
                const path = `${preferredPath}[${i}]`;
                if (!isPlainObject(item)) {
                    errors.fail(path, `must be an object with weight and preference`);
                    return;
                }
                if (
                    typeof item.weight !== "number" ||
                    !Number.isInteger(item.weight) ||
                    item.weight < 1 ||
                    item.weight > 100
                ) {
                    errors.fail(`${path}.weight`, `must be a whole number from 1 to 100`);
                }
                // As the API does: a preference may name label values no node can carry.
                validateTerm(item.preference, `${path}.preference`, false, errors);
            });
        }
    }
    return errors.failures.length === before ? (value as Affinity) : undefined;
}

function validateTerm(term: unknown, path: string, requireLabelValues: boolean, errors: Collector): void {
    if (!isPlainObject(term)) {
        errors.fail(path, `must be an object with matchExpressions and/or matchFields`);
        return;
    }
    const t = term as NodeSelectorTerm & Record<string, unknown>;
    for (const field of Object.keys(t)) {
        if (field !== "matchExpressions" && field !== "matchFields") {
            errors.fail(`${path}.${field}`, `unknown field; allowed: matchExpressions, matchFields`);
        }
    }
    for (const [listName, isField] of [
        ["matchExpressions", false],
        ["matchFields", true],
    ] as const) {
        const list = t[listName];
        if (list === undefined) continue;
        if (!Array.isArray(list)) {
            errors.fail(`${path}.${listName}`, `must be a list of requirements`);
            continue;
        }
        list.forEach((r, i) =>
            isField
                ? validateFieldRequirement(r, `${path}.${listName}[${i}]`, errors)
                : validateRequirement(r, `${path}.${listName}[${i}]`, requireLabelValues, errors),
        );
    }
}

function validateRequirement(value: unknown, path: string, requireLabelValues: boolean, errors: Collector): void {
    if (!isPlainObject(value)) {
        errors.fail(path, `must be an object with key, operator and values`);
        return;
    }
    const r = value as unknown as NodeSelectorRequirement;
    if (typeof r.key !== "string") {
        errors.fail(`${path}.key`, `is required`);
    } else {
        const problem = labelKeyProblem(r.key);
        if (problem) errors.fail(`${path}.key`, problem);
    }
    if (typeof r.operator !== "string" || !NODE_SELECTOR_OPERATORS.includes(r.operator)) {
        errors.fail(
            `${path}.operator`,
            `${JSON.stringify(r.operator)} is not allowed; allowed: ${NODE_SELECTOR_OPERATORS.join(", ")}`,
        );
        return;
    }
    const values = requirementValues(r, path, errors);
    if (values === undefined) return;
    const count = values.length;
    if ((r.operator === "In" || r.operator === "NotIn") && count === 0) {
        errors.fail(`${path}.values`, `must be non-empty for operator ${r.operator}`);
    } else if ((r.operator === "Exists" || r.operator === "DoesNotExist") && count > 0) {
        errors.fail(`${path}.values`, `must be empty for operator ${r.operator}`);
    } else if ((r.operator === "Gt" || r.operator === "Lt") && (count !== 1 || parseInt64(values[0]!) === undefined)) {
        errors.fail(`${path}.values`, `must be exactly one integer for operator ${r.operator}`);
    }
    if (requireLabelValues) {
        values.forEach((v, i) => {
            const problem = labelValueProblem(v);
            if (problem) errors.fail(`${path}.values[${i}]`, problem);
        });
    }
}

/** matchFields: the API knows one node field, metadata.name, compared with one value. */
function validateFieldRequirement(value: unknown, path: string, errors: Collector): void {
    if (!isPlainObject(value)) {
        errors.fail(path, `must be an object with key, operator and values`);
        return;
    }
    const r = value as unknown as NodeSelectorRequirement;
    if (typeof r.key !== "string") {
        errors.fail(`${path}.key`, `is required`);
    } else if (r.key !== "metadata.name") {
        errors.fail(`${path}.key`, `"${r.key}" is not a node field selector; allowed: metadata.name`);
    }
    if (r.operator !== "In" && r.operator !== "NotIn") {
        errors.fail(`${path}.operator`, `${JSON.stringify(r.operator)} is not allowed; allowed: In, NotIn`);
        return;
    }
    const values = requirementValues(r, path, errors);
    if (values === undefined) return;
    if (values.length !== 1) {
        errors.fail(
            `${path}.values`,
            `must be exactly one node name for operator ${r.operator} (got ${values.length}); for several nodes, use one term per node`,
        );
    }
    values.forEach((v, i) => {
        if (!isDns1123Subdomain(v)) {
            errors.fail(`${path}.values[${i}]`, `"${v}" is not a valid node name (a DNS-1123 subdomain)`);
        }
    });
}

function requirementValues(r: NodeSelectorRequirement, path: string, errors: Collector): string[] | undefined {
    const values: unknown = r.values;
    if (values === undefined) return [];
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
        errors.fail(`${path}.values`, `must be a list of strings`);
        return undefined;
    }
    return values as string[];
}

function normalizePullSecrets(value: unknown, errors: Collector): string[] {
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

function normalizeSeconds(value: unknown, property: string, fallback: number, errors: Collector): number {
    if (value === undefined || value === null) return fallback;
    if (isUnknown(value)) return value as unknown as number;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
        errors.fail(property, `must be a positive number of seconds, got ${describeType(value)}`);
        return fallback;
    }
    return value;
}

function optionalName(value: unknown, property: string, errors: Collector): string | undefined {
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

function optionalString(value: unknown, property: string, errors: Collector): string | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") {
        // Never echo the value: this may be a credential.
        errors.fail(property, `must be a string, got ${Array.isArray(value) ? "an array" : typeof value}`);
        return undefined;
    }
    return value;
}

function normalizePatch(value: unknown, errors: Collector): Record<string, unknown> | undefined {
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

function normalizeContinuous(value: unknown, errors: Collector): boolean {
    if (value === undefined || value === null) return false;
    if (isUnknown(value)) return value as unknown as boolean;
    if (typeof value !== "boolean") {
        errors.fail("continuous", `must be true or false, got ${describeType(value)}`);
        return false;
    }
    return value;
}

function normalizeMaxParallelNodes(value: unknown, errors: Collector): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (isUnknown(value)) return value as unknown as number;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
        errors.fail("maxParallelNodes", `must be a whole number of nodes, at least 1, got ${describeType(value)}`);
        return undefined;
    }
    return value;
}

function normalizeOwnerId(value: unknown, old: unknown, makeOwnerId: () => string, errors: Collector): string {
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
