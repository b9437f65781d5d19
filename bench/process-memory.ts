/**
 * Peak resident memory of processes this process started indirectly (the Pulumi CLI and its
 * plugins), read from /proc: VmHWM is the kernel's own peak, so sampling only has to catch each
 * process before it exits.
 */
import { readdirSync, readFileSync } from "node:fs";

interface ProcessInfo {
    pid: number;
    parent: number;
    name: string;
}

function processes(): ProcessInfo[] {
    const found: ProcessInfo[] = [];
    for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            const close = stat.lastIndexOf(")");
            const name = stat.slice(stat.indexOf("(") + 1, close);
            const parent = Number(stat.slice(close + 2).split(" ")[1]);
            found.push({ pid: Number(entry), parent, name });
        } catch {
            // It exited while we looked.
        }
    }
    return found;
}

/**
 * A process's peak RSS (VmHWM, the high-water mark of its own address space). Not
 * `process.resourceUsage().maxRSS`: on Linux a child's maxRSS starts at its parent's RSS at the
 * fork (the kernel keeps the larger of the two across exec), so a bench child of a large parent
 * would report the parent's size.
 */
export function peakRssMb(pid: number): number | undefined {
    try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return match ? Math.round(Number(match[1]) / 1024) : undefined;
    } catch {
        return undefined;
    }
}

/** Samples the descendants of this process every `everyMs`; peaks by process name (comm, 15 characters). */
export function sampleDescendantPeaks(everyMs = 250): { peaks: Record<string, number>; stop(): void } {
    const peaks: Record<string, number> = {};
    const sample = () => {
        const all = processes();
        const mine = new Set([process.pid]);
        // Parents come before children often but not always: repeat until nothing is added.
        for (let grew = true; grew;) {
            grew = false;
            for (const p of all) {
                if (!mine.has(p.pid) && mine.has(p.parent)) {
                    mine.add(p.pid);
                    grew = true;
                }
            }
        }
        for (const p of all) {
            if (p.pid === process.pid || !mine.has(p.pid)) continue;
            const peak = peakRssMb(p.pid);
            if (peak !== undefined) peaks[p.name] = Math.max(peaks[p.name] ?? 0, peak);
        }
    };
    const timer = setInterval(sample, everyMs);
    return {
        peaks,
        stop() {
            clearInterval(timer);
            sample();
        },
    };
}

/** glibc gives each thread arena a 64 MB-aligned reservation (HEAP_MAX_SIZE on 64-bit). */
const ARENA_BYTES = 64n * 2n ** 20n;

/**
 * A process's resident memory by kind of mapping (MB), from /proc/PID/smaps: the C library's main
 * heap (`[heap]`, grown by brk), its per-thread arenas (anonymous mappings that start at a 64 MB
 * boundary and, with the reserved rest that follows, fill it), node's own binary, other files,
 * and the other anonymous memory (V8's heap pages among it).
 */
export function residentByKindMb(pid: number): Record<string, number> {
    const kinds: Record<string, number> = {
        mainHeap: 0,
        threadArenas: 0,
        nodeBinary: 0,
        otherFiles: 0,
        otherAnonymous: 0,
    };
    const maps: { start: bigint; end: bigint; reserved: boolean; name: string; kb: number }[] = [];
    for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
        const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
        if (header) {
            const [, start, end, perms, name] = header;
            maps.push({
                start: BigInt(`0x${start}`),
                end: BigInt(`0x${end}`),
                reserved: perms!.startsWith("---"),
                name: name!,
                kb: 0,
            });
        }
        const rss = /^Rss:\s+(\d+) kB/.exec(line);
        if (rss && maps.length) maps.at(-1)!.kb = Number(rss[1]);
    }
    maps.forEach((m, i) => {
        const next = maps[i + 1];
        const arenaEnd = next?.reserved && next.start === m.end && next.name === "" ? next.end : m.end;
        const kind =
            m.name === "[heap]"
                ? "mainHeap"
                : m.name === "" && m.start % ARENA_BYTES === 0n && arenaEnd - m.start === ARENA_BYTES
                  ? "threadArenas"
                  : /\/node$/.test(m.name)
                    ? "nodeBinary"
                    : m.name.startsWith("/")
                      ? "otherFiles"
                      : "otherAnonymous";
        kinds[kind]! += m.kb / 1024;
    });
    return Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}
