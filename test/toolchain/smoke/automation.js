// Automation API smoke test: LocalWorkspace over a local program directory.
// Usage: node automation.js <programDir> <backendDir>   (env from test/toolchain/env.sh)
"use strict";
const { LocalWorkspace } = require("@pulumi/pulumi/automation");

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
  const state = await stack.exportStack();
  if (JSON.stringify(state).includes("smoke-secret-value-42")) throw new Error("secret in plaintext in exported state");
  await stack.destroy({ onOutput });
  await stack.workspace.removeStack("auto");
  console.log("AUTOMATION-OK");
}

main().catch((e) => { console.error("AUTOMATION-FAILED", e); process.exit(1); });
