/**
 * Chart values read the way Helm reads them: a key set to null deletes the chart's default, a
 * silent one leaves it; each value is read with the type the chart expects, and a wrong one is an
 * error naming its values path.
 */
import { isPlainObject } from "../rules/input-fields";
import { describeType } from "../rules/references";

export type Values = Readonly<Record<string, unknown>>;

/**
 * What the chart sees at a dotted path: `undefined` where the values are silent (the chart's
 * default applies), `null` where a key on the way is null (Helm deletes the default), else the value.
 */
export function read(values: Values, path: string): unknown {
    let current: unknown = values;
    const keys = path.split(".");
    for (const [index, key] of keys.entries()) {
        if (current === undefined || current === null) return current;
        if (!isPlainObject(current)) {
            throw valuesError(keys.slice(0, index).join("."), `must be a map, got ${describeType(current)}`);
        }
        current = Object.prototype.hasOwnProperty.call(current, key) ? current[key] : undefined;
    }
    return current;
}

export function stringAt(values: Values, path: string, fallback?: () => string): string {
    const value = read(values, path);
    return requiredString(value === undefined && fallback ? fallback() : value, path);
}

export function requiredString(value: unknown, path: string): string {
    if (typeof value !== "string" || value === "") {
        throw valuesError(
            path,
            `must be a non-empty string, got ${value === undefined ? "nothing" : describeType(value)}`,
        );
    }
    return value;
}

export function booleanAt(values: Values, path: string, fallback: boolean): boolean {
    const value = read(values, path);
    if (value === undefined) return fallback;
    if (value === null) return false;
    if (typeof value !== "boolean") throw valuesError(path, `must be true or false, got ${describeType(value)}`);
    return value;
}

export function listAt(
    values: Values,
    path: string,
    fallback: () => readonly unknown[] = () => [],
): readonly unknown[] {
    const value = read(values, path);
    if (value === undefined) return fallback();
    if (value === null) return [];
    if (!Array.isArray(value)) throw valuesError(path, `must be a list, got ${describeType(value)}`);
    return value;
}

export function mapAt(values: Values, path: string): Readonly<Record<string, unknown>> {
    return optionalMap(read(values, path), path);
}

/** A map the chart reads as a whole; an entry set to null is absent, as Helm deletes it. */
export function optionalMap(value: unknown, path: string): Readonly<Record<string, unknown>> {
    if (value === undefined || value === null) return {};
    if (!isPlainObject(value)) throw valuesError(path, `must be a map, got ${describeType(value)}`);
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
}

/**
 * Several values files as `helm -f common.yaml -f hub.yaml` layers them: a later file wins, maps
 * merge key by key, lists are replaced whole, and a later `null` deletes what earlier files (and
 * the chart's defaults) set for that key.
 */
export function layerValues(layers: readonly Values[]): Values {
    const merge = (base: unknown, over: unknown): unknown => {
        if (over === undefined) return base;
        if (isPlainObject(base) && isPlainObject(over)) {
            const result: Record<string, unknown> = { ...base };
            for (const [key, value] of Object.entries(over)) result[key] = merge(base[key], value);
            return result;
        }
        return over;
    };
    return layers.reduce<Values>((merged, layer, index) => {
        if (!isPlainObject(layer)) {
            throw new Error(
                `JupyterHub chart values: file ${index + 1} of ${layers.length} must be an object, got ${describeType(layer)}`,
            );
        }
        return merge(merged, layer) as Values;
    }, {});
}

/** A field of a list item or map entry, which must itself be a map. */
export function fieldOf(container: unknown, field: string, path: string): unknown {
    if (!isPlainObject(container)) throw valuesError(path, `must be a map, got ${describeType(container)}`);
    return Object.prototype.hasOwnProperty.call(container, field) ? container[field] : undefined;
}

export function valuesError(path: string, reason: string): Error {
    return new Error(`JupyterHub chart values: ${path}: ${reason}`);
}
