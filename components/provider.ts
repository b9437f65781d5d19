/**
 * Kept at this path for state written by 0.1.0: the providers it stores require
 * dist/components/provider.js (checked by test/unit/pulumi/state-compat.test.ts). New code imports ./pulumi/provider.
 */
export * from "./pulumi/provider";
