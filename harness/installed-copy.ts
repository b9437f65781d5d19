import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";

const repoRoot = path.resolve(__dirname, "..");

/** A consumer's install of the built package (see installedCopy). */
export interface InstalledCopy {
    /** The consumer's directory: run the program, or chdir, here. */
    dir: string;
    /** node_modules/pulumi-image-prepuller inside it. */
    packageDir: string;
    /** The path of a file of the installed package, such as "dist/components/index.js". */
    file(relative: string): string;
    remove(): void;
}

/**
 * The built package (`npm run build`) as npm installs it for a consumer: dist/components copied
 * to node_modules/pulumi-image-prepuller of a new directory. The directory is inside the
 * repository, so that @pulumi/pulumi, @pulumi/kubernetes and client-node resolve from ours (one
 * copy of each, as in a consumer's install); `prefix` must be git-ignored.
 */
export function installedCopy(prefix = ".consumer-"): InstalledCopy {
    const dir = mkdtempSync(path.join(repoRoot, prefix));
    const packageDir = path.join(dir, "node_modules", "pulumi-image-prepuller");
    cpSync(path.join(repoRoot, "dist", "components"), path.join(packageDir, "dist", "components"), {
        recursive: true,
    });
    writeFileSync(
        path.join(packageDir, "package.json"),
        JSON.stringify({
            name: "pulumi-image-prepuller",
            main: "dist/components/index.js",
            types: "dist/components/index.d.ts",
        }),
    );
    return {
        dir,
        packageDir,
        file: (relative) => path.join(packageDir, relative),
        remove: () => rmSync(dir, { recursive: true, force: true }),
    };
}
