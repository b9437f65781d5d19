import * as assert from "node:assert/strict";
import type { Event, Pod } from "../../../components/rules/wire";
import { creationProblems, schedulerReasons, targetNode, unschedulablePods } from "../../../components/rules/problems";
import { podProblemsFor } from "../../../components/run/waiting";
import { makePendingPod } from "../fixtures/nodes";

const dsUid = "5f0c2a5e-0000-4000-8000-000000000001";
const ownedByDaemonSet = [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "prepull-x", uid: dsUid }];

/** A FailedCreate event as the DaemonSet controller records it (controller_utils.go, RealPodControl). */
function failedCreate(message: string, at: string, uid = dsUid): Event {
    return {
        metadata: { name: "prepull-x.18a5c3f2b7e4d9c1", namespace: "jhub" },
        involvedObject: { kind: "DaemonSet", name: "prepull-x", uid },
        type: "Warning",
        reason: "FailedCreate",
        message: `Error creating: ${message}`,
        lastTimestamp: at,
    };
}

/** A DaemonSet pod the scheduler could not place, pinned to `node` by its affinity. */
function pendingPod(node: string, schedulerMessage: string): Pod {
    return makePendingPod(node, schedulerMessage, ownedByDaemonSet[0]!);
}

describe("problems: why pre-pull pods do not appear or do not start", () => {
    describe("the scheduler's reasons, without the affinity mismatch of every other node", () => {
        const table: [string, string[]][] = [
            [
                "0/5 nodes are available: 1 Too many pods, 4 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 1 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.",
                ["Too many pods"],
            ],
            [
                "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
                ["Insufficient cpu", "Insufficient memory"],
            ],
            [
                "0/2 nodes are available: 1 node(s) had untolerated taint {example.com/gpu: true}, 1 node(s) didn't match Pod's node affinity/selector.",
                ["node(s) had untolerated taint {example.com/gpu: true}"],
            ],
            ["0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.", []],
            ["something else entirely", []],
        ];
        for (const [message, reasons] of table) {
            it(message.slice(0, 70), () => assert.deepEqual(schedulerReasons(message), reasons));
        }
    });

    it("a pending pod names its node, the scheduler's reason and what to change", () => {
        const problems = unschedulablePods([
            pendingPod(
                "user-1",
                "0/4 nodes are available: 1 Too many pods, 3 node(s) didn't match Pod's node affinity/selector.",
            ),
        ]);
        assert.equal(problems.length, 1);
        assert.equal(problems[0]!.node, "user-1");
        assert.match(problems[0]!.message, /^Too many pods/);
        assert.match(problems[0]!.message, /maxPods/);
    });

    it("a scheduled pod, or one scheduled but not yet bound, is not a scheduling problem", () => {
        const bound = pendingPod("a", "0/1 nodes are available: 1 Too many pods.");
        bound.spec!.nodeName = "a";
        const scheduled = pendingPod("b", "");
        scheduled.status!.conditions = [{ type: "PodScheduled", status: "True" }];
        assert.deepEqual(unschedulablePods([bound, scheduled]), []);
    });

    it("targetNode reads the node from spec.nodeName or the DaemonSet's matchFields", () => {
        assert.equal(targetNode(pendingPod("n1", "")), "n1");
        assert.equal(targetNode({ spec: { nodeName: "n2", containers: [] } }), "n2");
        assert.equal(targetNode({ spec: { containers: [] } }), undefined);
    });

    it("FailedCreate events of our DaemonSet, newest first, each message once, with a hint", () => {
        const events = [
            failedCreate(
                'pods "prepull-x-abcde" is forbidden: no PriorityClass with name missing was found',
                "2026-12-01T10:00:00Z",
            ),
            failedCreate(
                'pods "prepull-x-fghij" is forbidden: no PriorityClass with name missing was found',
                "2026-12-01T10:00:05Z",
            ),
            failedCreate(
                'pods "prepull-x-klmno" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1',
                "2026-12-01T10:00:09Z",
            ),
            failedCreate("not ours", "2026-12-01T10:00:10Z", "another-uid"),
            { ...failedCreate("normal", "2026-12-01T10:00:11Z"), type: "Normal" },
        ];
        const problems = creationProblems(events, dsUid);
        assert.deepEqual(
            problems.map((p) => p.reason),
            ["FailedCreate", "FailedCreate"],
        );
        assert.match(problems[0]!.message, /exceeded quota.*ResourceQuota/);
        assert.match(problems[1]!.message, /no PriorityClass with name missing.*create that PriorityClass/);
    });

    it("FailedCreate counts only while a node that misses images has no pod", () => {
        const events = [
            failedCreate('admission webhook "deny.example.com" denied the request: no', "2026-12-01T10:00:00Z"),
        ];
        const withPods: Pod[] = [
            { metadata: { ownerReferences: ownedByDaemonSet }, spec: { nodeName: "a", containers: [] } },
        ];
        assert.equal(podProblemsFor(withPods, events, [dsUid], ["a"]).length, 0);
        const found = podProblemsFor(withPods, events, [dsUid], ["a", "b"]);
        assert.equal(found.length, 1);
        assert.match(found[0]!.message, /webhook/);
    });

    it("with several DaemonSets (parallelPulls), a FailedCreate counts while a node lacks a pod of that DaemonSet", () => {
        const secondUid = "5f0c2a5e-0000-4000-8000-000000000002";
        const events = [
            failedCreate(
                'pods "prepull-x-p2-abcde" is forbidden: exceeded quota: pods',
                "2026-12-01T10:00:00Z",
                secondUid,
            ),
        ];
        const firstOnly: Pod[] = [
            { metadata: { ownerReferences: ownedByDaemonSet }, spec: { nodeName: "a", containers: [] } },
        ];
        // Node a has the first DaemonSet's pod but not the second's: the second's FailedCreate is current.
        const found = podProblemsFor(firstOnly, events, [dsUid, secondUid], ["a"]);
        assert.equal(found.length, 1);
        assert.match(found[0]!.message, /exceeded quota/);
        const both: Pod[] = [
            ...firstOnly,
            {
                metadata: { ownerReferences: [{ ...ownedByDaemonSet[0]!, name: "prepull-x-p2", uid: secondUid }] },
                spec: { nodeName: "a", containers: [] },
            },
        ];
        assert.equal(podProblemsFor(both, events, [dsUid, secondUid], ["a"]).length, 0);
    });
});
