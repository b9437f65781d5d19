/**
 * What a Pulumi user writes instead of the component: a `k8s.apps.v1.DaemonSet` with the same pull
 * containers, created and awaited by the kubernetes provider (its DaemonSet await: the rollout is
 * complete when every scheduled pod is updated and ready), through the real engine, then
 * destroyed. An Automation API inline program, so no language host is involved.
 *
 * The provider reaches the apiserver through a counting proxy (its bytes), and its peak RSS is
 * read from /proc. The create is timed from the engine's events (resource pre to outputs), which
 * the Automation API reads from its event log every 200 ms.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { daemonSetSpecification, renderDaemonSet } from "../../components/rules/daemonset";
import type { PrePullInputs } from "../../components/rules/inputs";
import { TcpProxy } from "../../harness/tcp-proxy";
import { sampleDescendantPeaks } from "../process-memory";
import type { PeerRun } from "./peer";

export interface EngineSettings {
    envVars: Record<string, string>;
    /** The CLI's installation root (the directory above bin/pulumi). */
    cliRoot: string;
}

const DAEMONSET_TYPE = "kubernetes:apps/v1:DaemonSet";

export interface PulumiKubernetesUsage {
    startedAt: number;
    apiBytes: number;
    apiBytesWaiting: number;
    connections: number;
    peakRssMb: number;
}

export async function pulumiKubernetesDaemonSet(
    inputs: PrePullInputs,
    engine: EngineSettings,
    server: string,
    run: PeerRun,
): Promise<PulumiKubernetesUsage> {
    const auto = require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
    const proxy = await TcpProxy.forKubeconfig(inputs.kubeconfig!, server);
    const name = `${inputs.ownerId}-pk8s`;
    // The same manifest the other pre-pulls create; the provider's input types describe the same shape.
    const manifest = renderDaemonSet({ ...daemonSetSpecification(inputs), name, ownerId: inputs.ownerId }) as {
        metadata: import("@pulumi/kubernetes").types.input.meta.v1.ObjectMeta;
        spec: import("@pulumi/kubernetes").types.input.apps.v1.DaemonSetSpec;
    };
    const program = async () => {
        const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
        const provider = new k8s.Provider("cluster", { kubeconfig: proxy.kubeconfig });
        new k8s.apps.v1.DaemonSet(
            "pre-pull",
            { metadata: manifest.metadata, spec: manifest.spec },
            // The provider's default DaemonSet await gives up after 10 minutes.
            { provider, customTimeouts: { create: `${inputs.timeoutSeconds}s` } },
        );
    };
    const workDir = mkdtempSync(path.join(tmpdir(), "prepuller-bench-pk8s-"));
    const pulumiCommand = await auto.PulumiCommand.get({ root: engine.cliRoot, skipVersionCheck: true });
    const stack = await auto.LocalWorkspace.createStack(
        { stackName: name, projectName: "bench-pulumi-kubernetes", program },
        { envVars: engine.envVars, pulumiCommand, pulumiHome: engine.envVars.PULUMI_HOME, workDir },
    );
    const memory = sampleDescendantPeaks();
    const usage: PulumiKubernetesUsage = {
        startedAt: 0,
        apiBytes: 0,
        apiBytesWaiting: 0,
        connections: 0,
        peakRssMb: 0,
    };
    let bytesBeforeCreate = 0;
    try {
        const upStarted = Date.now();
        await stack.up({
            onEvent: (event) => {
                if (event.resourcePreEvent?.metadata.type === DAEMONSET_TYPE) {
                    usage.startedAt = Date.now();
                    bytesBeforeCreate = proxy.bytes;
                }
                if (event.resOutputsEvent?.metadata.type === DAEMONSET_TYPE) {
                    usage.apiBytesWaiting = proxy.bytes;
                    run.detected();
                }
            },
        });
        run.extra.upSeconds = (Date.now() - upStarted) / 1000;
        run.extra.apiBytesBeforeCreate = bytesBeforeCreate;
        const destroyStarted = Date.now();
        await stack.destroy();
        run.extra.destroySeconds = (Date.now() - destroyStarted) / 1000;
    } finally {
        memory.stop();
        await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        rmSync(workDir, { recursive: true, force: true });
        await proxy.stop();
    }
    usage.apiBytes = proxy.bytes;
    usage.connections = proxy.connections;
    // comm is cut to 15 characters: "pulumi-resource-kubernetes" shows as "pulumi-resource".
    usage.peakRssMb = memory.peaks["pulumi-resource"] ?? 0;
    run.extra.engineCliPeakRssMb = memory.peaks["pulumi"] ?? 0;
    return usage;
}
