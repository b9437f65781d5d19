/**
 * The committed Python SDK (sdk/python) is what the generator makes from schema.json today:
 * regenerated into a temporary directory with the project's own script and compared file by file.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../../..");

/** What `pip install ./sdk/python` leaves behind (git-ignored by the generated .gitignore). */
const BUILD_OUTPUT = /^(__pycache__|build|dist|.*\.egg-info)$/;

function filesUnder(dir: string, prefix = ""): string[] {
    return readdirSync(dir, { withFileTypes: true })
        .filter((e) => !BUILD_OUTPUT.test(e.name))
        .flatMap((e) =>
            e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
        )
        .sort();
}

describe("the generated Python SDK", () => {
    it("is up to date with schema.json (else: npm run gen-sdk)", function () {
        this.timeout(15 * 60_000); // a cold Go build of the generator
        const tmp = mkdtempSync(path.join(tmpdir(), "prepuller-sdk-"));
        try {
            const fresh = path.join(tmp, "python");
            execFileSync("bash", [path.join(root, "sdk/generate/gen-sdk.sh"), "--out", fresh], { stdio: "pipe" });
            const committed = path.join(root, "sdk/python");
            assert.deepEqual(filesUnder(committed), filesUnder(fresh), "files differ: run npm run gen-sdk");
            const stale = filesUnder(fresh).filter(
                (f) => !readFileSync(path.join(fresh, f)).equals(readFileSync(path.join(committed, f))),
            );
            assert.deepEqual(stale, [], "contents differ: run npm run gen-sdk");
        } finally {
            rmSync(tmp, { recursive: true, force: true });
        }
    });
});
