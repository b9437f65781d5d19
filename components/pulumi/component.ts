import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { createHash } from "crypto";
import { renderContinuousPuller } from "../rules/continuous";
import { INPUT_PROPERTIES, normalizeInputs } from "../rules/inputs";
import type { PullReport } from "../rules/public-types";
import { cleanupProvider, prePullProvider } from "./provider";

export const COMPONENT_TYPE = "image-prepuller:index:ImagePrePuller";

export interface ImagePrePullerArgs {
    /** Images to pre-pull. Duplicates after normalization (`python` = `docker.io/library/python:latest`) are merged. */
    images: pulumi.Input<pulumi.Input<string>[]>;
    /** Namespace of the short-lived DaemonSet. Default: `default`. */
    namespace?: pulumi.Input<string>;
    /** Only nodes with these labels are pre-pulled (as the user pods' nodeSelector). */
    nodeSelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Tolerations of the user pods: tainted nodes whose NoSchedule/NoExecute taints these tolerate are covered. */
    tolerations?: pulumi.Input<pulumi.Input<k8s.types.input.core.v1.Toleration>[]>;
    /** Node affinity of the user pods; the required terms restrict the nodes covered. */
    affinity?: pulumi.Input<k8s.types.input.core.v1.Affinity>;
    /** Names of image pull secrets in `namespace` (or `{ name }` objects). */
    imagePullSecrets?: pulumi.Input<pulumi.Input<string | { name: pulumi.Input<string> }>[]>;
    /** Priority class of the pre-pull pods. */
    priorityClassName?: pulumi.Input<string>;
    /** How often presence is re-checked, in seconds (it is also re-checked on every watched change). Default 2. */
    pollIntervalSeconds?: pulumi.Input<number>;
    /** Fail if not every eligible node holds every image after this many seconds. Default 600. */
    timeoutSeconds?: pulumi.Input<number>;
    /** Kubeconfig contents (or a path to one). Stored as a secret. Default: the ambient kubeconfig or in-cluster config. */
    kubeconfig?: pulumi.Input<string>;
    /** Kubeconfig context to use. */
    context?: pulumi.Input<string>;
    /** Image whose statically linked `/bin/true` (and `cp`) provides the no-op the pull containers run. Default busybox. */
    helperImage?: pulumi.Input<string>;
    /** Image of the DaemonSet's main container. Default `registry.k8s.io/pause:3.10`. */
    pauseImage?: pulumi.Input<string>;
    /** A JSON merge patch (RFC 7386) applied to the generated DaemonSet manifest. */
    daemonSetPatch?: pulumi.Input<Record<string, unknown>>;
    /**
     * Also keep a long-lived DaemonSet (same pods and scheduling) so that nodes joining later
     * pull the images on arrival. The blocking pre-pull still gates dependents; destroy removes
     * it. A plain boolean: it decides whether that child resource exists. Default false.
     */
    continuous?: boolean;
    /** At most this many nodes pull at once during the blocking pre-pull. Default: all at once. */
    maxParallelNodes?: pulumi.Input<number>;
    /**
     * Spread each node's images over this many pre-pull pods (one DaemonSet each, the images dealt
     * in order), so that a kubelet with `serializeImagePulls: false` pulls up to this many at once
     * and a node warms in about its largest pull instead of the sum. Each is one more pod per node
     * against its pod limit (a node that cannot take them all is handled by `unschedulableNodes`).
     * On a kubelet that serializes pulls (the default) the pods pull one after another: nothing is
     * gained, and nothing lost but the extra pods. The blocking pre-pull only (the continuous
     * puller keeps one pod per node). From 1 to 8. Default 1.
     */
    parallelPulls?: pulumi.Input<number>;
    /**
     * A node whose pre-pull pod the scheduler cannot place for 30 s (full: "Too many pods", no
     * room for the requests, an untolerated taint): "skip" leaves it out, named in a progress line
     * and in `skippedNodes`, and goes on; "fail" fails the pre-pull naming it. A run in which no
     * node could take the pods fails either way. Default "skip": such a node cannot take a user's
     * pod either, and the JupyterHub chart's pre-puller stops waiting for it, too.
     */
    unschedulableNodes?: pulumi.Input<"skip" | "fail">;
    /**
     * On destroy (or a replace), a cluster that cannot be reached any more (deleted, or its
     * stored credentials no longer accepted) removes the pre-pull's resources from the state
     * with a warning instead of failing, as @pulumi/kubernetes' `deleteUnreachable` does; also
     * passed to the kubernetes provider this component makes from `kubeconfig`. Takes effect once
     * an `up` has recorded it (or with PULUMI_K8S_DELETE_UNREACHABLE=true). Default false.
     */
    deleteUnreachable?: pulumi.Input<boolean>;
    /**
     * The kubelets' `--node-status-max-images` (-1: no cap), for `pulumi refresh`: a node that
     * lists this many images may hold more than it shows, so its list proves an image absent only
     * when the image is larger than the smallest one listed. Default 50, the kubelet's default.
     */
    nodeStatusMaxImages?: pulumi.Input<number>;
}

/**
 * Pre-pulls container images onto every eligible node. Its create (and update) step blocks until
 * every eligible node holds every image, so resources that `dependsOn` it start on warm nodes.
 */
export class ImagePrePuller extends pulumi.ComponentResource {
    /** The images, normalized (`docker.io/library/python:latest`). */
    public readonly images: pulumi.Output<string[]>;
    /** The eligible nodes covered. */
    public readonly nodes: pulumi.Output<string[]>;
    /** True when every eligible node already held every image, so no DaemonSet was created. */
    public readonly skipped: pulumi.Output<boolean>;
    public readonly durationSeconds: pulumi.Output<number>;
    /** Eligible nodes missing images, as last seen by `pulumi refresh` (empty after a pre-pull). */
    public readonly missingNodes: pulumi.Output<Record<string, string[]>>;
    /** `namespace/name` of the continuous puller's DaemonSet; undefined unless `continuous` is true. */
    public readonly continuousDaemonSet: pulumi.Output<string | undefined>;
    /** Nodes that were eligible and left before they held the images, with the cause; not in `nodes`. */
    public readonly droppedNodes: pulumi.Output<Record<string, string>>;
    /** Nodes skipped because their pre-pull pod could not be scheduled, with the scheduler's reason; not in `nodes`. */
    public readonly skippedNodes: pulumi.Output<Record<string, string>>;
    /**
     * What the last pre-pull's pulls cost, from the pods' own timestamps: per image pulled, on how
     * many nodes, the median and longest pull in seconds (with any wait for the node's puller),
     * the slowest node and the size a node listed; and the slowest nodes. For sizing
     * `timeoutSeconds` and `maxParallelNodes`. Empty when nothing was pulled.
     */
    public readonly pullReport: pulumi.Output<PullReport>;

    constructor(name: string, args: ImagePrePullerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPE, name, {}, opts);
        // Given (or inheriting) a kubernetes provider, the pre-pull must run on that provider's
        // cluster; its kubeconfig cannot be read back from the provider, so the user passes it.
        const kubernetesProvider = this.getProvider("kubernetes::Provider");
        if (kubernetesProvider !== undefined && args.kubeconfig === undefined) {
            throw new Error(
                `ImagePrePuller "${name}": a kubernetes provider is set (provider/providers option, or inherited from a parent), but kubeconfig is not: ` +
                    "the pre-pull cannot read a provider's kubeconfig, and would otherwise use the ambient one (maybe another cluster). " +
                    "Pass the kubeconfig (and context) the provider was made from as the `kubeconfig` (and `context`) arguments.",
            );
        }
        const props = prePullProps(name, args, this);
        const cleanup = childResources.cleanup(
            `${name}-cleanup`,
            {
                namespace: args.namespace,
                ownerId: props.ownerId,
                kubeconfig: props.kubeconfig,
                context: args.context,
                deleteUnreachable: args.deleteUnreachable,
            },
            { parent: this, additionalSecretOutputs: ["kubeconfig"] },
        );
        const prePull = childResources.prePull(name, props, {
            parent: this,
            dependsOn: [cleanup],
            additionalSecretOutputs: ["kubeconfig"],
        });
        this.images = prePull.images;
        this.nodes = prePull.nodes;
        this.skipped = prePull.skipped;
        this.durationSeconds = prePull.durationSeconds;
        this.missingNodes = prePull.missingNodes;
        // State written before 0.2 has neither.
        this.droppedNodes = prePull.droppedNodes.apply((d) => d ?? {});
        this.skippedNodes = prePull.skippedNodes.apply((d) => d ?? {});
        this.pullReport = prePull.pullReport.apply((r) => r ?? { images: {}, slowestNodes: [] });
        // Created only after the pre-pull, so it starts on nodes that already hold the images.
        this.continuousDaemonSet =
            args.continuous === true
                ? this.continuousPuller(name, props, args, kubernetesProvider, prePull)
                : pulumi.output(undefined);
        this.registerOutputs({
            images: this.images,
            nodes: this.nodes,
            skipped: this.skipped,
            durationSeconds: this.durationSeconds,
            missingNodes: this.missingNodes,
            continuousDaemonSet: this.continuousDaemonSet,
            droppedNodes: this.droppedNodes,
            skippedNodes: this.skippedNodes,
            pullReport: this.pullReport,
        });
    }

    /**
     * The continuous puller: a `k8s.apps.v1.DaemonSet` child, through the kubernetes provider given
     * to the component, or one made from `kubeconfig`, or the default provider.
     */
    private continuousPuller(
        name: string,
        props: PrePullProps,
        args: ImagePrePullerArgs,
        given: pulumi.ProviderResource | undefined,
        prePull: pulumi.Resource,
    ): pulumi.Output<string> {
        const kubernetes = require("@pulumi/kubernetes") as typeof k8s;
        const provider =
            given ??
            (args.kubeconfig !== undefined
                ? new kubernetes.Provider(
                      `${name}-kubernetes`,
                      {
                          kubeconfig: pulumi.secret(args.kubeconfig),
                          context: args.context,
                          deleteUnreachable: args.deleteUnreachable,
                      },
                      { parent: this },
                  )
                : undefined);
        // Normalized as `check` does it; without the credentials, which would make the manifest secret.
        const shape = Object.fromEntries(
            INPUT_PROPERTIES.filter((k) => k !== "kubeconfig" && k !== "context").map((k) => [
                k,
                (props as unknown as Record<string, unknown>)[k],
            ]),
        );
        const manifest = pulumi.output(shape).apply((raw) => {
            const { inputs, failures } = normalizeInputs(raw as Record<string, unknown>, undefined, () => {
                throw new Error("the continuous puller's inputs always carry the owner id");
            });
            if (failures.length > 0) {
                throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
            }
            return renderContinuousPuller(inputs) as {
                metadata: k8s.types.input.meta.v1.ObjectMeta;
                spec: k8s.types.input.apps.v1.DaemonSetSpec;
            };
        });
        const daemonSet = new kubernetes.apps.v1.DaemonSet(
            `${name}-continuous`,
            { metadata: manifest.metadata, spec: manifest.spec },
            { parent: this, dependsOn: [prePull], provider },
        );
        return pulumi.interpolate`${daemonSet.metadata.namespace}/${daemonSet.metadata.name}`;
    }
}

/** The stack's organization; engines and test mocks that do not tell it share one empty name. */
function organization(): string {
    try {
        return pulumi.getOrganization();
    } catch {
        return "";
    }
}

/** What makes a pre-puller unique among all the stacks that may share a cluster. */
export interface OwnerScope {
    organization: string;
    project: string;
    stack: string;
    /** The component's URN: its type, the types of its parents and its name. */
    urn?: string;
}

/**
 * The owner id names the DaemonSet and labels its pods. It is derived from the organization,
 * project, stack and the component's URN (its parents' types and its name), so two pre-pullers
 * sharing a namespace never touch each other's objects: not two stacks, not two organizations
 * with the same project and stack names, not same-named pre-pullers under different parents.
 */
export function ownerIdFor(name: string, scope: OwnerScope): string {
    const key = [scope.organization, scope.project, scope.stack, scope.urn ?? "", name].join("\u0000");
    const hash = createHash("sha256").update(key).digest("hex").slice(0, 10);
    const readable = name
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "")
        .slice(0, 28)
        .replace(/-+$/, "");
    return readable ? `prepull-${readable}-${hash}` : `prepull-${hash}`;
}

export type PrePullProps = ImagePrePullerArgs & { ownerId: pulumi.Input<string> };

/** The dynamic resource's inputs: the args, with the kubeconfig made secret and the owner id added. */
export function prePullProps(name: string, args: ImagePrePullerArgs, component?: pulumi.Resource): PrePullProps {
    const scope = { organization: organization(), project: pulumi.getProject(), stack: pulumi.getStack() };
    // The component's URN as a plain promise: an Output of it would make the children depend on
    // their own parent, which waits for its children.
    const urn =
        component === undefined
            ? Promise.resolve(undefined)
            : new Promise<string | undefined>((resolve) => component.urn.apply(resolve));
    return {
        ...args,
        kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
        ownerId: pulumi.output(urn.then((u) => ownerIdFor(name, { ...scope, urn: u }))),
    };
}

/** The pre-pull resource's outputs that are not inputs: declared, so that the resource has them. */
export const PRE_PULL_OUTPUTS = {
    nodes: undefined,
    skipped: undefined,
    durationSeconds: undefined,
    missingNodes: undefined,
    droppedNodes: undefined,
    skippedNodes: undefined,
    pullReport: undefined,
};

/** Where an installed copy of this package has its providers, as the program resolves it. */
const INSTALLED_PROVIDER_MODULE = "pulumi-image-prepuller/dist/components/pulumi/provider.js";

type ProviderExport = "prePullProvider" | "cleanupProvider";

/**
 * The `__provider` text that refers to an installed copy's provider: a require of its provider
 * module, which the dynamic-provider host resolves from the program's directory, as it does the
 * requires Pulumi's closure serializer writes.
 */
export function providerReferenceText(exportName: ProviderExport): string {
    return `exports.handler = () => require(${JSON.stringify(INSTALLED_PROVIDER_MODULE)}).${exportName};\n`;
}

/**
 * providerReferenceText where this module is an installed copy that the program's directory
 * resolves by the package name; undefined from a source checkout, or where the name would
 * resolve to another copy than this one.
 */
function installedProviderReference(exportName: ProviderExport): string | undefined {
    try {
        const own = require.resolve("./provider");
        if (!/[\\/]node_modules[\\/]/.test(own)) return undefined;
        if (require.resolve(INSTALLED_PROVIDER_MODULE, { paths: [process.cwd()] }) !== own) return undefined;
    } catch {
        return undefined;
    }
    return providerReferenceText(exportName);
}

const serializedProviders = new Map<pulumi.dynamic.ResourceProvider, pulumi.Output<string>>();

/**
 * The provider as a dynamic resource's `__provider` input. Installed, a reference: Pulumi's closure
 * serializer walks every function of a provider on every `up` (about 0.2 s for the two here) and
 * stores their code in state, while the reference loads the installed package's own code. From a
 * source checkout (this repository's example stack) the serializer inlines the code, as
 * `pulumi.dynamic.Resource` does, secret if the closure captured a secret.
 */
function providerInput(provider: pulumi.dynamic.ResourceProvider, exportName: ProviderExport): pulumi.Input<string> {
    const reference = installedProviderReference(exportName);
    if (reference !== undefined) return reference;
    let text = serializedProviders.get(provider);
    if (text === undefined) {
        text = pulumi
            .output(pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true }))
            .apply((f) => (f.containsSecrets ? pulumi.secret(f.text) : pulumi.output(f.text)));
        serializedProviders.set(provider, text);
    }
    return text;
}

/**
 * A child served by Pulumi's dynamic-provider plugin: `pulumi.dynamic.Resource`'s type and
 * `__provider` input, with the provider given by reference where the package is installed.
 */
class DynamicChild extends pulumi.CustomResource {
    constructor(
        provider: pulumi.dynamic.ResourceProvider,
        exportName: ProviderExport,
        type: string,
        name: string,
        props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions,
    ) {
        super(
            `pulumi-nodejs:dynamic/image-prepuller:${type}`,
            name,
            { ...props, __provider: providerInput(provider, exportName) },
            opts,
        );
    }
}

class PrePull extends DynamicChild {
    declare public readonly images: pulumi.Output<string[]>;
    declare public readonly nodes: pulumi.Output<string[]>;
    declare public readonly skipped: pulumi.Output<boolean>;
    declare public readonly durationSeconds: pulumi.Output<number>;
    declare public readonly missingNodes: pulumi.Output<Record<string, string[]>>;
    declare public readonly droppedNodes: pulumi.Output<Record<string, string> | undefined>;
    declare public readonly skippedNodes: pulumi.Output<Record<string, string> | undefined>;
    declare public readonly pullReport: pulumi.Output<PullReport | undefined>;

    constructor(name: string, props: PrePullProps, opts: pulumi.CustomResourceOptions) {
        super(prePullProvider, "prePullProvider", "PrePull", name, { ...props, ...PRE_PULL_OUTPUTS }, opts);
    }
}

export interface CleanupProps {
    namespace?: pulumi.Input<string>;
    ownerId: pulumi.Input<string>;
    kubeconfig?: pulumi.Input<string>;
    context?: pulumi.Input<string>;
    deleteUnreachable?: pulumi.Input<boolean>;
}

/** Removes, on destroy, anything a killed pre-pull of this component left; see cleanupProvider. */
class PrePullCleanup extends DynamicChild {
    constructor(name: string, props: CleanupProps, opts: pulumi.CustomResourceOptions) {
        super(cleanupProvider, "cleanupProvider", "PrePullCleanup", name, { ...props }, opts);
    }
}

/** The pre-pull child's outputs the component passes on. */
export type PrePullResource = pulumi.CustomResource &
    Pick<
        PrePull,
        | "images"
        | "nodes"
        | "skipped"
        | "durationSeconds"
        | "missingNodes"
        | "droppedNodes"
        | "skippedNodes"
        | "pullReport"
    >;

/** Makes the component's two custom children. */
export interface ChildResources {
    prePull(name: string, props: PrePullProps, opts: pulumi.CustomResourceOptions): PrePullResource;
    cleanup(name: string, props: CleanupProps, opts: pulumi.CustomResourceOptions): pulumi.CustomResource;
}

/** In a Node.js program the children are dynamic resources, served by Pulumi's dynamic-provider plugin. */
let childResources: ChildResources = {
    prePull: (name, props, opts) => new PrePull(name, props, opts),
    cleanup: (name, props, opts) => new PrePullCleanup(name, props, opts),
};

/**
 * The provider plugin (components/plugin) serves the children itself: a dynamic resource made in
 * its `construct` for a program in another language fails (pulumi/pulumi#5455).
 */
export function useChildResources(resources: ChildResources): void {
    childResources = resources;
}
