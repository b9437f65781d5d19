/**
 * Wakes the wait loop when a watch reports a change: at once for the first change after a quiet
 * spell, then at most once per `coolMs` while changes keep coming (a burst of events becomes one
 * wake-up at the end of the cooling). A change that arrives while the loop is deciding, not
 * waiting, is kept for its next wait, which then ends at once: it is never lost to the poll.
 */
import type { Clock } from "./clock";

export interface ChangeSignal {
    /** A watch saw a change. */
    notify(): void;
    /** Resolves when there is a change the loop has not been woken for (see above). */
    next(): Promise<void>;
    /**
     * The loop stopped waiting (its poll interval ended, or the wake-up came): until its next
     * `next()`, changes are kept for it rather than handed to a wait nobody is in.
     */
    awake(): void;
    /** Forgets the pending change and the loop waiting; nothing is scheduled after this. */
    stop(): void;
}

// A factory, not a class with field initializers: Pulumi's closure serializer, which inlines this
// code into state inside this repository, drops class field initializers.
export function changeSignal(coolMs: number, clock: Pick<Clock, "schedule">): ChangeSignal {
    let pending = false;
    let waiting: (() => void) | undefined = undefined;
    let cancelCooling: (() => void) | undefined = undefined;
    const wake = (): void => {
        if (!pending || !waiting || cancelCooling) return;
        const resolve = waiting;
        pending = false;
        waiting = undefined;
        cancelCooling = clock.schedule(() => {
            cancelCooling = undefined;
            wake();
        }, coolMs);
        resolve();
    };
    return {
        notify: () => {
            pending = true;
            wake();
        },
        next: () =>
            new Promise<void>((resolve) => {
                waiting = resolve;
                wake();
            }),
        awake: () => {
            waiting = undefined;
        },
        stop: () => {
            cancelCooling?.();
            cancelCooling = undefined;
            waiting = undefined;
            pending = false;
        },
    };
}
