/**
 * Ours as a user runs it: the ImagePrePuller component in a `pulumi up` through the real engine
 * (an Automation API inline program), then destroyed. What this adds to the in-process
 * measurement of ours is the peak RSS of the real dynamic-provider process (Pulumi's
 * dynamic-provider host, which loads @pulumi/pulumi beside our provider and client-node), read
 * from /proc, and the whole up's time.
 *
 * The program's directory is inside the repository, so that the dynamic-provider host resolves
 * @pulumi/pulumi from it (pulumi/pulumi#5455) and our provider's code is inlined into its state,
 * as for the example stack.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import type { PrePullInputs } from "../../components/rules/inputs";
import { repoRoot } from "../../harness/cluster";
import { sampleDescendantPeaks } from "../process-memory";
import type { PeerRun } from "./peer";
import type { EngineSettings } from "./pulumi-kubernetes";

export async function oursThroughEngine(inputs: PrePullInputs, engine: EngineSettings, run: PeerRun): Promise<void> {
    const auto = require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
    const program = async () => {
        const { ImagePrePuller } = require("../../components") as typeof import("../../components");
        new ImagePrePuller("pre-pull", {
            images: inputs.images,
            namespace: inputs.namespace,
            kubeconfig: inputs.kubeconfig,
            timeoutSeconds: inputs.timeoutSeconds,
        });
    };
    const workDir = mkdtempSync(path.join(repoRoot, "bench", ".engine-"));
    const pulumiCommand = await auto.PulumiCommand.get({ root: engine.cliRoot, skipVersionCheck: true });
    const stack = await auto.LocalWorkspace.createStack(
        { stackName: `${inputs.ownerId}-engine`, projectName: "bench-ours-engine", program },
        { envVars: engine.envVars, pulumiCommand, pulumiHome: engine.envVars.PULUMI_HOME, workDir },
    );
    const memory = sampleDescendantPeaks();
    try {
        const started = Date.now();
        await stack.up();
        run.extra.engineUpSeconds = (Date.now() - started) / 1000;
        await stack.destroy();
    } finally {
        memory.stop();
        await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        rmSync(workDir, { recursive: true, force: true });
    }
    // The dynamic-provider host is the only Node.js process the engine starts for an inline
    // program; Node 24 names its main thread, so /proc shows it as "MainThread" (older: "node").
    run.extra.engineProviderPeakRssMb = Math.max(memory.peaks["MainThread"] ?? 0, memory.peaks["node"] ?? 0);
    run.extra.engineCliPeakRssMb = memory.peaks["pulumi"] ?? 0;
}
