/**
 * The @pulumi/kubernetes plugin the tests build (from the one provider module version the Go proxy
 * serves, stamped 4.24.1) serves the resource types of the npm SDK the repository pins. Resource
 * lists do not tell 4.23.0, 4.24.1 and 4.25.0 apart; 4.24.1 is the nearest published release after
 * the module's commit (2026-01-15), and the module builds against sdk/v4 v4.24.0.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../harness/cluster";

/** The Pulumi types the SDK's resource classes register, from its compiled JavaScript. */
function sdkResourceTypes(dir: string): Set<string> {
    const types = new Set<string>();
    const visit = (d: string) => {
        for (const entry of readdirSync(d)) {
            const full = path.join(d, entry);
            if (statSync(full).isDirectory()) {
                if (entry !== "node_modules") visit(full);
            } else if (entry.endsWith(".js")) {
                for (const m of readFileSync(full, "utf8").matchAll(/__pulumiType = '([^']+)'/g)) types.add(m[1]!);
            }
        }
    };
    visit(dir);
    return types;
}

describe("the @pulumi/kubernetes plugin built for the tests", function () {
    this.timeout(60 * 60 * 1000);
    let schema: { resources: Record<string, unknown> };
    let binary: string;

    before(async () => {
        const { stdout } = await promisify(execFile)(
            "bash",
            [path.join(repoRoot, "test/toolchain/kubernetes-plugin/ensure.sh"), "--no-installed"],
            {
                maxBuffer: 64 * 1024 * 1024,
            },
        );
        binary = stdout.trim().split("\n").pop()!.trim();
        schema = JSON.parse(readFileSync(path.join(path.dirname(binary), "schema.json"), "utf8"));
    });

    it("is the version the pinned SDK asks for", () => {
        const sdk = JSON.parse(
            readFileSync(path.join(repoRoot, "node_modules/@pulumi/kubernetes/package.json"), "utf8"),
        ) as {
            version: string;
            pulumi: { version: string };
        };
        assert.equal(sdk.version, "4.24.1");
        assert.equal(sdk.pulumi.version, "4.24.1");
        assert.match(binary, /kubernetes-4\.24\.1-/);
    });

    it("serves exactly the resource types of the pinned SDK (besides its TypeScript overlays)", () => {
        const sdk = sdkResourceTypes(path.join(repoRoot, "node_modules/@pulumi/kubernetes"));
        sdk.delete("kubernetes"); // the provider resource
        const served = new Set(Object.keys(schema.resources));
        // Implemented in the SDK's TypeScript, on top of other resources.
        const overlays = [
            "kubernetes:apiextensions.k8s.io:CustomResource",
            "kubernetes:apiextensions.k8s.io:CustomResourcePatch",
            "kubernetes:kustomize:Directory",
            "kubernetes:yaml:ConfigFile",
            "kubernetes:yaml:ConfigGroup",
        ];
        for (const overlay of overlays) served.delete(overlay);
        assert.deepEqual(
            [...sdk].filter((t) => !served.has(t)),
            [],
            "types the SDK has and the plugin does not serve",
        );
        assert.deepEqual(
            [...served].filter((t) => !sdk.has(t)),
            [],
            "types the plugin serves and the SDK lacks",
        );
        assert.ok(sdk.has("kubernetes:apps/v1:DaemonSet") && sdk.size > 400);
    });
});
