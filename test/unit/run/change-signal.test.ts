/**
 * The wait loop's wake-ups (components/run/change-signal.ts), on a hand-driven schedule: which
 * changes wake the loop at once, which wait for the cooling to end, and that none is lost.
 */
import * as assert from "node:assert/strict";
import { changeSignal } from "../../../components/run/change-signal";
import type { Clock } from "../../../components/run/clock";

/** A schedule whose timers run only when the test says so. */
function manualSchedule(): { schedule: Clock["schedule"]; pending: () => number; runAll: () => void } {
    const timers = new Set<() => void>();
    return {
        schedule: (run) => {
            timers.add(run);
            return () => timers.delete(run);
        },
        pending: () => timers.size,
        runAll: () => {
            const due = [...timers];
            timers.clear();
            for (const run of due) run();
        },
    };
}

/** A change signal cooling for 100 ms on a schedule the test runs by hand. */
function signalOnManualSchedule() {
    const timers = manualSchedule();
    return { timers, changes: changeSignal(100, { schedule: timers.schedule }) };
}

/** Whether `promise` has resolved once the microtasks queued so far have run. */
async function settled(promise: Promise<void>): Promise<boolean> {
    let done = false;
    void promise.then(() => (done = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    return done;
}

describe("the wait loop's change signal", () => {
    it("wakes a waiting loop at the first change, without waiting for a timer", async () => {
        const { changes } = signalOnManualSchedule();
        const wait = changes.next();
        assert.equal(await settled(wait), false, "woke without a change");
        changes.notify();
        assert.equal(await settled(wait), true, "the first change after a quiet spell did not wake the loop at once");
        changes.stop();
    });

    it("coalesces the changes of the cooling into one wake-up at its end", async () => {
        const { timers, changes } = signalOnManualSchedule();
        const first = changes.next();
        changes.notify();
        assert.equal(await settled(first), true);
        changes.awake();
        const second = changes.next();
        changes.notify();
        changes.notify();
        assert.equal(await settled(second), false, "woke again within the cooling");
        timers.runAll();
        assert.equal(await settled(second), true, "the changes of the cooling were lost");
        changes.awake();
        // Nothing changed since: the next cooling ends without a wake-up.
        const third = changes.next();
        timers.runAll();
        assert.equal(await settled(third), false, "woke without a change");
        changes.stop();
    });

    it("keeps a change that came while the loop was deciding for its next wait", async () => {
        const { changes } = signalOnManualSchedule();
        // The loop's previous wait ended at its poll interval, not at a change.
        void changes.next();
        changes.awake();
        changes.notify();
        assert.equal(await settled(changes.next()), true, "a change made while deciding was lost");
        changes.stop();
    });

    it("schedules nothing once stopped", async () => {
        const { timers, changes } = signalOnManualSchedule();
        const wait = changes.next();
        changes.notify();
        await settled(wait);
        assert.equal(timers.pending(), 1);
        changes.stop();
        assert.equal(timers.pending(), 0, "the cooling timer outlived stop()");
        changes.notify();
        assert.equal(timers.pending(), 0);
    });
});
