export { ImagePrePuller, COMPONENT_TYPE, type ImagePrePullerArgs } from "./pulumi/component";
export { prePullProvider } from "./pulumi/provider";
export type { PrePullInputs, PrePullOutputs, PrePullResult, PullReport } from "./rules/public-types";
export { parseImageReference, type ImageReference } from "./rules/references";
export {
    fromJupyterHubValues,
    JUPYTERHUB_CHART_VERSION,
    type JupyterHubValuesOptions,
    type JupyterHubPrePullArgs,
} from "./jupyterhub/values";
