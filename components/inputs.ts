/**
 * Kept at this path for state written by 0.1.0: the providers it stores require
 * dist/components/inputs.js (checked by test/unit/pulumi/state-compat.test.ts). New code imports ./rules/inputs.
 */
export * from "./rules/inputs";
