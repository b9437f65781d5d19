/**
 * The component's children as custom resources of this package, served by this plugin's CRUD
 * (./provider.ts). The engine gives them this package's default provider at `version`: the same
 * plugin process that runs `construct`.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    PRE_PULL_OUTPUTS,
    type ChildResources,
    type CleanupProps,
    type PrePullProps,
    type PrePullResource,
} from "../pulumi/component";

export const PRE_PULL_TYPE = "image-prepuller:index:PrePull";
export const CLEANUP_TYPE = "image-prepuller:index:PrePullCleanup";

class PrePull extends pulumi.CustomResource implements Omit<PrePullResource, keyof pulumi.CustomResource> {
    declare public readonly images: PrePullResource["images"];
    declare public readonly nodes: PrePullResource["nodes"];
    declare public readonly skipped: PrePullResource["skipped"];
    declare public readonly durationSeconds: PrePullResource["durationSeconds"];
    declare public readonly missingNodes: PrePullResource["missingNodes"];
    declare public readonly droppedNodes: PrePullResource["droppedNodes"];
    declare public readonly skippedNodes: PrePullResource["skippedNodes"];
    declare public readonly pullReport: PrePullResource["pullReport"];

    constructor(name: string, props: PrePullProps, opts: pulumi.CustomResourceOptions) {
        super(PRE_PULL_TYPE, name, { ...props, ...PRE_PULL_OUTPUTS }, opts);
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
