/**
 * The Zero to JupyterHub chart's rules for its hook and continuous image pullers: which images
 * they pull, with which tolerations, node affinity, pull secrets and PriorityClass, and the
 * chart's defaults where the values are silent. Facts from chart 4.4.0 (`values.yaml`,
 * `templates/image-puller/_helpers-daemonset.tpl`, `templates/scheduling/_scheduling-helpers.tpl`,
 * `templates/_helpers.tpl`, `templates/_helpers-names.tpl`); the parts used here are the same in
 * every 4.x release. `origins` records, for each argument property, the values path it came from.
 */
import { isPlainObject } from "../rules/input-fields";
import type { NodeSelectorTerm, Toleration } from "../rules/public-types";
import { describeType, parseImageReference } from "../rules/references";
import {
    booleanAt,
    fieldOf,
    listAt,
    mapAt,
    optionalMap,
    read,
    requiredString,
    stringAt,
    type Values,
    valuesError,
} from "./helm-values";

/** The options that name what the chart derives from the release (see `JupyterHubValuesOptions`). */
export interface ReleaseNaming {
    releaseName?: string;
    priorityClassName?: string;
}

const SINGLEUSER_IMAGE = "quay.io/jupyterhub/k8s-singleuser-sample";
const NETWORK_TOOLS_IMAGE = "quay.io/jupyterhub/k8s-network-tools";
const CHART_NAME = "jupyterhub";
const NODE_PURPOSE_POLICIES = ["ignore", "prefer", "require"];
const REQUIRED_AFFINITY_PATH = "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

/** `scheduling.userPods.tolerations` in the chart's values.yaml: user pods tolerate user-dedicated nodes. */
function defaultUserPodTolerations(): Toleration[] {
    return ["hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated"].map((key) => ({
        key,
        operator: "Equal",
        value: "user",
        effect: "NoSchedule",
    }));
}

/** `singleuser.nodeSelector`: the pullers go where user pods go. */
export function pullerNodeSelector(values: Values, origins: Map<string, string>): Record<string, string> {
    const nodeSelector = { ...(mapAt(values, "singleuser.nodeSelector") as Record<string, string>) };
    origins.set("nodeSelector", "singleuser.nodeSelector");
    return nodeSelector;
}

/** The user pods' tolerations, then `singleuser.extraTolerations`, then `prePuller.extraTolerations`. */
export function pullerTolerations(values: Values, origins: Map<string, string>): Toleration[] {
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
    return tolerations;
}

/** The images, in the order of the chart's puller DaemonSet (its `range` over a map goes by sorted key). */
export function pulledImages(values: Values, chartVersion: string, origins: Map<string, string>): string[] {
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
export function requiredNodeAffinity(values: Values, origins: Map<string, string>): NodeSelectorTerm[] {
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
export function pullSecrets(values: Values, options: ReleaseNaming, origins: Map<string, string>): string[] {
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
export function pullerPriorityClass(values: Values, options: ReleaseNaming): { name: string; origin: string } {
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
function fullname(values: Values, options: ReleaseNaming, needs: string): { name: string; origin: string } {
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

function releaseName(options: ReleaseNaming, why: string): string {
    if (typeof options.releaseName === "string" && options.releaseName !== "") return options.releaseName;
    throw new Error(`fromJupyterHubValues needs options.releaseName (the Helm release name): ${why}.`);
}
