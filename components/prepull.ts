/**
 * Kept at this path for state written by 0.1.0: the providers it stores require
 * dist/components/prepull.js (checked by test/unit/pulumi/state-compat.test.ts). New code imports ./run/prepull.
 */
export * from "./run/prepull";
