/** latest.md: how and where the run was measured, every table, and the verdicts. */
import type { BenchResults } from "../results-model";
import { fitTable, timeScaleTable } from "./fit";
import { apiserverTable, detailTable, mainTable, memorySlope, memoryTable, runLine, streamTable } from "./tables";
import { verdicts, verdictTable, type NoopUp } from "./verdicts";

export function markdown(results: BenchResults, noopUp?: NoopUp): string {
    const { records, runs } = results;
    const settings = [...new Set(runs.flatMap((r) => r.harness.changedFromStock))];
    return [
        `Measured on ${results.machine}, in ${runs.length === 1 ? "one run" : `${runs.length} runs`}:`,
        "",
        ...runs.map(runLine),
        "",
        "The cluster: the real kube-apiserver, etcd, kube-controller-manager (every default controller) and kube-scheduler, with simulated kubelets (test/cluster). What the bench changed from stock:",
        "",
        ...settings.map((s) => `- ${s}`),
        "",
        "Each pre-pull runs in its own process, one after the other on the same cluster, with fresh images (order in the JSON). The floor is when the last image pull ended on any node (the simulator's clock). After each pre-pull, one user pod per node starts with one of its images; user pod start is bound-to-running, from watch receive times. The two rows without a pre-pull are measured once per cluster size, on the quiet cluster before its first scenario: with an image no node holds (cold), and with an image every node has held from the start (what starting a pod costs in this harness, where the simulated kubelets of all nodes share two cores with the control plane).",
        "",
        mainTable(records),
        "",
        "Targets, from this run:",
        "",
        verdictTable(verdicts(records, noopUp, runs.at(-1)?.moduleFloorRssMb)),
        "",
        "Per pre-pull, besides (the DaemonSet controller's pod-creation floor is part of every floor; `extra` holds each peer's own figures):",
        "",
        detailTable(records),
        "",
        "Bytes while waiting, fitted over every scenario of this run as fixed + perNode·N + perNodeImage·N·I + perNodeSecond·N·T (N nodes, I images, T seconds waited): what a pre-pull pays per node and per image pulled, apart from what grows with wall time. A shorter time scale shrinks T, which flatters whoever pays by the second:",
        "",
        fitTable(records),
        "",
        "The same scenario at each time scale it ran at:",
        "",
        timeScaleTable(records),
        "",
        "Wire bytes by stream until presence was decided, for the pre-pulls measured in their own process (response bodies as received and decoded; the forms and encodings asked for and received; watch events; lists started, of which all but the first of a stream are re-lists). headers+framing+tls is what the sockets carried beyond the bodies. The @pulumi/kubernetes provider's traffic is counted whole, at a TCP proxy in front of the apiserver:",
        "",
        streamTable(records),
        "",
        "Memory: peaks by kind (sampled every 100 ms; the RSS column above is the kernel's exact peak), the heap and RSS after a forced GC once presence was decided (what the run holds while it waits), and the peak above the module floor (a process that only loads the provider and @kubernetes/client-node):",
        "",
        memoryTable(records, runs.at(-1)?.moduleFloorRssMb),
        "",
        memorySlope(records),
        "",
        "The apiserver's metrics around each pre-pull (deltas; request counts and LIST sizes are the pre-pull's own, watch events are summed over every watcher, including the controllers, the scheduler and the simulator):",
        "",
        apiserverTable(records),
        "",
    ].join("\n");
}
