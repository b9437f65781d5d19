/**
 * The published declarations compile in a consumer's project set up as Pulumi's
 * `kubernetes-typescript` template sets one up: strict, `nodenext`, no skipLibCheck, and no
 * @types/ws. So index.d.ts may reach only the public API: a declaration that reaches
 * @kubernetes/client-node's (which import isomorphic-ws, and so ws) fails that compile with TS7016.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "../..");

/** The first TypeScript block under "## Example" in README.md. */
function readmeExample(): string {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const section = readme.split(/^## Example$/m)[1] ?? "";
    const block = /^```typescript\n([\s\S]*?)^```/m.exec(section.split(/^## /m)[0]!);
    assert.ok(block, 'README.md has no TypeScript block under "## Example"');
    return block[1]!;
}

function describeDiagnostic(d: ts.Diagnostic): string {
    const where = d.file ? `${path.relative(root, d.file.fileName)}: ` : "";
    return `${where}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
}

/** Emits the declarations of components/ as `npm run build` does, into `outDir`; returns our own compile errors. */
function emitDeclarations(outDir: string): string[] {
    const config = ts.getParsedCommandLineOfConfigFile(
        path.join(root, "tsconfig.build.json"),
        { outDir, declaration: true, emitDeclarationOnly: true, sourceMap: false, declarationMap: false },
        {
            ...ts.sys,
            onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(describeDiagnostic(d)),
        },
    );
    assert.ok(config, "tsconfig.build.json could not be read");
    const program = ts.createProgram(config.fileNames, config.options);
    const emitted = program.emit();
    assert.equal(emitted.emitSkipped, false, "the declarations were not emitted");
    return [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map(describeDiagnostic);
}

/** Every .d.ts that `entry` reaches through relative imports, with the packages each imports. */
function declarationGraph(entry: string): Map<string, string[]> {
    const graph = new Map<string, string[]>();
    const pending = [entry];
    while (pending.length > 0) {
        const file = pending.pop()!;
        if (graph.has(file)) continue;
        const text = readFileSync(file, "utf8");
        const specifiers = [
            ...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm),
            ...text.matchAll(/\/\/\/\s*<reference\s+types=["']([^"']+)["']/g),
        ].map((m) => m[1]!);
        graph.set(
            file,
            specifiers.filter((s) => !s.startsWith(".")),
        );
        for (const specifier of specifiers.filter((s) => s.startsWith("."))) {
            const target = path.resolve(path.dirname(file), specifier.replace(/\.js$/, ""));
            const candidates = [`${target}.d.ts`, path.join(target, "index.d.ts")];
            const found = candidates.find((c) => existsSync(c));
            assert.ok(found, `${path.basename(file)} imports "${specifier}", which was not emitted`);
            pending.push(found);
        }
    }
    return graph;
}

describe("the published declarations", function () {
    this.timeout(60_000);
    let dir: string;
    let packageDir: string;
    let ownErrors: string[];

    before(function () {
        this.timeout(60_000);
        dir = mkdtempSync(path.join(os.tmpdir(), "prepuller-consumer-"));
        // A consumer's project: the template's tsconfig, the README's example as its program, and
        // in node_modules the SDKs and @types/node it installs, our package and our dependency.
        const modules = path.join(dir, "node_modules");
        for (const name of ["@pulumi/pulumi", "@pulumi/kubernetes", "@types/node", "@kubernetes/client-node"]) {
            mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
            symlinkSync(path.join(root, "node_modules", name), path.join(modules, name), "dir");
        }
        packageDir = path.join(modules, "pulumi-image-prepuller");
        const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as Record<string, unknown>;
        mkdirSync(packageDir);
        writeFileSync(
            path.join(packageDir, "package.json"),
            JSON.stringify({
                name: manifest.name,
                version: manifest.version,
                main: manifest.main,
                types: manifest.types,
            }),
        );
        ownErrors = emitDeclarations(path.join(packageDir, "dist"));
        writeFileSync(
            path.join(dir, "package.json"),
            JSON.stringify({
                name: "consumer",
                main: "index.ts",
                dependencies: { "@pulumi/kubernetes": "*", "@pulumi/pulumi": "*", "pulumi-image-prepuller": "*" },
                devDependencies: { "@types/node": "*" },
            }),
        );
        writeFileSync(
            path.join(dir, "tsconfig.json"),
            JSON.stringify({
                compilerOptions: {
                    strict: true,
                    outDir: "bin",
                    target: "es2020",
                    module: "nodenext",
                    moduleResolution: "nodenext",
                    sourceMap: true,
                    experimentalDecorators: true,
                    pretty: true,
                    noFallthroughCasesInSwitch: true,
                    noImplicitReturns: true,
                    forceConsistentCasingInFileNames: true,
                },
                files: ["index.ts"],
            }),
        );
        writeFileSync(path.join(dir, "index.ts"), readmeExample());
    });

    after(() => {
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("reach no @kubernetes/client-node declarations from index.d.ts", () => {
        const graph = declarationGraph(path.join(packageDir, "dist/components/index.d.ts"));
        const offenders = [...graph]
            .filter(([, packages]) =>
                packages.some((p) => p === "@kubernetes/client-node" || p.startsWith("@kubernetes/client-node/")),
            )
            .map(([file]) => path.relative(path.join(packageDir, "dist"), file));
        assert.deepEqual(
            offenders,
            [],
            `index.d.ts reaches: ${[...graph.keys()].map((f) => path.relative(packageDir, f)).join(", ")}`,
        );
    });

    it("compile in a consumer's project (strict, nodenext, no skipLibCheck) with the README's example", () => {
        const tsc = require.resolve("typescript/bin/tsc");
        const run = spawnSync(process.execPath, [tsc, "--noEmit", "--pretty", "false", "-p", dir], {
            cwd: dir,
            encoding: "utf8",
        });
        const output = `${run.stdout}${run.stderr}`.trim();
        assert.equal(
            run.status,
            0,
            `tsc --noEmit failed in the consumer's project:\n${output}` +
                (ownErrors.length > 0 ? `\n\nThe library itself has compile errors:\n${ownErrors.join("\n")}` : ""),
        );
    });
});
