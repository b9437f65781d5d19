/**
 * Holds V8 to what a process that mostly waits needs, while a run is in progress. Each setting is
 * a flag V8 reads whenever it applies it, so that setting it at run time takes effect:
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
 * - No function is newly compiled by TurboFan, V8's top optimizing compiler; Maglev, the one
 *   below it, still compiles hot functions, and code TurboFan compiled before the run stays. A run
 *   parses watch events in native JSON.parse and spends its time waiting, yet its handlers get hot
 *   enough for TurboFan, which compiles on V8's worker threads: their memory (the compiler's own,
 *   held by the C library in per-thread arenas) and the part of node's binary that TurboFan runs
 *   stayed resident, about 25 MB at 2,000 nodes (bench/memory-timeline.ts). Turning Maglev off
 *   too saved about 4 MB more, but a 2,000-node run then took 14-17 s of CPU, against 11 s with
 *   Maglev and 9 s with both compilers.
 *
 * The defaults are given back once no run of the process is in progress. A process started with
 * its own flag for one of these (node arguments or NODE_OPTIONS) keeps that one as its owner set
 * it.
 */
import * as v8 from "node:v8";

/** One setting: the flags that mean its owner chose it, what a hold sets, what a release gives back. */
interface Setting {
    owned: RegExp;
    hold: string;
    /** V8's default (`node --v8-options`). */
    release: string;
}

/**
 * Any of these flags (names with dashes) as a process's owner may give them: with dashes or
 * underscores, optionally negated, then `=`, a space or the end.
 */
function flagPattern(...names: string[]): RegExp {
    return new RegExp(`--(?:no[-_])?(?:${names.map((n) => n.replace(/-/g, "[-_]")).join("|")})(?==|\\s|$)`);
}

const SETTINGS: readonly Setting[] = [
    {
        owned: flagPattern("max-semi-space-size", "min-semi-space-size", "semi-space-growth-factor", "max-heap-size"),
        hold: "--semi-space-growth-factor=1",
        release: "--semi-space-growth-factor=2",
    },
    // The old generation's growth between full GCs while held: 1 + 10 / 100.
    {
        owned: flagPattern("heap-growing-percent"),
        hold: "--heap-growing-percent=10",
        release: "--heap-growing-percent=0",
    },
    // `--opt` is V8's alias for `--turbofan`.
    { owned: flagPattern("turbofan", "opt", "jitless"), hold: "--no-turbofan", release: "--turbofan" },
];

/**
 * The count of runs holding, kept on the process's global object and looked up at each call:
 * Pulumi's closure serializer gives each resource's provider its own copy of this module's
 * variables, while V8 is one per process.
 */
const HOLDS_KEY = "__pulumiImagePrepullerV8Holds";
function holdsOfProcess(): { count: number } {
    const global = globalThis as unknown as Record<string, { count: number } | undefined>;
    return (global[HOLDS_KEY] ??= { count: 0 });
}

/**
 * Holds V8 until the returned function is called (once per hold; more calls do nothing). Runs may
 * overlap: the defaults are given back when the last of them releases.
 */
export function holdV8(
    execArgv: readonly string[] = process.execArgv,
    nodeOptions: string = process.env.NODE_OPTIONS ?? "",
    setFlag: (flag: string) => void = (flag) => v8.setFlagsFromString(flag),
): () => void {
    const ownFlags = [...execArgv, nodeOptions].join(" ");
    const settings = SETTINGS.filter((s) => !s.owned.test(ownFlags));
    const holds = holdsOfProcess();
    if (holds.count++ === 0) settings.forEach((s) => setFlag(s.hold));
    let released = false;
    return () => {
        if (released) return;
        released = true;
        if (--holds.count === 0) settings.forEach((s) => setFlag(s.release));
    };
}
