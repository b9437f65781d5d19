/**
 * Reading the fields that say where the pre-pull pods may run: nodeSelector, tolerations and
 * node affinity, checked field by field as the API server would check them in a pod spec.
 */
import { type Collector, isPlainObject, isUnknown } from "./input-fields";
import type { Affinity, NodeSelectorRequirement, NodeSelectorTerm, Toleration } from "./public-types";
import {
    isDns1123Subdomain,
    labelKeyProblem,
    labelValueProblem,
    NODE_SELECTOR_OPERATORS,
    parseInt64,
    TAINT_EFFECTS,
    TOLERATION_OPERATORS,
} from "./kubernetes-validation";
import { describeType } from "./references";

export function normalizeNodeSelector(value: unknown, errors: Collector): Record<string, string> {
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

export function normalizeTolerations(value: unknown, errors: Collector): Toleration[] {
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

export function normalizeAffinity(value: unknown, errors: Collector): Affinity | undefined {
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
