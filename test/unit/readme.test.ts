/**
 * What a newcomer copies from README.md works: every TypeScript block compiles against the
 * package (imported by its published name) and the SDKs the repository pins.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "../..");

export function typescriptBlocks(markdown: string): { line: number; code: string }[] {
    const blocks: { line: number; code: string }[] = [];
    const pattern = /^```(?:typescript|ts)\n([\s\S]*?)^```/gm;
    for (const match of markdown.matchAll(pattern)) {
        blocks.push({ line: markdown.slice(0, match.index).split("\n").length, code: match[1]! });
    }
    return blocks;
}

function compileErrors(files: string[]): string[] {
    const program = ts.createProgram(files, {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.Node16,
        moduleResolution: ts.ModuleResolutionKind.Node16,
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        esModuleInterop: true,
        types: ["node"],
        typeRoots: [path.join(root, "node_modules/@types")],
        baseUrl: root,
        paths: { "pulumi-image-prepuller": ["components/index.ts"] },
    });
    return ts
        .getPreEmitDiagnostics(program)
        .map(
            (d) =>
                `${d.file ? path.basename(d.file.fileName) : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`,
        );
}

describe("README.md", () => {
    it("has TypeScript examples, and each one compiles as a program of its own", function () {
        this.timeout(120_000);
        const blocks = typescriptBlocks(readFileSync(path.join(root, "README.md"), "utf8"));
        assert.ok(blocks.length >= 2, `expected TypeScript examples in README.md, found ${blocks.length}`);
        // Inside the repository, so that module resolution finds its node_modules.
        const dir = mkdtempSync(path.join(root, ".readme-check-"));
        try {
            const files = blocks.map((block) => {
                const file = path.join(dir, `block-at-line-${block.line}.ts`);
                // Each block is a module of its own (top-level names do not clash between blocks).
                writeFileSync(file, `${block.code}\nexport {};\n`);
                return file;
            });
            assert.deepEqual(compileErrors(files), []);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the check itself fails on a block that uses a name it does not import", function () {
        this.timeout(120_000);
        const dir = mkdtempSync(path.join(root, ".readme-check-"));
        try {
            const file = path.join(dir, "bad.ts");
            writeFileSync(file, 'const hub = new k8s.apps.v1.Deployment("hub", {});\nexport {};\n');
            assert.match(compileErrors([file]).join("\n"), /Cannot find name 'k8s'/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
