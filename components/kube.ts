/**
 * Kept at this path for state written by 0.1.0: the providers it stores require
 * dist/components/kube.js (checked by test/unit/pulumi/state-compat.test.ts). New code imports
 * ./cluster/kubeconfig and ./cluster/errors.
 */
export * from "./cluster/kubeconfig";
export * from "./cluster/errors";
/** The name 0.1.0's stored `check` calls. */
export { isKubeconfigContents as looksLikeKubeconfigContents } from "./rules/credentials";
