/**
 * What the machine already has is used instead of a build: a pulumi CLI on PATH whose version
 * fits, and a kubernetes plugin installed at the pinned version in the user's plugin cache. Each
 * case runs the real ensure scripts against an empty tool cache and checks that nothing was
 * built (the cache stays empty); the tools it offers are the ones the tests built before.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../harness/cluster";

const run = promisify(execFile);
const toolchain = path.join(repoRoot, "test/toolchain/ensure.sh");
const kubernetesPlugin = path.join(repoRoot, "test/toolchain/kubernetes-plugin/ensure.sh");

async function lastLine(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    const { stdout, stderr } = await run("bash", [script, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return { path: stdout.trim().split("\n").pop()!.trim(), stderr };
}

describe("tools the machine already has", function () {
    this.timeout(60 * 60 * 1000);
    let scratch: string;
    let builtBin: string;
    let builtPlugin: string;

    before(async () => {
        // The pinned builds (made by the CI's build step, or here on first use).
        builtBin = (await lastLine(toolchain, ["--no-path"])).path;
        builtPlugin = (await lastLine(kubernetesPlugin, ["--no-installed"])).path;
        scratch = mkdtempSync(path.join(tmpdir(), "prepuller-tools-"));
    });
    after(() => rmSync(scratch, { recursive: true, force: true }));

    /** An environment with an empty tool cache and a PATH that starts with `bin`. */
    function cleanEnv(name: string, bin: string): NodeJS.ProcessEnv & { XDG_CACHE_HOME: string } {
        const cache = path.join(scratch, name, "cache");
        mkdirSync(cache, { recursive: true });
        return {
            ...process.env,
            XDG_CACHE_HOME: cache,
            HOME: path.join(scratch, name, "home"),
            PULUMI_HOME: undefined,
            PREPULLER_USER_PULUMI_HOME: undefined,
            PULUMI_TOOLCHAIN_IGNORE_PATH: undefined,
            PATH: `${bin}:${process.env.PATH}`,
        };
    }

    function nothingBuiltIn(cache: string) {
        const entries = existsSync(path.join(cache, "pulumi-image-prepuller"))
            ? readdirSync(path.join(cache, "pulumi-image-prepuller"), { recursive: true })
            : [];
        assert.deepEqual(
            entries.filter((e) => !String(e).endsWith(".lock")),
            [],
            "the empty cache got a build",
        );
    }

    it("a pulumi CLI on PATH at a fitting version, with its Node.js host, is used: nothing is built", async () => {
        const bin = path.join(scratch, "user-pulumi");
        mkdirSync(bin);
        for (const tool of ["pulumi", "pulumi-language-nodejs"])
            symlinkSync(path.join(builtBin, tool), path.join(bin, tool));
        const env = cleanEnv("cli", bin);
        const found = await lastLine(toolchain, [], env);
        assert.equal(found.path, bin);
        assert.match(found.stderr, /using pulumi on PATH: .*\(v3\.259\.0\); nothing to build/);
        nothingBuiltIn(env.XDG_CACHE_HOME);
    });

    it("a pulumi CLI on PATH that is too old is not used (and --check then says a build is needed)", async () => {
        const bin = path.join(scratch, "old-pulumi");
        mkdirSync(bin);
        writeFileSync(path.join(bin, "pulumi"), "#!/bin/sh\necho v3.100.0\n", { mode: 0o755 });
        symlinkSync(path.join(builtBin, "pulumi-language-nodejs"), path.join(bin, "pulumi-language-nodejs"));
        const env = cleanEnv("old-cli", bin);
        await assert.rejects(run("bash", [toolchain, "--check"], { env }), (e: { stderr: string; code: number }) => {
            assert.equal(e.code, 1);
            assert.match(e.stderr, /ignoring .*pulumi: version '3\.100\.0' \(a v3 >= 3\.259\.0 fits\)/);
            assert.match(e.stderr, /not cached/);
            return true;
        });
        nothingBuiltIn(env.XDG_CACHE_HOME);
    });

    it("a kubernetes plugin installed at the pinned version is used: nothing is built", async () => {
        const env = cleanEnv("plugin", "/nonexistent");
        const installed = path.join(env.HOME!, ".pulumi", "plugins", "resource-kubernetes-v4.24.1");
        mkdirSync(installed, { recursive: true });
        symlinkSync(builtPlugin, path.join(installed, "pulumi-resource-kubernetes"));
        const target = path.join(scratch, "plugin", "engine-home");
        const found = await lastLine(kubernetesPlugin, ["--install", target], env);
        assert.equal(found.path, builtPlugin);
        assert.match(found.stderr, /using the installed plugin .*resource-kubernetes-v4\.24\.1.*nothing to build/);
        assert.ok(
            existsSync(path.join(target, "plugins", "resource-kubernetes-v4.24.1", "pulumi-resource-kubernetes")),
        );
        nothingBuiltIn(env.XDG_CACHE_HOME);
    });
});
