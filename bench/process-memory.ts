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
