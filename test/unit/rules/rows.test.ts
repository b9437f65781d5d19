/**
 * Table rows (rules/rows.ts), replayed from a recorded watch: the apiserver printed a DaemonSet's
 * pods as rows while a second watch received the whole pods, so each row has the pod of the same
 * resourceVersion beside it (testdata/pod-rows.watch.json). The Pod a row stands for must give the
 * presence rules the same evidence as the whole pod, at every step.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { imagesStartedInPod } from "../../../components/rules/presence";
import { pullTimings } from "../../../components/rules/pull-report";
import { parseImageReference } from "../../../components/rules/references";
import {
    newObservation,
    nodeRowChange,
    nodeStatusCell,
    NODE_COLUMNS,
    observe,
    podDaemonSet,
    podFromRow,
    podProgress,
    POD_COLUMNS,
    rowSuffices,
    tableRows,
    type PodObservation,
    type PodTemplate,
    type Row,
} from "../../../components/rules/rows";
import type { Pod } from "../../../components/rules/wire";
import { makeNode } from "../fixtures/nodes";

interface RecordedEvent {
    type: string;
    table: unknown;
    pod?: Pod;
}
const recorded = JSON.parse(readFileSync(path.join(__dirname, "../testdata/pod-rows.watch.json"), "utf8")) as {
    events: RecordedEvent[];
};

function row(status: string, node = "node-1", name = "prepull-abc-x2b4z"): Row {
    return { metadata: { name }, cells: { Name: name, Status: status, Node: node } };
}

function templateOf(pod: Pod): PodTemplate {
    return {
        initContainers: (pod.spec?.initContainers ?? []).map((c) => ({ name: c.name, image: c.image })),
        containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image })),
    };
}

const evidence = (pod: Pod) =>
    imagesStartedInPod(pod)
        .map((i) => i.normalized)
        .sort();

describe("Table rows of pre-pull pods and nodes", () => {
    it("a recorded watch of rows gives, at every event, the evidence of the whole pod of the same version", () => {
        let columns: readonly string[] | undefined;
        const observations = new Map<string, PodObservation>();
        let compared = 0;
        let withEvidence = 0;
        recorded.events.forEach((event, i) => {
            const parsed = tableRows(event.table, columns, POD_COLUMNS, "default");
            columns = parsed.columns;
            if (event.type === "BOOKMARK" || !event.pod) return;
            assert.equal(parsed.rows.length, 1, `event ${i} is about one pod`);
            const r = parsed.rows[0]!;
            assert.equal(r.metadata.name, event.pod.metadata?.name);
            assert.equal(r.metadata.resourceVersion, event.pod.metadata?.resourceVersion);
            const template = templateOf(event.pod);
            const progress = podProgress(r);
            assert.ok(rowSuffices(progress, template.initContainers.length), `event ${i}: ${r.cells.Status}`);
            const observation = observe(
                observations.get(r.metadata.name) ?? newObservation(),
                progress,
                template.initContainers.length,
                i * 1000,
            );
            observations.set(r.metadata.name, observation);
            const synthesized = podFromRow(r, template, "uid", observation);
            assert.equal(synthesized.spec?.nodeName, event.pod.spec?.nodeName, `event ${i}: node`);
            assert.deepEqual(evidence(synthesized), evidence(event.pod), `event ${i} (${r.cells.Status})`);
            compared++;
            if (evidence(event.pod).length > 0) withEvidence++;
        });
        assert.ok(compared >= 20 && withEvidence >= 10, `${compared} events compared, ${withEvidence} with evidence`);
    });

    it("the recorded rows are a fraction of the whole pods' bytes", () => {
        const rowBytes = recorded.events.reduce((sum, e) => sum + JSON.stringify(e.table).length, 0);
        assert.ok(rowBytes < 15_000, `${rowBytes} bytes of rows for ${recorded.events.length} events`);
    });

    it("reads a pod's progress from its STATUS column as printPod writes it", () => {
        const cases: [string, ReturnType<typeof podProgress>][] = [
            ["Init:0/6", { kind: "init", completed: 0, of: 6 }],
            ["Init:5/6", { kind: "init", completed: 5, of: 6 }],
            ["PodInitializing", { kind: "initialized" }],
            ["ContainerCreating", { kind: "initialized" }],
            ["Running", { kind: "running" }],
            ["Pending", { kind: "pending" }],
            ["Terminating", { kind: "terminating" }],
            ["Init:ErrImagePull", { kind: "other", status: "Init:ErrImagePull" }],
            ["Init:ImagePullBackOff", { kind: "other", status: "Init:ImagePullBackOff" }],
            ["Init:CrashLoopBackOff", { kind: "other", status: "Init:CrashLoopBackOff" }],
            ["Init:ExitCode:1", { kind: "other", status: "Init:ExitCode:1" }],
            ["Init:Signal:9", { kind: "other", status: "Init:Signal:9" }],
            ["ErrImagePull", { kind: "other", status: "ErrImagePull" }],
            ["CreateContainerConfigError", { kind: "other", status: "CreateContainerConfigError" }],
            ["Evicted", { kind: "other", status: "Evicted" }],
            ["OutOfpods", { kind: "other", status: "OutOfpods" }],
            ["Unknown", { kind: "other", status: "Unknown" }],
            ["Completed", { kind: "other", status: "Completed" }],
        ];
        for (const [status, expected] of cases) assert.deepEqual(podProgress(row(status)), expected, status);
    });

    it("a row suffices unless it shows a problem or another count of init containers than the template", () => {
        assert.equal(rowSuffices(podProgress(row("Init:2/6")), 6), true);
        assert.equal(rowSuffices(podProgress(row("Init:2/7")), 6), false, "an injected init container");
        assert.equal(rowSuffices(podProgress(row("Init:ErrImagePull")), 6), false);
        assert.equal(rowSuffices(podProgress(row("Running")), 6), true);
    });

    it("evidence only grows: a terminating pod keeps what it showed, and a step back changes nothing", () => {
        let o = observe(newObservation(), podProgress(row("Init:3/4")), 4, 10);
        o = observe(o, podProgress(row("Init:1/4")), 4, 20);
        assert.equal(o.completed, 3);
        o = observe(o, podProgress(row("Terminating")), 4, 30);
        const pod = podFromRow(row("Terminating"), template(4), "uid", o);
        assert.ok(pod.metadata?.deletionTimestamp, "shown as being deleted");
        // The helper (busybox) and the first two pull containers ran.
        assert.deepEqual(evidence(pod), [
            "docker.io/library/busybox:1.37.0",
            "docker.io/library/img-1:1",
            "docker.io/library/img-2:1",
        ]);
    });

    it("times a pull only between two counts each reached in one step; a jump times nothing", () => {
        const images = ["img-1:1", "img-2:1", "img-3:1"].map((i) => parseImageReference(i));
        let o = newObservation();
        o = observe(o, podProgress(row("Init:0/4")), 4, 0);
        o = observe(o, podProgress(row("Init:1/4")), 4, 1_000); // the helper ended at 1 s
        o = observe(o, podProgress(row("Init:2/4")), 4, 6_000); // img-1: 1 s .. 6 s
        o = observe(o, podProgress(row("PodInitializing")), 4, 9_000); // img-2 and img-3 in one step
        const timings = pullTimings(podFromRow(row("PodInitializing"), template(4), "uid", o), images);
        assert.deepEqual(
            timings.map((t) => [t.image, (t.ended - t.began) / 1000]),
            [["docker.io/library/img-1:1", 5]],
        );
    });

    it("a pod shows no container states until the kubelet reported some", () => {
        const pod = podFromRow(row("Pending", "<none>"), template(2), "uid", newObservation());
        assert.equal(pod.spec?.nodeName, undefined);
        assert.equal(pod.status?.initContainerStatuses, undefined);
        assert.equal(pod.metadata?.ownerReferences?.[0]?.uid, "uid");
    });

    it("tells a pod's DaemonSet from its name, and no other DaemonSet's", () => {
        const names = ["prepull-abc", "prepull-abc-p2"];
        assert.equal(podDaemonSet("prepull-abc-x2b4z", names), "prepull-abc");
        assert.equal(podDaemonSet("prepull-abc-p2-x2b4z", names), "prepull-abc-p2");
        assert.equal(podDaemonSet("prepull-abcd-x2b4z", names), undefined);
        assert.equal(podDaemonSet("prepull-abc", names), undefined);
    });

    it("keeps the column names a watch sent with its first event for the events after", () => {
        const first = { columnDefinitions: NODE_COLUMNS.map((name) => ({ name })).reverse(), rows: [] };
        const { columns } = tableRows(first, undefined, NODE_COLUMNS);
        const later = tableRows(
            { metadata: { resourceVersion: "7" }, rows: [{ cells: [...NODE_COLUMNS].reverse().map((c) => `${c}!`) }] },
            columns,
            NODE_COLUMNS,
        );
        assert.equal(later.rows[0]!.cells.Status, "Status!");
        assert.equal(later.rows[0]!.metadata.resourceVersion, "7");
    });

    it("changes a node's readiness and cordon as its row shows them, and nothing else", () => {
        const node = makeNode("n", { labels: { pool: "user" }, taints: [{ key: "k", effect: "NoSchedule" }] });
        assert.equal(nodeStatusCell(node), "Ready");
        assert.equal(nodeRowChange(node, { metadata: { name: "n" }, cells: { Status: "Ready" } }), undefined);
        const cordoned = nodeRowChange(node, {
            metadata: { name: "n" },
            cells: { Status: "Ready,SchedulingDisabled" },
        })!;
        assert.equal(cordoned.spec?.unschedulable, true);
        assert.equal(nodeStatusCell(cordoned), "Ready,SchedulingDisabled");
        assert.deepEqual(cordoned.spec?.taints, node.spec?.taints);
        assert.deepEqual(cordoned.metadata?.labels, node.metadata?.labels);
        const notReady = nodeRowChange(node, { metadata: { name: "n" }, cells: { Status: "NotReady" } })!;
        assert.equal(nodeStatusCell(notReady), "NotReady");
        const unknown = nodeRowChange(node, { metadata: { name: "n" }, cells: { Status: "Unknown" } })!;
        assert.equal(nodeStatusCell(unknown), "Unknown");
        assert.deepEqual(unknown.status?.images, node.status?.images);
    });
});

/** A pod template with a helper and `count - 1` pull containers (img-1:1, ...). */
function template(count: number): PodTemplate {
    return {
        initContainers: Array.from({ length: count }, (_, i) =>
            i === 0
                ? { name: "install-noop", image: "busybox:1.37.0" }
                : { name: `pull-${i - 1}`, image: `img-${i}:1` },
        ),
        containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10" }],
    };
}
