import * as assert from "node:assert/strict";
import {
    describePullReport,
    parsePulledMessage,
    pullReport,
    pullTimings,
    withEventSizes,
} from "../../../components/rules/pull-report";
import type { PullReport } from "../../../components/rules/public-types";
import { parseImageReference } from "../../../components/rules/references";
import type { Pod } from "../../../components/rules/wire";
import { makeNode } from "../fixtures/nodes";

const notebook = "quay.io/jupyter/scipy-notebook:2025-01-01";
const python = "docker.io/library/python:3.12";
const wanted = [notebook, python].map((i) => parseImageReference(i));

/** A pre-pull pod as the kubelet writes it: the helper, then one pull container per image, at these seconds. */
function timedPod(
    node: string,
    images: string[],
    at: { helperEnd?: number; starts: (number | undefined)[]; ends?: (number | undefined)[] },
): Pod {
    const iso = (s: number) => new Date(Date.UTC(2026, 11, 3, 12, 0, s)).toISOString().replace(".000Z", "Z");
    const terminated = (start: number, end: number) => ({
        terminated: { exitCode: 0, reason: "Completed", startedAt: iso(start), finishedAt: iso(end) },
    });
    return {
        metadata: { name: `prepull-${node}` },
        spec: {
            nodeName: node,
            initContainers: [
                { name: "install-noop", image: "docker.io/library/busybox:1.37.0" },
                ...images.map((image, i) => ({ name: `pull-${i}`, image })),
            ],
            containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10" }],
        },
        status: {
            initContainerStatuses: [
                {
                    name: "install-noop",
                    image: "",
                    imageID: "",
                    ready: false,
                    restartCount: 0,
                    state: at.helperEnd === undefined ? { waiting: {} } : terminated(0, at.helperEnd),
                },
                ...images.map((_, i) => {
                    const start = at.starts[i];
                    const end = at.ends?.[i];
                    return {
                        name: `pull-${i}`,
                        image: "",
                        imageID: "",
                        ready: false,
                        restartCount: 0,
                        state:
                            start === undefined
                                ? { waiting: { reason: "PodInitializing" } }
                                : end === undefined
                                  ? { running: { startedAt: iso(start) } }
                                  : terminated(start, end),
                    };
                }),
            ],
        },
    };
}

describe("the per-node pull report (times from the pods' timestamps, sizes from nodes and Pulled events)", () => {
    it("times each pull from the end of the container before it to its start", () => {
        const pod = timedPod("a", [notebook, "python:3.12"], {
            helperEnd: 2,
            starts: [40, 52],
            ends: [40, 52],
        });
        assert.deepEqual(
            pullTimings(pod, wanted).map((t) => [t.node, t.image, (t.ended - t.began) / 1000]),
            [
                ["a", notebook, 38],
                ["a", python, 12],
            ],
        );
    });

    it("a pull under way, or a container whose predecessor has not ended, is not timed yet", () => {
        const pulling = timedPod("a", [notebook, python], { helperEnd: 2, starts: [40, undefined], ends: [40] });
        assert.deepEqual(
            pullTimings(pulling, wanted).map((t) => t.image),
            [notebook],
        );
        assert.deepEqual(pullTimings(timedPod("a", [notebook], { starts: [undefined] }), wanted), []);
        // A kubelet that writes no times: nothing to report, no error.
        const untimed: Pod = { ...pulling, status: {} };
        assert.deepEqual(pullTimings(untimed, wanted), []);
    });

    it("per image: nodes, median and longest pull, the slowest node, and a listed size; the slowest nodes first", () => {
        const timings = [
            ...pullTimings(
                timedPod("a", [notebook, python], { helperEnd: 0, starts: [30, 40], ends: [30, 40] }),
                wanted,
            ),
            ...pullTimings(
                timedPod("b", [notebook, python], { helperEnd: 0, starts: [60, 64], ends: [60, 64] }),
                wanted,
            ),
            ...pullTimings(
                timedPod("c", [notebook, python], { helperEnd: 0, starts: [10, 11], ends: [10, 11] }),
                wanted,
            ),
        ];
        // Node c held python already: its pull container started at once, and is not a pull.
        const pulled = new Map([
            ["a", [notebook, python]],
            ["b", [notebook, python]],
            ["c", [notebook]],
        ]);
        const nodes = [makeNode("a", { images: [[notebook]] }), makeNode("b")];
        const report = pullReport(timings, pulled, nodes, wanted);
        assert.deepEqual(report.images[notebook], {
            nodes: 3,
            p50Seconds: 30,
            maxSeconds: 60,
            slowestNode: "b",
            sizeBytes: 1_000_000,
        });
        // No node lists python yet (the kubelet refreshes its list every 30 s): no size.
        assert.deepEqual(report.images[python], { nodes: 2, p50Seconds: 7, maxSeconds: 10, slowestNode: "a" });
        assert.deepEqual(report.slowestNodes, [
            { node: "b", seconds: 64 },
            { node: "a", seconds: 40 },
            { node: "c", seconds: 10 },
        ]);
        assert.equal(
            describePullReport(report),
            `pulls: slowest node b 64s; slowest image ${notebook}: p50 30s, max 60s on b (3 nodes)`,
        );
    });

    it("nothing pulled: an empty report and no line", () => {
        const report = pullReport([], new Map(), [], wanted);
        assert.deepEqual(report, { images: {}, slowestNodes: [] });
        assert.equal(describePullReport(report), "");
    });

    it("reads the kubelet's Pulled event in its wordings, and nothing else", () => {
        // v1.37, as the real node wrote it.
        assert.deepEqual(
            parsePulledMessage(
                'Successfully pulled image "127.0.0.1:38157/prepuller/private:1" in 4.08s (7.21s including waiting). Image size: 2277376 bytes.',
            ),
            { image: "127.0.0.1:38157/prepuller/private:1", seconds: 4.08, sizeBytes: 2277376 },
        );
        assert.deepEqual(
            parsePulledMessage(
                `Successfully pulled image "${python}" in 850ms (850ms including waiting). Image size: 1 bytes.`,
            ),
            {
                image: python,
                seconds: 0.85,
                sizeBytes: 1,
            },
        );
        assert.equal(
            parsePulledMessage(
                `Successfully pulled image "${notebook}" in 2m3.5s (2m3.5s including waiting). Image size: 9 bytes.`,
            )?.seconds,
            123.5,
        );
        // An older kubelet: no size, no waiting.
        assert.deepEqual(parsePulledMessage(`Successfully pulled image "${python}" in 1.5s`), {
            image: python,
            seconds: 1.5,
        });
        assert.equal(parsePulledMessage(`Container image "${python}" already present on machine`), undefined);
        assert.equal(parsePulledMessage('Successfully pulled image "x" in soon'), undefined);
    });

    it("fills in a size from the Pulled events only where no node listed the image", () => {
        const report: PullReport = {
            images: {
                [notebook]: { nodes: 1, p50Seconds: 3, maxSeconds: 3, slowestNode: "a", sizeBytes: 5 },
                [python]: { nodes: 1, p50Seconds: 3, maxSeconds: 3, slowestNode: "a" },
            },
            slowestNodes: [{ node: "a", seconds: 6 }],
        };
        withEventSizes(
            report,
            [
                `Successfully pulled image "quay.io/jupyter/scipy-notebook:2025-01-01" in 3s (3s including waiting). Image size: 999 bytes.`,
                `Successfully pulled image "python:3.12" in 3s (3s including waiting). Image size: 42 bytes.`,
                `Successfully pulled image "docker.io/library/busybox:1.37.0" in 1s (1s including waiting). Image size: 7 bytes.`,
            ],
            wanted,
        );
        assert.equal(report.images[notebook]!.sizeBytes, 5);
        assert.equal(report.images[python]!.sizeBytes, 42);
        assert.deepEqual(Object.keys(report.images).sort(), [python, notebook].sort());
    });
});
