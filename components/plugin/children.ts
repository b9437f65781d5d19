/**
 * The component's children as custom resources of this package, served by this plugin's CRUD
 * (./provider.ts). The engine gives them this package's default provider at `version`: the same
 * plugin process that runs `construct`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ChildResources, CleanupProps, PrePullProps } from "../pulumi/component";

export const PRE_PULL_TYPE = "image-prepuller:index:PrePull";
export const CLEANUP_TYPE = "image-prepuller:index:PrePullCleanup";

class PrePull extends pulumi.CustomResource {
    declare public readonly images: pulumi.Output<string[]>;
    declare public readonly nodes: pulumi.Output<string[]>;
    declare public readonly skipped: pulumi.Output<boolean>;
    declare public readonly durationSeconds: pulumi.Output<number>;
    declare public readonly missingNodes: pulumi.Output<Record<string, string[]>>;

    constructor(name: string, props: PrePullProps, opts: pulumi.CustomResourceOptions) {
        const outputs = { nodes: undefined, skipped: undefined, durationSeconds: undefined, missingNodes: undefined };
        super(PRE_PULL_TYPE, name, { ...props, ...outputs }, opts);
    }
}

class PrePullCleanup extends pulumi.CustomResource {
    constructor(name: string, props: CleanupProps, opts: pulumi.CustomResourceOptions) {
        super(CLEANUP_TYPE, name, { ...props }, opts);
    }
}

/** Children that this plugin, at `version`, serves. */
export function pluginChildren(version: string): ChildResources {
    return {
        prePull: (name, props, opts) => new PrePull(name, props, { ...opts, version }),
        cleanup: (name, props, opts) => new PrePullCleanup(name, props, { ...opts, version }),
    };
}
