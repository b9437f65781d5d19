// Automation API smoke test: LocalWorkspace over a local program directory.
// Usage: node automation.js <programDir> <backendDir>   (env from test/toolchain/env.sh)
"use strict";
const fs = require("fs");
const path = require("path");
const { LocalWorkspace } = require("@pulumi/pulumi/automation");

function findFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? findFiles(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

async function main() {
  const [workDir, backendDir] = process.argv.slice(2);
  if (!workDir || !backendDir) throw new Error("usage: node automation.js <programDir> <backendDir>");
  const lines = [];
  const onOutput = (s) => { lines.push(s); process.stdout.write(s); };
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "auto", workDir },
    {
      pulumiHome: process.env.PULUMI_HOME,
      envVars: {
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE || "prepuller-local-test",
      },
    },
  );
  await stack.setConfig("message", { value: "from-automation" });
  const pre = await stack.preview({ onOutput });
  console.log("AUTO preview changeSummary", JSON.stringify(pre.changeSummary));
  const up = await stack.up({ onOutput });
  console.log("AUTO up summary", up.summary.result, JSON.stringify(up.summary.resourceChanges));
  if (up.outputs.message.value !== "from-automation") throw new Error(`unexpected output ${JSON.stringify(up.outputs)}`);
  if (!lines.join("").includes("SMOKE-CREATE-LOG message=from-automation")) {
    throw new Error("create() console.log output did not reach onOutput");
  }
  const up2 = await stack.up({ onOutput });
  const changes = up2.summary.resourceChanges || {};
  const changed = Object.entries(changes).filter(([k, v]) => k !== "same" && v > 0);
  if (changed.length) throw new Error(`second up was not a no-op: ${JSON.stringify(changes)}`);
  // exportStack() runs `pulumi stack export --show-secrets`, so secrets come back
  // decrypted there (still marked with the secret signature); the stored checkpoint
  // in the file:// backend must hold only ciphertext.
  const state = JSON.stringify(await stack.exportStack());
  if (!state.includes("4dabf18193072939515e22adb298388d")) throw new Error("no secret-marked value in exported state");
  const stored = findFiles(backendDir).filter((f) => f.endsWith(".json")).map((f) => fs.readFileSync(f, "utf8"));
  if (!stored.some((s) => s.includes("ciphertext"))) throw new Error("no ciphertext in the backend's stored state");
  if (stored.some((s) => s.includes("smoke-secret-value-42"))) throw new Error("secret in plaintext in the backend's stored state");
  await stack.destroy({ onOutput });
  await stack.workspace.removeStack("auto");
  console.log("AUTOMATION-OK");
}

main().catch((e) => { console.error("AUTOMATION-FAILED", e); process.exit(1); });
