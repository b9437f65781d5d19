/**
 * Holds V8's heap near what a run keeps alive, while a run is in progress. Two settings, each
 * read by V8 whenever it applies it, so that setting them at run time takes effect:
 *
 * - The young generation stays at the size it has when the run starts. V8 doubles its new space
 *   (16 -> 32 -> 64 MB per semi-space) each time the objects that survived scavenges since the
 *   last doubling add up to more than its capacity. A run survives much: every row of a watch
 *   lives until the next, for seconds. So a run of a few minutes grew the new space whatever its
 *   live heap (measured at 2,000 nodes: 43 MB of heap after a forced GC, yet heapTotal rising from
 *   103 to 183 MB in two doublings during the pods' reports), and the process kept it. Loading
 *   @pulumi/pulumi has already grown it to 16 MB per semi-space before any run; with the
 *   semi-space growth factor at 1, it stays there: scavenges come more often, each as short.
 * - The old generation grows by at most 10 % of what a full GC left before the next full GC.
 *   V8 chooses that factor from how fast it collects against how fast the program allocates, up
 *   to 4: a run's node list and watch events, promoted by scavenges while they are parsed, then
 *   piled up as garbage until the old generation reached four times its live size (at 2,000
 *   nodes, heap used rising to 114 MB, 44 MB after the full GC that finally came). With the
 *   factor at 1.1 (`--heap-growing-percent=10`), full GCs come every few MB of garbage; each takes
 *   some tens of milliseconds at a run's heap.
 *
 * The defaults are given back once no run of the process is in progress. A process started with
 * its own flags for one of the two (node arguments or NODE_OPTIONS) keeps that one as its owner
 * set it.
 */
import * as v8 from "node:v8";

/** V8's defaults (`node --v8-options`), given back after the last run. */
const DEFAULT_SEMI_SPACE_GROWTH_FACTOR = 2;
const DEFAULT_HEAP_GROWING_PERCENT = 0;
/** The old generation's growth between full GCs while held: 1 + 10 / 100. */
const HELD_HEAP_GROWING_PERCENT = 10;
const YOUNG_GENERATION_FLAGS =
    /--(max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|max[-_]heap[-_]size)\b/;
const OLD_GENERATION_FLAGS = /--heap[-_]growing[-_]percent\b/;

/**
 * The count of runs holding, kept on the process's global object and looked up at each call:
 * Pulumi's closure serializer gives each resource's provider its own copy of this module's
 * variables, while the heap is one per process.
 */
const HOLDS_KEY = "__pulumiImagePrepullerHeapHolds";
function holdsOfProcess(): { count: number } {
    const global = globalThis as unknown as Record<string, { count: number } | undefined>;
    return (global[HOLDS_KEY] ??= { count: 0 });
}

/** The V8 flags a hold sets, and those it gives back, for a process with these arguments. */
function heldFlags(ownFlags: string): { hold: string[]; release: string[] } {
    const hold: string[] = [];
    const release: string[] = [];
    if (!YOUNG_GENERATION_FLAGS.test(ownFlags)) {
        hold.push("--semi-space-growth-factor=1");
        release.push(`--semi-space-growth-factor=${DEFAULT_SEMI_SPACE_GROWTH_FACTOR}`);
    }
    if (!OLD_GENERATION_FLAGS.test(ownFlags)) {
        hold.push(`--heap-growing-percent=${HELD_HEAP_GROWING_PERCENT}`);
        release.push(`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
    }
    return { hold, release };
}

/**
 * Holds the heap until the returned function is called (once per hold; more calls do nothing).
 * Runs may overlap: the defaults are given back when the last of them releases.
 */
export function holdHeap(
    execArgv: readonly string[] = process.execArgv,
    nodeOptions: string = process.env.NODE_OPTIONS ?? "",
    setFlag: (flag: string) => void = (flag) => v8.setFlagsFromString(flag),
): () => void {
    const flags = heldFlags([...execArgv, nodeOptions].join(" "));
    const holds = holdsOfProcess();
    if (holds.count++ === 0) flags.hold.forEach(setFlag);
    let released = false;
    return () => {
        if (released) return;
        released = true;
        if (--holds.count === 0) flags.release.forEach(setFlag);
    };
}
