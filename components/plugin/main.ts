/**
 * Entry of the `image-prepuller` provider plugin (started by bin/pulumi-resource-image-prepuller).
 * The engine reads the plugin's port from the first line of stdout: nothing may print before it.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { useChildResources } from "../pulumi/component";
import { pluginChildren } from "./children";
import { engineLogger } from "./progress";
import { ImagePrePullerProvider } from "./provider";

const PACKAGE_NAME = "pulumi-image-prepuller";

/** The package's root directory: where package.json and schema.json are, found from this file. */
export function packageRoot(from: string = __dirname): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (
            existsSync(manifest) &&
            (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === PACKAGE_NAME
        ) {
            return dir;
        }
        if (path.dirname(dir) === dir)
            throw new Error(`${PACKAGE_NAME}: no package.json of ${PACKAGE_NAME} above ${from}`);
    }
}

/** The engine's address: the first argument that is not a logging or tracing flag the engine may add. */
export function engineAddressOf(args: readonly string[]): string | undefined {
    for (let i = 0; i < args.length; i++) {
        const arg = args[i]!;
        if (arg === "--tracing") i++;
        else if (arg !== "--logtostderr" && !arg.startsWith("-v=")) return arg;
    }
    return undefined;
}

export async function main(args: string[]): Promise<void> {
    const root = packageRoot();
    const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
    const schema = readFileSync(path.join(root, "schema.json"), "utf8");
    useChildResources(pluginChildren(version));
    const engine = engineAddressOf(args);
    const provider = new ImagePrePullerProvider(version, schema, engine ? engineLogger(engine) : undefined);
    await pulumi.provider.main(provider, args);
}
