import js from "@eslint/js";
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";

export default tseslint.config(
    {
        ignores: [
            "dist/**",
            "node_modules/**",
            ".scratch/**",
            "sdk/**",
            "test/cluster/**",
            "test/unit/testdata/state-0.1.0/**", // recorded state, as 0.1.0 wrote it
            "test/toolchain/**",
            "bench/results/**",
        ],
    },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ["**/*.ts"],
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-require-imports": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
    {
        files: ["test/**/*.ts"],
        rules: {
            "no-restricted-properties": [
                "error",
                { object: "it", property: "only" },
                { object: "describe", property: "only" },
                { object: "it", property: "skip" },
                { object: "describe", property: "skip" },
            ],
        },
    },
);
