/**
 * The wait loop's decisions on a fake clock: tolerance windows, permanent failures, the timeout
 * and abandonment (one AbortSignal, told apart by its reason), batches, nodes that finish or drop
 * out, and progress. Each case runs in milliseconds; the cluster suites prove the wiring.
 */
import * as assert from "node:assert/strict";
import type { Event, Node, Pod } from "../../../components/rules/wire";
import { parseImageReference } from "../../../components/rules/references";
import { PROBLEM_TOLERANCE_SECONDS, waitForPresence, type WaitContext } from "../../../components/run/waiting";
import { nextBatch } from "../../../components/rules/batches";
import { makeNode, makePendingPod, makePod, type ContainerOutcome } from "../fixtures/nodes";

const UID = "uid-of-this-run";
const IMAGE = "docker.io/library/python:3.12";

/** A cluster that changes as the fake clock passes the times given. */
interface Timeline {
    nodes: (t: number) => Node[];
    pods?: (t: number) => Pod[];
    events?: (t: number) => Event[];
}

type LoopClock = WaitContext["clock"];

class FakeClock implements LoopClock {
    t = 0;
    sleeps: number[] = [];
    /** The loop's waits and its calls to the change signal, in order. */
    calls: string[] = [];
    /** The promise each wait was given to wake on, and each promise the change signal's next() gave. */
    wakes: Promise<void>[] = [];
    nexts: Promise<void>[] = [];
    constructor(private readonly onTick: (t: number) => void = () => undefined) {}
    now() {
        return this.t;
    }
    async sleep(ms: number, wake: Promise<void>, signal: AbortSignal) {
        this.sleeps.push(ms);
        this.wakes.push(wake);
        this.calls.push("sleep");
        this.t += ms;
        this.onTick(this.t);
        if (this.sleeps.length > 10_000 && !signal.aborted) throw new Error("the loop never ended");
    }
}

function ownPod(node: string, outcomes: ContainerOutcome[]): Pod {
    const pod = makePod(node, [IMAGE], outcomes);
    return { ...pod, metadata: { ...pod.metadata, ownerReferences: [{ uid: UID } as never] } };
}

function run(
    timeline: Timeline,
    options: {
        timeoutSeconds?: number;
        placement?: WaitContext["placement"];
        unschedulableNodes?: "skip" | "fail";
        daemonSetGone?: (t: number) => string | undefined;
    } = {},
) {
    const controller = new AbortController();
    const timeoutMs = (options.timeoutSeconds ?? 600) * 1000;
    const clock = new FakeClock((t) => {
        if (t >= timeoutMs && !controller.signal.aborted) {
            controller.abort(Object.assign(new Error("timeout"), { name: "TimeoutError" }));
        }
    });
    const lines: string[] = [];
    const watched = <T>(at: (t: number) => T[]) => ({
        list: () => at(clock.t),
        fatalError: () => undefined,
        trouble: () => undefined,
    });
    const result = waitForPresence({
        inputs: {
            namespace: "jhub",
            timeoutSeconds: options.timeoutSeconds ?? 600,
            pollIntervalSeconds: 2,
            unschedulableNodes: options.unschedulableNodes,
        },
        images: [parseImageReference(IMAGE)],
        constraints: {},
        nodes: watched(timeline.nodes),
        pods: watched(timeline.pods ?? (() => [])),
        events: watched(timeline.events ?? (() => [])),
        daemonSets: [{ uid: UID, name: "prepull-x" }],
        log: (line) => lines.push(line),
        clock,
        signal: controller.signal,
        changes: {
            next: () => {
                clock.calls.push("next");
                const next = new Promise<void>(() => undefined);
                clock.nexts.push(next);
                return next;
            },
            awake: () => {
                clock.calls.push("awake");
            },
        },
        placement: options.placement,
        daemonSetGone: options.daemonSetGone && (async () => options.daemonSetGone!(clock.t)),
    });
    return { result, clock, lines, controller };
}

const pullError: ContainerOutcome = { reason: "ErrImagePull", message: "registry blip" };

/** A pod of ours whose sandbox the runtime has (PodReadyToStartContainers=True) or has not yet created. */
function podWithSandbox(node: string, sandbox: boolean, outcome: ContainerOutcome): Pod {
    const pod = ownPod(node, [outcome]);
    return {
        ...pod,
        metadata: { ...pod.metadata, uid: `pod-${node}` },
        status: {
            ...pod.status,
            conditions: [{ type: "PodReadyToStartContainers", status: sandbox ? "True" : "False" }],
        },
    };
}

/** A Warning event; `version` stands for its resourceVersion, which changes whenever it is repeated. */
function warning(reason: string, about: { kind: string; uid: string }, version: number, message: string): Event {
    return {
        metadata: { name: `${about.uid}.${reason}`, resourceVersion: String(version) },
        involvedObject: { kind: about.kind, uid: about.uid },
        type: "Warning",
        reason,
        message,
        count: version,
    };
}

const SANDBOX_ERROR = "Failed to create pod sandbox: rpc error: code = Unknown desc = runc create failed";
const DENIED = 'Error creating: admission webhook "deny.example.com" denied the request: not yet';

/** maxParallelNodes as Placement does it: the batch moves to the nodes still missing images. */
function batchOf(size: number) {
    let batch: readonly string[] = [];
    return {
        move: async (missing: readonly string[]) => {
            const next = nextBatch(batch, missing, size);
            if (next.length > 0) batch = next;
        },
        current: () => batch,
    };
}

describe("the wait loop, on a fake clock", () => {
    it("a pull error that clears within the tolerance does not fail", async () => {
        const { result, clock } = run({
            nodes: () => [makeNode("a")],
            pods: (t) => [ownPod("a", [t < 20_000 ? pullError : t < 40_000 ? "waiting" : "completed"])],
        });
        assert.deepEqual((await result).eligibleNodes, ["a"]);
        assert.equal(clock.t, 40_000);
    });

    it("a pull error that persists fails once it has lasted the tolerance, naming node, image and reason", async () => {
        const { result, clock } = run({ nodes: () => [makeNode("a")], pods: () => [ownPod("a", [pullError])] });
        await assert.rejects(
            result,
            /node a: container pull-0 \(image docker.io\/library\/python:3.12\): ErrImagePull: registry blip/,
        );
        assert.equal(clock.t, PROBLEM_TOLERANCE_SECONDS * 1000);
    });

    it("an image without a variant for the node's platform names the node's os and arch and what to change", async () => {
        const noPlatform: ContainerOutcome = {
            reason: "ErrImagePull",
            message:
                'failed to pull and unpack image "docker.io/library/python:3.12": no match for platform in manifest: not found',
        };
        const arm = makeNode("arm", { labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64" } });
        const { result } = run({ nodes: () => [arm], pods: () => [ownPod("arm", [noPlatform])] });
        await assert.rejects(
            result,
            /no match for platform in manifest: not found \(the image has no variant for this node's platform, kubernetes\.io\/os=linux, kubernetes\.io\/arch=arm64: keep such nodes out with nodeSelector or affinity on kubernetes\.io\/arch/,
        );
    });

    describe("a registry's pull rate limit (Docker Hub's toomanyrequests) is waited out, not failed", () => {
        const limited: ContainerOutcome = {
            reason: "ImagePullBackOff",
            message:
                'Back-off pulling image "docker.io/library/python:3.12": ErrImagePull: failed to pull and unpack image "docker.io/library/python:3.12": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/python/manifests/sha256:0: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.',
        };

        it("past the tolerance, and the run ends when the limit lifts", async () => {
            const { result, lines, clock } = run({
                nodes: () => [makeNode("a")],
                pods: (t) => [ownPod("a", [t < 90_000 ? limited : "completed"])],
            });
            assert.deepEqual((await result).eligibleNodes, ["a"]);
            assert.equal(clock.t, 90_000);
            assert.ok(
                lines.some((l) => /toomanyrequests.*\(the registry's pull rate limit: waiting for it to lift/.test(l)),
                lines.join("\n"),
            );
        });

        it("until the timeout, which names the limit and, for the helper image, helperImage", async () => {
            const pod = ownPod("a", [limited]);
            pod.status!.initContainerStatuses![0]!.name = "install-noop";
            pod.spec!.initContainers![0]!.name = "install-noop";
            const { result } = run({ nodes: () => [makeNode("a")], pods: () => [pod] }, { timeoutSeconds: 120 });
            await assert.rejects(
                result,
                /timed out after 120s[^]*Problems at the end:\n {2}node a: container install-noop .*toomanyrequests.*point helperImage at a mirror/,
            );
        });
    });

    it("a permanent problem fails at the first look", async () => {
        const invalid: ContainerOutcome = { reason: "InvalidImageName", message: "bad" };
        const { result, clock } = run({ nodes: () => [makeNode("a")], pods: () => [ownPod("a", [invalid])] });
        await assert.rejects(result, /InvalidImageName/);
        assert.equal(clock.t, 0);
    });

    it("a problem that moves to another node starts its tolerance again", async () => {
        const { result } = run({
            nodes: () => [makeNode("a"), makeNode("b")],
            pods: (t) => [
                ownPod("a", [t < 20_000 ? pullError : "completed"]),
                ownPod("b", [t < 20_000 ? "waiting" : t < 45_000 ? pullError : "completed"]),
            ],
        });
        assert.deepEqual((await result).eligibleNodes, ["a", "b"]);
    });

    it("times out when the run's signal fires for its deadline, naming every node still missing images", async () => {
        const { result, clock } = run(
            {
                nodes: () => [makeNode("a"), makeNode("b", { images: [[IMAGE]] })],
                pods: () => [ownPod("a", ["waiting"])],
            },
            { timeoutSeconds: 10 },
        );
        await assert.rejects(
            result,
            /timed out after 10s; 1 of 2 eligible nodes still miss images .*\n {2}node a: docker.io\/library\/python:3.12/,
        );
        assert.equal(clock.t, 10_000);
    });

    it("stops as abandoned when the signal fires for any other reason", async () => {
        const { result, controller } = run({ nodes: () => [makeNode("a")] });
        controller.abort(new Error("the engine is gone"));
        await assert.rejects(result, /the pre-pull was abandoned/);
    });

    it("ignores pods of an earlier run (another DaemonSet's UID) as evidence", async () => {
        const foreign = makePod("a", [IMAGE], ["completed"]);
        const { result } = run(
            {
                nodes: () => [makeNode("a")],
                pods: () => [
                    { ...foreign, metadata: { ...foreign.metadata, ownerReferences: [{ uid: "old" } as never] } },
                ],
            },
            { timeoutSeconds: 6 },
        );
        await assert.rejects(result, /timed out after 6s/);
    });

    it("a node that finished stays done when its pod leaves the batch", async () => {
        const { result } = run({
            nodes: () => [makeNode("a"), makeNode("b")],
            pods: (t) =>
                t < 4000 ? [ownPod("a", ["completed"])] : [ownPod("b", [t < 8000 ? "waiting" : "completed"])],
        });
        assert.deepEqual((await result).eligibleNodes, ["a", "b"]);
    });

    it("a node that drops out (cordoned) leaves the wait, named with its cause in progress and the result", async () => {
        const { result, lines } = run({
            nodes: (t) => [makeNode("a", { images: [[IMAGE]] }), makeNode("b", { unschedulable: t >= 6000 })],
        });
        const done = await result;
        assert.deepEqual(done.eligibleNodes, ["a"]);
        assert.deepEqual(done.droppedNodes, { b: "cordoned" });
        assert.ok(
            lines.includes(
                "image-prepuller: node b left the eligible nodes before it held the images (cordoned); not counted as covered",
            ),
            lines.join("\n"),
        );
    });

    it("a node that is deleted, or turns NotReady, is named with that cause; one that comes back is waited for", async () => {
        const { result } = run({
            nodes: (t) => [
                ...(t < 4000 ? [makeNode("gone")] : []),
                makeNode("flaps", { ready: t < 4000 || t >= 8000, images: t >= 10_000 ? [[IMAGE]] : [] }),
                makeNode("sick", { ready: t < 4000 }),
                makeNode("ok", { images: t >= 2000 ? [[IMAGE]] : [] }),
                makeNode("slow", { images: t >= 12_000 ? [[IMAGE]] : [] }),
            ],
        });
        const done = await result;
        assert.deepEqual(done.eligibleNodes, ["flaps", "ok", "slow"]);
        assert.deepEqual(done.droppedNodes, { gone: "deleted", sick: "not-ready" });
    });

    it("fails when every eligible node dropped out before holding the images", async () => {
        const { result } = run({
            nodes: (t) => [makeNode("a", { unschedulable: t >= 4000 }), makeNode("b", { ready: t < 4000 })],
        });
        await assert.rejects(
            result,
            /every eligible node left before it held the images: a \(cordoned\), b \(not-ready\); nothing was pre-pulled/,
        );
    });

    it("asks the batch to move with the nodes still missing images, every round until done", async () => {
        const moves: string[][] = [];
        const { result } = run(
            {
                nodes: (t) => [
                    makeNode("a", { images: t >= 2000 ? [[IMAGE]] : [] }),
                    makeNode("b", { images: t >= 4000 ? [[IMAGE]] : [] }),
                ],
            },
            { placement: { move: async (missing) => void moves.push([...missing]), current: () => ["a", "b"] } },
        );
        await result;
        assert.deepEqual(moves, [["a", "b"], ["b"]]);
    });

    it("a sandbox warning stops counting once the pod's sandbox exists, however long the pull then takes", async () => {
        const sandboxWarning = warning("FailedCreatePodSandBox", { kind: "Pod", uid: "pod-a" }, 1, SANDBOX_ERROR);
        const { result, clock, lines } = run({
            nodes: () => [makeNode("a")],
            pods: (t) => [podWithSandbox("a", t >= 8000, t < 70_000 ? "waiting" : "completed")],
            events: () => [sandboxWarning],
        });
        assert.deepEqual((await result).eligibleNodes, ["a"]);
        assert.equal(clock.t, 70_000);
        assert.ok(
            lines.some((l) => /problems: node a: the pre-pull pod cannot start: FailedCreatePodSandBox/.test(l)),
            "the warning was shown while it was current",
        );
    });

    it("a sandbox warning of a pod that never gets its sandbox fails after the tolerance", async () => {
        const sandboxWarning = warning("FailedCreatePodSandBox", { kind: "Pod", uid: "pod-a" }, 1, SANDBOX_ERROR);
        const { result, clock } = run({
            nodes: () => [makeNode("a")],
            pods: () => [podWithSandbox("a", false, "waiting")],
            events: () => [sandboxWarning],
        });
        await assert.rejects(
            result,
            /node a: the pre-pull pod cannot start: FailedCreatePodSandBox: .*runc create failed/,
        );
        assert.equal(clock.t, PROBLEM_TOLERANCE_SECONDS * 1000);
    });

    it("a FailedCreate that cleared does not fail the run while maxParallelNodes keeps the other nodes without pods", async () => {
        // The webhook denied the first pod once; the controller's retry created it. Node b has
        // no pod for as long as a pulls (60 s), by design of the batch.
        const denied = warning("FailedCreate", { kind: "DaemonSet", uid: UID }, 1, DENIED);
        const { result, clock } = run(
            {
                nodes: (t) => [
                    makeNode("a", { images: t >= 60_000 ? [[IMAGE]] : [] }),
                    makeNode("b", { images: t >= 66_000 ? [[IMAGE]] : [] }),
                ],
                pods: (t) => (t >= 1000 && t < 60_000 ? [ownPod("a", ["waiting"])] : []),
                events: () => [denied],
            },
            { placement: batchOf(1) },
        );
        assert.deepEqual((await result).eligibleNodes, ["a", "b"]);
        assert.equal(clock.t, 66_000);
    });

    it("a FailedCreate that cleared does not fail the run while a large DaemonSet is still filling", async () => {
        const denied = warning("FailedCreate", { kind: "DaemonSet", uid: UID }, 1, DENIED);
        const { result } = run({
            nodes: (t) => [makeNode("a"), makeNode("b", { images: t >= 70_000 ? [[IMAGE]] : [] })],
            pods: (t) => [
                ownPod("a", [t < 70_000 ? "waiting" : "completed"]),
                ...(t >= 50_000 ? [ownPod("b", ["waiting"])] : []),
            ],
            events: () => [denied],
        });
        assert.deepEqual((await result).eligibleNodes, ["a", "b"]);
    });

    it("a FailedCreate that the controller keeps repeating fails after the tolerance, naming the cause", async () => {
        // Every retry bumps the event's count: a new version every 10 s.
        const { result, clock } = run({
            nodes: () => [makeNode("a")],
            events: (t) => [
                warning("FailedCreate", { kind: "DaemonSet", uid: UID }, 1 + Math.floor(t / 10_000), DENIED),
            ],
        });
        await assert.rejects(
            result,
            /the DaemonSet cannot create pre-pull pods: FailedCreate: admission webhook "deny\.example\.com" denied the request/,
        );
        assert.equal(clock.t, PROBLEM_TOLERANCE_SECONDS * 1000);
    });

    describe("a node whose pod cannot be scheduled (unschedulableNodes)", () => {
        const TOO_MANY =
            "0/2 nodes are available: 1 Too many pods, 1 node(s) didn't match Pod's node affinity/selector.";
        const full = (node: string): Pod => makePendingPod(node, TOO_MANY, { uid: UID });
        const timeline: Timeline = {
            nodes: (t) => [makeNode("full"), makeNode("ok", { images: t >= 60_000 ? [[IMAGE]] : [] })],
            pods: (t) => [full("full"), ownPod("ok", [t < 60_000 ? "waiting" : "completed"])],
        };

        it("skip (the default): skipped after the tolerance, named in progress and the result, not covered", async () => {
            const { result, lines, clock } = run(timeline);
            const done = await result;
            assert.deepEqual(done.eligibleNodes, ["ok"]);
            assert.deepEqual(Object.keys(done.skippedNodes), ["full"]);
            assert.match(done.skippedNodes.full!, /^Too many pods \(the node already runs its maximum number of pods/);
            assert.equal(clock.t, 60_000);
            const skipLine = lines.findIndex((l) =>
                /skipping node full: its pre-pull pod could not be scheduled for 30s/.test(l),
            );
            assert.ok(skipLine >= 0, lines.join("\n"));
            assert.ok(
                lines.slice(skipLine + 1).every((l) => !/waiting on full/.test(l)),
                "full is no longer waited for",
            );
        });

        it("skip: a skipped node leaves the batch, so the next node gets its slot", async () => {
            const moves: string[][] = [];
            const batch = batchOf(1);
            const { result } = run(
                {
                    nodes: (t) => [makeNode("a-full"), makeNode("b", { images: t >= 40_000 ? [[IMAGE]] : [] })],
                    pods: () => [full("a-full")],
                },
                {
                    placement: {
                        move: async (m) => void (moves.push([...m]), await batch.move(m)),
                        current: batch.current,
                    },
                },
            );
            const done = await result;
            assert.deepEqual(done.eligibleNodes, ["b"]);
            assert.deepEqual(moves.at(-1), ["b"]);
        });

        it("fail: the run fails after the tolerance, naming the node and the scheduler's reason", async () => {
            const { result, clock } = run(timeline, { unschedulableNodes: "fail" });
            await assert.rejects(result, /node full: the pre-pull pod cannot be scheduled: Too many pods/);
            assert.equal(clock.t, PROBLEM_TOLERANCE_SECONDS * 1000);
        });

        it("skip: a run in which no node could take the pod fails, naming each", async () => {
            const { result } = run({ nodes: () => [makeNode("full")], pods: () => [full("full")] });
            await assert.rejects(
                result,
                /no eligible node could take the pre-pull pod, so nothing was pre-pulled[^]*node full: the pre-pull pod cannot be scheduled: Too many pods/,
            );
        });

        it("a pod that is scheduled within the tolerance is waited for as usual", async () => {
            const { result } = run({
                nodes: (t) => [makeNode("busy", { images: t >= 50_000 ? [[IMAGE]] : [] })],
                pods: (t) => [t < 20_000 ? full("busy") : ownPod("busy", ["waiting"])],
            });
            const done = await result;
            assert.deepEqual(done.eligibleNodes, ["busy"]);
            assert.deepEqual(done.skippedNodes, {});
        });
    });

    it("a DaemonSet deleted by someone else ends the run at the next read-back, naming that", async () => {
        const reads: number[] = [];
        const { result, clock } = run(
            { nodes: () => [makeNode("a")], pods: () => [ownPod("a", ["waiting"])] },
            {
                daemonSetGone: (t) => {
                    reads.push(t);
                    return t >= 15_000 ? "jhub/prepull-x was deleted" : undefined;
                },
            },
        );
        await assert.rejects(
            result,
            /the DaemonSet jhub\/prepull-x was deleted while 1 of 1 eligible nodes still missed images; something other than this pre-pull removed it/,
        );
        assert.deepEqual(reads, [0, 10_000, 20_000]);
        assert.equal(clock.t, 20_000);
    });

    it("tells the placement every round which selected nodes to keep the pods off (cordoned, not ready, pressured)", async () => {
        const keptOut: string[][] = [];
        const pressure = { key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" as const };
        const gpu = { key: "example.com/gpu", effect: "NoSchedule" as const };
        const { result } = run(
            {
                nodes: (t) => [
                    makeNode("a", { images: t >= 8000 ? [[IMAGE]] : [] }),
                    makeNode("b", { unschedulable: t >= 2000 }),
                    makeNode("c", { taints: t >= 4000 ? [pressure] : [] }),
                    // Kept off by its own taint, which the DaemonSet does not tolerate: not listed.
                    makeNode("d", { taints: [gpu] }),
                    makeNode("e", { ready: false }),
                    makeNode("w", { labels: { "kubernetes.io/os": "windows" } }),
                ],
            },
            {
                placement: {
                    move: async (_missing, keepOut) => void keptOut.push([...keepOut]),
                    current: () => undefined,
                },
            },
        );
        const done = await result;
        assert.deepEqual(done.eligibleNodes, ["a"]);
        assert.deepEqual(keptOut[0], ["e"]);
        assert.deepEqual(keptOut.at(-1), ["b", "c", "e"]);
    });

    it("prints progress at once, on change (at most every 2 s) and at least every 10 s", async () => {
        const { result, lines } = run({
            nodes: (t) => [
                makeNode("a", { images: t >= 30_000 ? [[IMAGE]] : [] }),
                makeNode("b", { images: t >= 4000 ? [[IMAGE]] : [] }),
            ],
        });
        await result;
        assert.deepEqual(lines, [
            "image-prepuller: 0/2 nodes ready; waiting on a (1/1 missing), b (1/1 missing)",
            "image-prepuller: 1/2 nodes ready; waiting on a (1/1 missing)",
            "image-prepuller: 1/2 nodes ready; waiting on a (1/1 missing)",
            "image-prepuller: 1/2 nodes ready; waiting on a (1/1 missing)",
        ]);
    });

    it("sleeps the poll interval between looks", async () => {
        const { result, clock } = run({ nodes: (t) => [makeNode("a", { images: t >= 6000 ? [[IMAGE]] : [] })] });
        await result;
        assert.deepEqual(clock.sleeps, [2000, 2000, 2000]);
    });

    it("asks for the next watched change before every wait and tells the signal it woke after it", async () => {
        // A change that arrives while the loop decides is kept only if awake() follows every wait.
        const { result, clock } = run({ nodes: (t) => [makeNode("a", { images: t >= 6000 ? [[IMAGE]] : [] })] });
        await result;
        assert.deepEqual(clock.calls, Array(3).fill(["next", "sleep", "awake"]).flat());
    });

    it("wakes each wait at the change the signal's next() promised for it", async () => {
        const { result, clock } = run({ nodes: (t) => [makeNode("a", { images: t >= 6000 ? [[IMAGE]] : [] })] });
        await result;
        assert.equal(clock.wakes.length, 3);
        clock.wakes.forEach((wake, i) => assert.equal(wake, clock.nexts[i], `wait ${i + 1}`));
    });
});
