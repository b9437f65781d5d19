/**
 * The real Pulumi engine for end-to-end tests: the CLI and Node.js language host from
 * test/toolchain (built from Go modules, or a pulumi already on PATH), a file:// backend in a
 * temporary directory, a passphrase secrets provider and an isolated PULUMI_HOME.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { repoRoot } from "./cluster";

const run = promisify(execFile);

export interface Engine {
    stateDir: string;
    pulumiHome: string;
    envVars: Record<string, string>;
    command: PulumiCommand;
}

let engine: Promise<Engine> | undefined;

export function sharedEngine(): Promise<Engine> {
    engine ??= startEngine();
    return engine;
}

async function startEngine(): Promise<Engine> {
    let bin: string;
    try {
        const { stdout } = await run("bash", [path.join(repoRoot, "test/toolchain/ensure.sh"), "--python"], {
            maxBuffer: 64 * 1024 * 1024,
        });
        bin = stdout.trim().split("\n").pop()!.trim();
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`the Pulumi toolchain is not available: ${err.message}\n${(err.stderr ?? "").slice(-4000)}`);
    }
    const stateDir = mkdtempSync(path.join(tmpdir(), "prepuller-e2e-state-"));
    const pulumiHome = mkdtempSync(path.join(tmpdir(), "prepuller-e2e-home-"));
    // The @pulumi/kubernetes plugin, built from Go modules and linked into this PULUMI_HOME's plugin cache.
    try {
        await run(
            "bash",
            [path.join(repoRoot, "test/toolchain/kubernetes-plugin/ensure.sh"), "--install", pulumiHome],
            {
                maxBuffer: 64 * 1024 * 1024,
            },
        );
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`the kubernetes plugin is not available: ${err.message}\n${(err.stderr ?? "").slice(-4000)}`);
    }
    // An ambient kubeconfig that points nowhere: a stack that fell back to it instead of the
    // kubeconfig it was given would fail, not quietly use another cluster.
    const ambientKubeconfig = path.join(stateDir, "ambient-kubeconfig");
    writeFileSync(
        ambientKubeconfig,
        [
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: elsewhere, cluster: {server: 'https://127.0.0.1:1'}}]",
            "users: [{name: u, user: {token: not-a-real-token}}]",
            "contexts: [{name: elsewhere, context: {cluster: elsewhere, user: u}}]",
            "current-context: elsewhere",
            "",
        ].join("\n"),
    );
    const envVars: Record<string, string> = {
        KUBECONFIG: ambientKubeconfig,
        PATH: [
            bin,
            path.join(repoRoot, "node_modules/.bin"),
            process.env.PATH,
            path.join(repoRoot, "test/toolchain/plugin"),
        ].join(path.delimiter),
        PULUMI_HOME: pulumiHome,
        PULUMI_BACKEND_URL: `file://${stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: "prepuller-e2e",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_PREPULLER_NODE_MODULES: path.join(repoRoot, "node_modules"),
    };
    // The Automation API spawns the CLI with process.env merged in: the language host must find Node 24 first.
    process.env.PATH = envVars.PATH;
    const command = await PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: true });
    return { stateDir, pulumiHome, envVars, command };
}

/** Removes the engine's backend and PULUMI_HOME directories (root hook, after every test file). */
export async function stopSharedEngine(): Promise<void> {
    const started = engine;
    engine = undefined;
    const e = await started?.catch(() => undefined);
    if (!e) return;
    for (const dir of [e.stateDir, e.pulumiHome]) rmSync(dir, { recursive: true, force: true });
}

/** A new stack of the example program (the root Pulumi.yaml) with the given config. */
export async function exampleStack(
    name: string,
    config: Record<string, { value: string; secret?: boolean }>,
): Promise<Stack> {
    const { envVars, command } = await sharedEngine();
    const stack = await LocalWorkspace.createStack(
        { stackName: name, workDir: repoRoot },
        { envVars, pulumiCommand: command, pulumiHome: envVars.PULUMI_HOME },
    );
    await stack.setAllConfig(config);
    return stack;
}

/** Removes a test stack from the backend and the Pulumi.<stack>.yaml it wrote beside the project. */
export async function removeStack(stack: Stack): Promise<void> {
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
    rmSync(path.join(repoRoot, `Pulumi.${stack.name}.yaml`), { force: true });
}

/**
 * Zero to JupyterHub values for the example stack: the first image is the singleuser image, the
 * others profiles, and the hub image an extra pre-pulled image (the example's hub runs on the
 * user nodes). The network-tools image is left out (no cloud metadata blocking), so the
 * pre-pulled images are exactly `userImages` then `hubImage`.
 */
export function jupyterhubValues(userImages: string[], hubImage: string): Record<string, unknown> {
    const split = (image: string) => {
        const at = image.lastIndexOf(":");
        return { name: image.slice(0, at), tag: image.slice(at + 1) };
    };
    const [first, ...rest] = userImages;
    return {
        singleuser: {
            image: split(first!),
            cloudMetadata: { blockWithIptables: false },
            profileList: rest.map((image, i) => ({ display_name: `profile ${i}`, kubespawner_override: { image } })),
        },
        scheduling: { userPods: { nodeAffinity: { matchNodePurpose: "require" } } },
        prePuller: { hook: { enabled: false }, extraImages: { hub: split(hubImage) } },
    };
}
