export { ImagePrePuller, COMPONENT_TYPE, type ImagePrePullerArgs } from "./component";
export { prePullProvider, type PrePullOutputs } from "./provider";
export type { PrePullInputs } from "./inputs";
export type { PrePullResult } from "./prepull";
export { parseImageReference, type ImageReference } from "./references";
export {
    fromJupyterHubValues,
    JUPYTERHUB_CHART_VERSION,
    type JupyterHubValuesOptions,
    type JupyterHubPrePullArgs,
} from "./jupyterhub-values";
