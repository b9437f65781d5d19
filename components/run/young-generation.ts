/**
 * Holds V8's young generation at the size it has while a run is in progress.
 *
 * V8 doubles its new space (16 -> 32 -> 64 MB per semi-space) each time the objects that survived
 * scavenges since the last doubling add up to more than its capacity. A run survives much: every
 * row of a watch lives until the next, for seconds. So a run of a few minutes grows the new space
 * whatever its live heap (measured at 2,000 nodes: 43 MB of heap after a forced GC, yet heapTotal
 * rising from 103 to 183 MB in two doublings during the pods' reports), and the process keeps it.
 * Loading @pulumi/pulumi and @kubernetes/client-node has already grown it to 32 MB per semi-space
 * before any run; with the growth factor at 1 while a run is in progress, it stays there: scavenges
 * come more often, each as short.
 *
 * V8 reads the growth factor each time it would grow, so setting it at run time takes effect; the
 * default (2) is given back once no run of the process is in progress. A process started with
 * its own young-generation flags (node arguments or NODE_OPTIONS) is left as its owner set it.
 */
import * as v8 from "node:v8";

/** V8's default growth factor (`node --v8-options`), given back after the last run. */
const DEFAULT_GROWTH_FACTOR = 2;
const OWN_FLAGS =
    /--(max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|max[-_]heap[-_]size)\b/;

/**
 * The count of runs holding, kept on the process's global object and looked up at each call:
 * Pulumi's closure serializer gives each resource's provider its own copy of this module's
 * variables, while the young generation is one per process.
 */
const HOLDS_KEY = "__pulumiImagePrepullerYoungGenerationHolds";
function holdsOfProcess(): { count: number } {
    const global = globalThis as unknown as Record<string, { count: number } | undefined>;
    return (global[HOLDS_KEY] ??= { count: 0 });
}

/**
 * Holds the young generation until the returned function is called (once per hold; more calls do
 * nothing). Runs may overlap: the size is given back when the last of them releases.
 */
export function holdYoungGeneration(
    execArgv: readonly string[] = process.execArgv,
    nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): () => void {
    if ([...execArgv, nodeOptions].some((a) => OWN_FLAGS.test(a))) return () => undefined;
    const holds = holdsOfProcess();
    if (holds.count++ === 0) v8.setFlagsFromString("--semi-space-growth-factor=1");
    let released = false;
    return () => {
        if (released) return;
        released = true;
        if (--holds.count === 0) v8.setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
    };
}
