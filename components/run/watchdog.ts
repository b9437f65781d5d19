/**
 * Noticing that the Pulumi engine that started this provider is gone (a killed `pulumi up`): the
 * provider process would otherwise keep waiting, and later clean up, long after its run ended.
 * A provider host is started by the engine with the engine's address as its first argument; the
 * engine is gone when its address refuses connections or this process loses its parent.
 */
import * as net from "net";

/** How often the engine is looked for. */
const CHECK_INTERVAL_MS = 2000;
/** Consecutive failed checks before the engine counts as gone (a busy engine may answer slowly). */
const FAILED_CHECKS = 2;

/** The engine address this process was started with, if it is a provider host (`host:port` argument). */
export function engineAddress(argv: readonly string[] = process.argv): string | undefined {
    const entry = argv[1] ?? "";
    if (!/dynamic-provider|pulumi-resource-image-prepuller|provider[\\/]main/.test(entry)) return undefined;
    return argv.slice(2).find((a) => /^[\w.-]+:\d+$/.test(a) || /^\[[0-9a-f:]+\]:\d+$/i.test(a));
}

export interface EngineWatch {
    /** Rejects when the engine is gone; never resolves. */
    gone: Promise<never>;
    /** Whether `gone` has rejected. */
    fired(): boolean;
    stop(): void;
}

/** Watches the engine; without an engine address (tests calling the provider directly) it never fires. */
export function watchEngine(address: string | undefined = engineAddress()): EngineWatch {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let fired = false;
    const gone = new Promise<never>((_, reject) => {
        if (!address) return;
        const parent = process.ppid;
        let failures = 0;
        const check = () => {
            reachable(address).then((ok) => {
                if (stopped) return;
                failures = ok && process.ppid === parent ? 0 : failures + 1;
                if (failures >= FAILED_CHECKS) {
                    fired = true;
                    reject(
                        new Error(
                            `image-prepuller: the Pulumi engine that started this pre-pull (${address}) is gone (pulumi up was killed?); stopping and removing what this run created`,
                        ),
                    );
                    return;
                }
                timer = setTimeout(check, CHECK_INTERVAL_MS);
                timer.unref();
            });
        };
        timer = setTimeout(check, CHECK_INTERVAL_MS);
        timer.unref();
    });
    gone.catch(() => undefined); // observed by whoever races it; never an unhandled rejection
    return {
        gone,
        fired: () => fired,
        stop: () => {
            stopped = true;
            if (timer) clearTimeout(timer);
            timer = undefined;
        },
    };
}

function reachable(address: string): Promise<boolean> {
    const colon = address.lastIndexOf(":");
    const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
    const port = Number(address.slice(colon + 1));
    return new Promise((resolve) => {
        const socket = net.connect({ host, port });
        const done = (ok: boolean) => {
            socket.destroy();
            resolve(ok);
        };
        socket.setTimeout(1500, () => done(false));
        socket.once("connect", () => done(true));
        socket.once("error", () => done(false));
    });
}
