export { ImagePrePuller, COMPONENT_TYPE, type ImagePrePullerArgs } from "./pulumi/component";
export { prePullProvider, type PrePullOutputs } from "./pulumi/provider";
export type { PrePullInputs } from "./rules/inputs";
export type { PrePullResult } from "./run/prepull";
export { parseImageReference, type ImageReference } from "./rules/references";
export {
    fromJupyterHubValues,
    JUPYTERHUB_CHART_VERSION,
    type JupyterHubValuesOptions,
    type JupyterHubPrePullArgs,
} from "./jupyterhub/values";
