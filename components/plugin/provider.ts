/**
 * The `image-prepuller` provider plugin: serves the ImagePrePuller component to programs in any
 * language. `construct` builds the ordinary TypeScript class; the CRUD of its children (see
 * ./children.ts) delegates to the same provider objects that serve them as dynamic resources in
 * Node.js programs.
 */
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE, ImagePrePuller, type ImagePrePullerArgs } from "../pulumi/component";
import { cleanupProvider, prePullProvider } from "../pulumi/provider";
import { CLEANUP_TYPE, PRE_PULL_TYPE } from "./children";
import { isPlainObject } from "../rules/input-fields";
import type { Logger } from "../run/shared";
import { withProgressTo } from "./progress";

/** The component's public outputs, returned as its state by `construct`. */
export const COMPONENT_OUTPUTS = [
    "images",
    "nodes",
    "skipped",
    "durationSeconds",
    "missingNodes",
    "continuousDaemonSet",
    "droppedNodes",
    "skippedNodes",
    "pullReport",
] as const satisfies readonly (keyof ImagePrePuller)[];

const served: Record<string, pulumi.dynamic.ResourceProvider> = {
    [PRE_PULL_TYPE]: prePullProvider,
    [CLEANUP_TYPE]: cleanupProvider,
};

/** Where progress lines of a resource's CRUD go. */
export interface ProgressSink {
    forResource(urn: string): Logger;
    /** Resolves once every line sent so far is delivered. */
    flush(): Promise<void>;
}

/** The type token in a URN (`urn:pulumi:stack::project::parent$type::name`). */
function typeOf(urn: string): string {
    return (urn.split("::")[2] ?? "").split("$").pop()!;
}

function unknownType(type: string): Error {
    return new Error(`unknown resource type ${type}`);
}

export class ImagePrePullerProvider implements pulumi.provider.Provider {
    constructor(
        readonly version: string,
        readonly schema: string,
        private readonly progress?: ProgressSink,
    ) {}

    async construct(
        name: string,
        type: string,
        inputs: pulumi.Inputs,
        options: pulumi.ComponentResourceOptions,
    ): Promise<pulumi.provider.ConstructResult> {
        if (type !== COMPONENT_TYPE) throw unknownType(type);
        const component = new ImagePrePuller(name, inputs as unknown as ImagePrePullerArgs, options);
        return {
            urn: component.urn,
            state: Object.fromEntries(COMPONENT_OUTPUTS.map((key) => [key, component[key]])),
        };
    }

    async check(urn: string, olds: unknown, news: Record<string, unknown>): Promise<pulumi.provider.CheckResult> {
        const provider = servedBy(urn);
        if (!provider.check) return { inputs: news };
        const result = await provider.check(reveal(olds), reveal(news));
        return { inputs: keepSecrets(result.inputs, news), failures: result.failures };
    }

    async diff(id: string, urn: string, olds: unknown, news: unknown): Promise<pulumi.provider.DiffResult> {
        const provider = servedBy(urn);
        return provider.diff ? provider.diff(id, reveal(olds), reveal(news)) : {};
    }

    async create(urn: string, inputs: Record<string, unknown>): Promise<pulumi.provider.CreateResult> {
        const provider = servedBy(urn);
        const result = await this.reporting(urn, () => provider.create(reveal(inputs)));
        return { id: result.id, outs: keepSecrets(result.outs, inputs) };
    }

    async read(id: string, urn: string, props?: Record<string, unknown>): Promise<pulumi.provider.ReadResult> {
        const provider = servedBy(urn);
        if (!provider.read) return { id, props };
        const result = await provider.read(id, reveal(props));
        return { id: result.id, props: keepSecrets(result.props, props) };
    }

    async update(
        id: string,
        urn: string,
        olds: unknown,
        news: Record<string, unknown>,
    ): Promise<pulumi.provider.UpdateResult> {
        const provider = servedBy(urn);
        if (!provider.update) return { outs: news };
        const result = await this.reporting(urn, () => provider.update!(id, reveal(olds), reveal(news)));
        return { outs: keepSecrets(result.outs, news) };
    }

    async delete(id: string, urn: string, props: unknown): Promise<void> {
        const provider = servedBy(urn);
        if (provider.delete) await this.reporting(urn, () => provider.delete!(id, reveal(props)));
    }

    /** Runs a CRUD step with its progress lines shown on the resource `urn`. */
    private async reporting<T>(urn: string, step: () => Promise<T>): Promise<T> {
        if (!this.progress) return step();
        try {
            return await withProgressTo(this.progress.forResource(urn), step);
        } finally {
            await this.progress.flush();
        }
    }
}

function servedBy(urn: string): pulumi.dynamic.ResourceProvider {
    const type = typeOf(urn);
    const provider = served[type];
    if (!provider) throw unknownType(type);
    return provider;
}

function isSecret(value: unknown): boolean {
    return pulumi.runtime.isRpcSecret(value);
}

/** The value with every secret marker of the wire format removed (the shared providers take plain values). */
export function reveal(value: unknown): unknown {
    if (isSecret(value)) return reveal(pulumi.runtime.unwrapRpcSecret(value));
    if (Array.isArray(value)) return value.map(reveal);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}

function containsSecret(value: unknown): boolean {
    if (isSecret(value)) return true;
    if (Array.isArray(value)) return value.some(containsSecret);
    if (value !== null && typeof value === "object") return Object.values(value).some(containsSecret);
    return false;
}

/**
 * `outs` with every property that holds a secret in `ins` (same key) marked secret again, going
 * into objects present on both sides; the engine leaves this to providers that accept secrets.
 */
export function keepSecrets<T>(outs: T, ins: unknown): T {
    if (outs === null || typeof outs !== "object" || Array.isArray(outs)) return outs;
    if (ins === null || typeof ins !== "object" || Array.isArray(ins) || isSecret(ins)) return outs;
    const result: Record<string, unknown> = { ...(outs as Record<string, unknown>) };
    for (const [key, inValue] of Object.entries(ins)) {
        if (!(key in result) || result[key] === undefined) continue;
        const outValue = result[key];
        if (isPlainMap(outValue) && isPlainMap(inValue)) {
            result[key] = keepSecrets(outValue, inValue);
        } else if (!isSecret(outValue) && containsSecret(inValue)) {
            result[key] = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: outValue };
        }
    }
    return result as T;
}

/** A map of the wire format that is not itself a secret marker. */
function isPlainMap(value: unknown): value is Record<string, unknown> {
    return isPlainObject(value) && !isSecret(value);
}
