/**
 * Pre-puller arguments from the values of the JupyterHub Helm chart (Zero to JupyterHub,
 * jupyterhub/zero-to-jupyterhub-k8s, 4.x): the images its hook and continuous image pullers pull,
 * scheduled as the chart schedules those pullers, with the chart's defaults where the values are
 * silent. The chart's rules are in ./chart-rules, reading values as Helm does in ./helm-values;
 * here the public entry point, which checks its result as the provider would.
 */
import { isPlainObject } from "../rules/input-fields";
import { normalizeInputs } from "../rules/inputs";
import type { NodeSelectorTerm, Toleration } from "../rules/public-types";
import { describeType } from "../rules/references";
import {
    pulledImages,
    pullerNodeSelector,
    pullerPriorityClass,
    pullerTolerations,
    pullSecrets,
    requiredNodeAffinity,
} from "./chart-rules";
import { booleanAt, layerValues, type Values } from "./helm-values";

/** The chart release whose templates and defaults this module follows. */
export const JUPYTERHUB_CHART_VERSION = "4.4.0";

export interface JupyterHubValuesOptions {
    /**
     * Version of the jupyterhub chart the values are deployed with; 4.x only. Default `"4.4.0"`.
     * The published chart tags its own images (`singleuser.image`, `singleuser.networkTools.image`)
     * with the chart version, so this is the tag used where the values name none. Development
     * builds (`4.5.0-0.dev.git.12.habc1234`) tag each image differently: set those tags explicitly.
     */
    chartVersion?: string;
    /**
     * The Helm release name (`helm install <releaseName>`, or `name` of a Pulumi
     * `k8s.helm.v3.Release`). Needed only for names the chart derives from it: the PriorityClass
     * of its image pullers (with `scheduling.podPriority.enabled`, unless `fullnameOverride` is a
     * non-empty string) and the image pull secret it creates (with `imagePullSecret.create`, when
     * `fullnameOverride` is null). A needed but missing release name is an error that says why.
     */
    releaseName?: string;
    /**
     * PriorityClass for the pre-pull pods, used when `scheduling.podPriority.enabled` is true in
     * place of the chart's image-puller class. Required then if neither `prePuller.hook.enabled`
     * nor `prePuller.continuous.enabled` is true, as the chart creates its class only for them.
     */
    priorityClassName?: string;
}

/** Arguments for `ImagePrePuller` (spread them into its args); plain values, fresh on every call. */
export interface JupyterHubPrePullArgs {
    /** In the order the chart's puller DaemonSet lists them; duplicates after normalization merged. */
    images: string[];
    nodeSelector: Record<string, string>;
    tolerations: Toleration[];
    /** The required node affinity of the chart's pullers; absent when they have none. */
    affinity?: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: NodeSelectorTerm[] } };
    };
    /** Secret names, de-duplicated. */
    imagePullSecrets: string[];
    /** Present only with `scheduling.podPriority.enabled`. */
    priorityClassName?: string;
}

const SUPPORTED_CHART_VERSION = /^4\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/**
 * The `ImagePrePuller` arguments that pre-pull what the JupyterHub chart's image pullers pull, on
 * the nodes where the chart schedules them, given the values passed to the chart (for a chart
 * used as a dependency, its `jupyterhub` sub-map). Pure: the values are only read.
 *
 * As in Helm, a key set to `null` deletes the chart's default (or an entry of a map such as
 * `singleuser.nodeSelector`). Several values files are passed as a list, in the order given to
 * `helm -f`: later ones win, maps merge, and a later `null` drops what an earlier file set.
 * Values of the wrong type throw an
 * error naming the values path; so do values that would not pass `ImagePrePuller`'s own checks.
 * Pass the same `namespace` as the chart's release: pull secrets are namespaced.
 *
 * @example
 *   new ImagePrePuller("user-images", { ...fromJupyterHubValues(values, { releaseName: "jhub" }), namespace: "jhub" });
 */
export function fromJupyterHubValues(
    valuesOrLayers: Values | readonly Values[],
    options: JupyterHubValuesOptions = {},
): JupyterHubPrePullArgs {
    // Several values files, as a deployment passes them to helm (-f common.yaml -f hub.yaml).
    const values = Array.isArray(valuesOrLayers) ? layerValues(valuesOrLayers) : (valuesOrLayers as Values);
    if (!isPlainObject(values)) {
        throw new Error(`JupyterHub chart values must be an object (the chart's values), got ${describeType(values)}`);
    }
    const chartVersion = supportedChartVersion(options.chartVersion ?? JUPYTERHUB_CHART_VERSION);
    const origins = new Map<string, string>();

    const images = pulledImages(values, chartVersion, origins);
    const nodeSelector = pullerNodeSelector(values, origins);
    const tolerations = pullerTolerations(values, origins);

    const result: JupyterHubPrePullArgs = {
        images,
        nodeSelector,
        tolerations,
        imagePullSecrets: pullSecrets(values, options, origins),
    };
    const terms = requiredNodeAffinity(values, origins);
    if (terms.length > 0) {
        result.affinity = {
            nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
        };
    }
    if (booleanAt(values, "scheduling.podPriority.enabled", false)) {
        const { name, origin } = pullerPriorityClass(values, options);
        result.priorityClassName = name;
        origins.set("priorityClassName", origin);
    }

    // The provider's own check, so the result is known to pass it; its failures are told by values path.
    const { failures } = normalizeInputs({ ...result }, undefined, () => "jupyterhub-values");
    if (failures.length > 0) {
        const problems = failures.map((f) => `${valuesPathOf(f.property, origins)}: ${f.reason}`);
        throw new Error(`JupyterHub chart values are not valid pre-puller arguments: ${problems.join("; ")}`);
    }
    return result;
}

function supportedChartVersion(version: unknown): string {
    if (typeof version !== "string" || !SUPPORTED_CHART_VERSION.test(version)) {
        throw new Error(
            `options.chartVersion ${describeType(version)} is not supported: fromJupyterHubValues follows the ` +
                `jupyterhub chart 4.x (checked against 4.0.0 to ${JUPYTERHUB_CHART_VERSION}); pass a version such as "${JUPYTERHUB_CHART_VERSION}"`,
        );
    }
    return version;
}

/** Translates a check failure's property (`tolerations[3].operator`) into the values path it came from. */
function valuesPathOf(property: string, origins: Map<string, string>): string {
    let best: string | undefined;
    for (const key of origins.keys()) {
        const boundary = property.charAt(key.length);
        if (property.startsWith(key) && (boundary === "" || boundary === "." || boundary === "[")) {
            if (best === undefined || key.length > best.length) best = key;
        }
    }
    return best === undefined ? property : origins.get(best)! + property.slice(best.length);
}
