/**
 * Pre-puller arguments from the values of the JupyterHub Helm chart (Zero to JupyterHub,
 * jupyterhub/zero-to-jupyterhub-k8s, 4.x): the images its hook and continuous image pullers pull,
 * scheduled as the chart schedules those pullers, with the chart's defaults where the values are
 * silent. Facts from chart 4.4.0 (`values.yaml`, `templates/image-puller/_helpers-daemonset.tpl`,
 * `templates/scheduling/_scheduling-helpers.tpl`, `templates/_helpers.tpl`,
 * `templates/_helpers-names.tpl`); the parts used here are the same in every 4.x release.
 */
import { normalizeInputs } from "../rules/inputs";
import type { NodeSelectorTerm, Toleration } from "../rules/kubernetes-types";
import { describeType, parseImageReference } from "../rules/references";

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

type Values = Readonly<Record<string, unknown>>;

const SINGLEUSER_IMAGE = "quay.io/jupyterhub/k8s-singleuser-sample";
const NETWORK_TOOLS_IMAGE = "quay.io/jupyterhub/k8s-network-tools";
const CHART_NAME = "jupyterhub";
const NODE_PURPOSE_POLICIES = ["ignore", "prefer", "require"];
const REQUIRED_AFFINITY_PATH = "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
const SUPPORTED_CHART_VERSION = /^4\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** `scheduling.userPods.tolerations` in the chart's values.yaml: user pods tolerate user-dedicated nodes. */
function defaultUserPodTolerations(): Toleration[] {
    return ["hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated"].map((key) => ({
        key,
        operator: "Equal",
        value: "user",
        effect: "NoSchedule",
    }));
}

/**
 * The `ImagePrePuller` arguments that pre-pull what the JupyterHub chart's image pullers pull, on
 * the nodes where the chart schedules them, given the values passed to the chart (for a chart
 * used as a dependency, its `jupyterhub` sub-map). Pure: the values are only read.
 *
 * As in Helm, a key set to `null` deletes the chart's default. Values of the wrong type throw an
 * error naming the values path; so do values that would not pass `ImagePrePuller`'s own checks.
 * Pass the same `namespace` as the chart's release: pull secrets are namespaced.
 *
 * @example
 *   new ImagePrePuller("user-images", { ...fromJupyterHubValues(values, { releaseName: "jhub" }), namespace: "jhub" });
 */
export function fromJupyterHubValues(values: Values, options: JupyterHubValuesOptions = {}): JupyterHubPrePullArgs {
    if (!isPlainObject(values)) {
        throw new Error(`JupyterHub chart values must be an object (the chart's values), got ${describeType(values)}`);
    }
    const chartVersion = supportedChartVersion(options.chartVersion ?? JUPYTERHUB_CHART_VERSION);
    const origins = new Map<string, string>();

    const images = pulledImages(values, chartVersion, origins);
    const nodeSelector = { ...(mapAt(values, "singleuser.nodeSelector") as Record<string, string>) };
    origins.set("nodeSelector", "singleuser.nodeSelector");

    const tolerations: Toleration[] = [];
    const tolerationSources: [string, readonly unknown[]][] = [
        [
            "scheduling.userPods.tolerations",
            listAt(values, "scheduling.userPods.tolerations", defaultUserPodTolerations),
        ],
        ["singleuser.extraTolerations", listAt(values, "singleuser.extraTolerations")],
        ["prePuller.extraTolerations", listAt(values, "prePuller.extraTolerations")],
    ];
    for (const [path, list] of tolerationSources) {
        list.forEach((toleration, index) => {
            origins.set(`tolerations[${tolerations.length}]`, `${path}[${index}]`);
            tolerations.push(structuredClone(toleration) as Toleration);
        });
    }

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

/** The images, in the order of the chart's puller DaemonSet (its `range` over a map goes by sorted key). */
function pulledImages(values: Values, chartVersion: string, origins: Map<string, string>): string[] {
    const images: string[] = [];
    const seen = new Set<string>();
    const add = (reference: string, path: string) => {
        let normalized: string;
        try {
            normalized = parseImageReference(reference).normalized;
        } catch (e) {
            throw valuesError(path, (e as Error).message);
        }
        if (!seen.has(normalized)) {
            seen.add(normalized);
            origins.set(`images[${images.length}]`, path);
            images.push(reference);
        }
    };
    // The chart's own images default to its name and the chart version's tag; extra images have no default.
    const nameAndTag = (path: string, defaultName?: string) => {
        const name = stringAt(values, `${path}.name`, defaultName === undefined ? undefined : () => defaultName);
        const tag = stringAt(
            values,
            `${path}.tag`,
            defaultName === undefined ? undefined : () => chartImageTag(chartVersion, path),
        );
        add(`${name}:${tag}`, path);
    };

    // The network-tools init container blocks the cloud metadata server; the legacy
    // `cloudMetadata.enabled` (true = not blocked) wins over `blockWithIptables` when set.
    const legacyEnabled = read(values, "singleuser.cloudMetadata.enabled");
    const blockMetadata =
        legacyEnabled === undefined || legacyEnabled === null
            ? booleanAt(values, "singleuser.cloudMetadata.blockWithIptables", true)
            : !booleanAt(values, "singleuser.cloudMetadata.enabled", false);
    if (blockMetadata) nameAndTag("singleuser.networkTools.image", NETWORK_TOOLS_IMAGE);
    nameAndTag("singleuser.image", SINGLEUSER_IMAGE);

    for (const listPath of ["singleuser.initContainers", "singleuser.extraContainers"]) {
        listAt(values, listPath).forEach((container, index) => {
            const path = `${listPath}[${index}]`;
            add(requiredString(fieldOf(container, "image", path), `${path}.image`), `${path}.image`);
        });
    }

    if (booleanAt(values, "prePuller.pullProfileListImages", true)) {
        listAt(values, "singleuser.profileList").forEach((profile, index) => {
            const path = `singleuser.profileList[${index}]`;
            const image = overrideImage(fieldOf(profile, "kubespawner_override", path), `${path}.kubespawner_override`);
            if (image) add(image, `${path}.kubespawner_override.image`);
            // Only listed choices: an unlisted_choice image is a template the user completes.
            const options = optionalMap(fieldOf(profile, "profile_options", path), `${path}.profile_options`);
            for (const option of Object.keys(options).sort()) {
                const optionPath = `${path}.profile_options.${option}`;
                const choices = optionalMap(fieldOf(options[option], "choices", optionPath), `${optionPath}.choices`);
                for (const choice of Object.keys(choices).sort()) {
                    const choicePath = `${optionPath}.choices.${choice}`;
                    const override = fieldOf(choices[choice], "kubespawner_override", choicePath);
                    const choiceImage = overrideImage(override, `${choicePath}.kubespawner_override`);
                    if (choiceImage) add(choiceImage, `${choicePath}.kubespawner_override.image`);
                }
            }
        });
    }

    const extraImages = mapAt(values, "prePuller.extraImages");
    for (const key of Object.keys(extraImages).sort()) {
        const path = `prePuller.extraImages.${key}`;
        const entry = extraImages[key];
        if (!isPlainObject(entry))
            throw valuesError(path, `must be a map with name and tag, got ${describeType(entry)}`);
        nameAndTag(path);
    }
    return images;
}

/** The published chart's tag for its own images: the chart version (chartpress sets it on release). */
function chartImageTag(chartVersion: string, imagePath: string): string {
    if (chartVersion.includes(".git.")) {
        throw valuesError(
            `${imagePath}.tag`,
            `must be set explicitly: chart ${chartVersion} is a development build, whose images are tagged by their own last commit, not by the chart version`,
        );
    }
    return chartVersion;
}

function overrideImage(override: unknown, path: string): string | undefined {
    const image = fieldOf(optionalMap(override, path), "image", path);
    if (image === undefined || image === null || image === "") return undefined;
    if (typeof image !== "string")
        throw valuesError(`${path}.image`, `must be an image reference, got ${describeType(image)}`);
    return image;
}

/** Required terms: the node-purpose term with `matchNodePurpose: require`, then `extraNodeAffinity.required`. */
function requiredNodeAffinity(values: Values, origins: Map<string, string>): NodeSelectorTerm[] {
    const terms: NodeSelectorTerm[] = [];
    const purposePath = "scheduling.userPods.nodeAffinity.matchNodePurpose";
    const purpose = read(values, purposePath) ?? "prefer";
    if (purpose !== null && (typeof purpose !== "string" || !NODE_PURPOSE_POLICIES.includes(purpose))) {
        throw valuesError(
            purposePath,
            `must be one of ${NODE_PURPOSE_POLICIES.join(", ")}; got ${describeType(purpose)}`,
        );
    }
    if (purpose === "require") {
        origins.set(`${REQUIRED_AFFINITY_PATH}[0]`, purposePath);
        terms.push({ matchExpressions: [{ key: "hub.jupyter.org/node-purpose", operator: "In", values: ["user"] }] });
    }
    listAt(values, "singleuser.extraNodeAffinity.required").forEach((term, index) => {
        origins.set(`${REQUIRED_AFFINITY_PATH}[${terms.length}]`, `singleuser.extraNodeAffinity.required[${index}]`);
        terms.push(structuredClone(term) as NodeSelectorTerm);
    });
    return terms;
}

/** `singleuser.image.pullSecrets`, then `imagePullSecrets`, then the secret the chart creates and injects. */
function pullSecrets(values: Values, options: JupyterHubValuesOptions, origins: Map<string, string>): string[] {
    const names: string[] = [];
    const add = (name: string, origin: string) => {
        if (names.includes(name)) return;
        origins.set(`imagePullSecrets[${names.length}]`, origin);
        names.push(name);
    };
    for (const listPath of ["singleuser.image.pullSecrets", "imagePullSecrets"]) {
        listAt(values, listPath).forEach((item, index) => {
            const path = `${listPath}[${index}]`;
            const name = isPlainObject(item) ? item.name : item;
            if (typeof name !== "string") {
                throw valuesError(path, `must be a secret name or { name: <secret name> }, got ${describeType(item)}`);
            }
            add(name, path);
        });
    }
    if (
        booleanAt(values, "imagePullSecret.create", false) &&
        booleanAt(values, "imagePullSecret.automaticReferenceInjection", true)
    ) {
        const needs = 'imagePullSecret.create is true, and the chart names that secret "<fullname>-image-pull-secret"';
        const { name, origin } = fullname(values, options, needs);
        if (name === "") add("image-pull-secret", "imagePullSecret.create");
        else add(`${name}-image-pull-secret`, origin);
    }
    return names;
}

/** The PriorityClass of the chart's image pullers (`jupyterhub.image-puller-priority.fullname`), and where its name came from. */
function pullerPriorityClass(values: Values, options: JupyterHubValuesOptions): { name: string; origin: string } {
    if (options.priorityClassName !== undefined) {
        return { name: options.priorityClassName, origin: "options.priorityClassName" };
    }
    if (
        !booleanAt(values, "prePuller.hook.enabled", true) &&
        !booleanAt(values, "prePuller.continuous.enabled", true)
    ) {
        throw new Error(
            "fromJupyterHubValues needs options.priorityClassName: scheduling.podPriority.enabled is true, but with " +
                "prePuller.hook.enabled and prePuller.continuous.enabled both false the chart creates no PriorityClass " +
                "for image pullers. Create one (the chart gives its pullers scheduling.podPriority.imagePullerPriority, " +
                "-5 by default) and pass its name.",
        );
    }
    const needs =
        'scheduling.podPriority.enabled is true, and the chart names its image-puller PriorityClass "<fullname>-image-puller"';
    const { name, origin } = fullname(values, options, needs);
    if (name !== "") return { name: `${name}-image-puller`, origin };
    const release = releaseName(
        options,
        'scheduling.podPriority.enabled is true, and with fullnameOverride "" (the default) the chart names its ' +
            'image-puller PriorityClass "<release name>-image-puller-priority" (or pass options.priorityClassName)',
    );
    return { name: `${release}-image-puller-priority`, origin: "options.releaseName" };
}

/**
 * The chart's `jupyterhub.fullname`: fullnameOverride if it is a string (default ""), else the
 * release name, followed by "-<nameOverride or jupyterhub>" unless the release name contains that.
 * `origin` is where the name came from.
 */
function fullname(values: Values, options: JupyterHubValuesOptions, needs: string): { name: string; origin: string } {
    const given = read(values, "fullnameOverride");
    const override = given === undefined ? "" : given;
    if (typeof override === "string") return { name: override, origin: "fullnameOverride" };
    if (override !== null) {
        throw valuesError("fullnameOverride", `must be a string or null, got ${describeType(override)}`);
    }
    const nameOverride = read(values, "nameOverride");
    if (nameOverride !== undefined && nameOverride !== null && typeof nameOverride !== "string") {
        throw valuesError("nameOverride", `must be a string or null, got ${describeType(nameOverride)}`);
    }
    const name = typeof nameOverride === "string" && nameOverride !== "" ? nameOverride : CHART_NAME;
    const release = releaseName(
        options,
        `${needs}; with fullnameOverride null, <fullname> comes from the release name`,
    );
    return { name: release.includes(name) ? release : `${release}-${name}`, origin: "options.releaseName" };
}

function releaseName(options: JupyterHubValuesOptions, why: string): string {
    if (typeof options.releaseName === "string" && options.releaseName !== "") return options.releaseName;
    throw new Error(`fromJupyterHubValues needs options.releaseName (the Helm release name): ${why}.`);
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

/**
 * What the chart sees at a dotted path: `undefined` where the values are silent (the chart's
 * default applies), `null` where a key on the way is null (Helm deletes the default), else the value.
 */
function read(values: Values, path: string): unknown {
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

function stringAt(values: Values, path: string, fallback?: () => string): string {
    const value = read(values, path);
    return requiredString(value === undefined && fallback ? fallback() : value, path);
}

function requiredString(value: unknown, path: string): string {
    if (typeof value !== "string" || value === "") {
        throw valuesError(
            path,
            `must be a non-empty string, got ${value === undefined ? "nothing" : describeType(value)}`,
        );
    }
    return value;
}

function booleanAt(values: Values, path: string, fallback: boolean): boolean {
    const value = read(values, path);
    if (value === undefined) return fallback;
    if (value === null) return false;
    if (typeof value !== "boolean") throw valuesError(path, `must be true or false, got ${describeType(value)}`);
    return value;
}

function listAt(values: Values, path: string, fallback: () => readonly unknown[] = () => []): readonly unknown[] {
    const value = read(values, path);
    if (value === undefined) return fallback();
    if (value === null) return [];
    if (!Array.isArray(value)) throw valuesError(path, `must be a list, got ${describeType(value)}`);
    return value;
}

function mapAt(values: Values, path: string): Readonly<Record<string, unknown>> {
    return optionalMap(read(values, path), path);
}

function optionalMap(value: unknown, path: string): Readonly<Record<string, unknown>> {
    if (value === undefined || value === null) return {};
    if (!isPlainObject(value)) throw valuesError(path, `must be a map, got ${describeType(value)}`);
    return value;
}

/** A field of a list item or map entry, which must itself be a map. */
function fieldOf(container: unknown, field: string, path: string): unknown {
    if (!isPlainObject(container)) throw valuesError(path, `must be a map, got ${describeType(container)}`);
    return Object.prototype.hasOwnProperty.call(container, field) ? container[field] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

function valuesError(path: string, reason: string): Error {
    return new Error(`JupyterHub chart values: ${path}: ${reason}`);
}
