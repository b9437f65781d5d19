import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { builtinModules } from "node:module";

const root = path.resolve(__dirname, "../..");
const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
            ? sourceFiles(path.join(dir, entry.name))
            : entry.name.endsWith(".ts")
              ? [path.join(dir, entry.name)]
              : [],
    );
}

describe("the published package", () => {
    it("imports only its declared dependencies and Node built-ins, never test infrastructure", () => {
        const allowed = new Set([
            ...Object.keys(manifest.dependencies),
            ...Object.keys(manifest.peerDependencies),
            ...builtinModules,
        ]);
        const offenders: string[] = [];
        for (const file of sourceFiles(path.join(root, "components"))) {
            const text = readFileSync(file, "utf8");
            for (const match of text.matchAll(/(?:from\s+|require\(|import\()\s*["']([^"']+)["']/g)) {
                const specifier = match[1]!;
                if (specifier.startsWith(".")) {
                    if (!path.resolve(path.dirname(file), specifier).startsWith(path.join(root, "components"))) {
                        offenders.push(`${path.relative(root, file)} -> ${specifier}`);
                    }
                    continue;
                }
                const name = specifier.startsWith("@")
                    ? specifier.split("/").slice(0, 2).join("/")
                    : specifier.split("/")[0]!;
                if (!allowed.has(name) && !allowed.has(name.replace(/^node:/, ""))) {
                    offenders.push(`${path.relative(root, file)} -> ${specifier}`);
                }
            }
        }
        assert.deepEqual(offenders, []);
    });

    it("ships compiled JavaScript and declarations, and the provider plugin's executable and schema", function () {
        this.timeout(60_000);
        const output = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: root, encoding: "utf8" });
        const files = (JSON.parse(output) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
        assert.ok(files.includes("dist/components/index.js"), "dist/components/index.js missing: run npm run build");
        assert.ok(files.includes("dist/components/index.d.ts"));
        const plugin = ["bin/pulumi-resource-image-prepuller", "schema.json", "dist/components/plugin/main.js"];
        assert.deepEqual(
            plugin.filter((f) => !files.includes(f)),
            [],
        );
        const unexpected = files.filter(
            (f) =>
                !/^dist\/components\/.*\.(js|d\.ts)$/.test(f) &&
                !["package.json", "README.md", "LICENSE", ...plugin].includes(f),
        );
        assert.deepEqual(unexpected, []);
    });
});
