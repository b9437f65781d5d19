/**
 * Time as a run sees it: the system's in a run, a fake one in unit tests. The wait loop reads the
 * time and sleeps (waiting.ts); the change signal schedules the end of its cooling
 * (change-signal.ts).
 */
export interface Clock {
    now(): number;
    /** Resolves after `ms`, or sooner when `wake` resolves or `signal` fires. */
    sleep(ms: number, wake: Promise<void>, signal: AbortSignal): Promise<void>;
    /** Runs `run` after `ms`; the returned function cancels it. */
    schedule(run: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
    now: () => Date.now(),
    sleep: (ms, wake, signal) =>
        new Promise<void>((resolve) => {
            // Declared before `done` uses it: Pulumi's closure serializer cannot follow a use before the declaration.
            let timer: NodeJS.Timeout | undefined = undefined;
            const done = () => {
                clearTimeout(timer);
                signal.removeEventListener("abort", done);
                resolve();
            };
            timer = setTimeout(done, ms);
            signal.addEventListener("abort", done, { once: true });
            void wake.then(done);
        }),
    schedule: (run, ms) => {
        const timer = setTimeout(run, ms);
        return () => clearTimeout(timer);
    },
};
