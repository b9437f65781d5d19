/**
 * What the Kubernetes API accepts as names, label keys and values, toleration and node-selector
 * operators, written as the API server's validation does. Shared by input checking and by node
 * eligibility, which must refuse what the scheduler cannot parse.
 */
import { describeType } from "./references";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const TOLERATION_OPERATORS: readonly string[] = ["Equal", "Exists"];
export const TAINT_EFFECTS: readonly string[] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
export const NODE_SELECTOR_OPERATORS: readonly string[] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

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
