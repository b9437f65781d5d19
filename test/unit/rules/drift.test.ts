import * as assert from "node:assert/strict";
import type { Node } from "../../../components/rules/wire";
import { unprovenAbsence } from "../../../components/rules/presence";
import { parseImageReference } from "../../../components/rules/references";
import { makeNode } from "../fixtures/nodes";

const wanted = parseImageReference("quay.io/jupyter/scipy-notebook:2025-03-14");
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const pulledAt = Date.parse("2026-12-01T10:00:00Z");

function withHeartbeat(node: Node, at: string): Node {
    node.status!.conditions = [{ type: "Ready", status: "True", lastHeartbeatTime: at }];
    return node;
}

describe("refresh: absence from status.images counts as drift only where the kubelet's report proves it", () => {
    it("a node that reports other images and wrote status long after the pull proves absence", () => {
        const node = withHeartbeat(
            makeNode("a", { images: [["docker.io/library/python:3.12"]] }),
            "2026-12-01T10:05:00Z",
        );
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50, pulledAt }), undefined);
    });

    it("a node that joined later (not covered by the pre-pull) proves absence at once", () => {
        const node = makeNode("late", { images: [["docker.io/library/python:3.12"]] });
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50 }), undefined);
    });

    it("a node at the 50-image cap proves nothing (it may hold more)", () => {
        const fifty = Array.from({ length: 50 }, (_, i) => [`registry.example.com/big/image-${i}:1`]);
        assert.equal(unprovenAbsence(makeNode("a", { images: fifty }), wanted, { maxReportedImages: 50 }), "list-full");
    });

    it("at the cap, an image larger than the smallest one listed would be listed: its absence is proven", () => {
        // makeNode gives the i-th image 1 MB x (i + 1): the smallest listed is 1 MB.
        const fifty = Array.from({ length: 50 }, (_, i) => [`registry.example.com/big/image-${i}:1`]);
        const node = makeNode("a", { images: fifty });
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50, wantedSizeBytes: 2_500_000 }), undefined);
        // Not larger than the smallest: it might be the 51st.
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50, wantedSizeBytes: 1_000_000 }), "list-full");
        // A size the kubelet did not report decides nothing.
        delete node.status!.images![0]!.sizeBytes;
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50, wantedSizeBytes: 2_500_000 }), "list-full");
    });

    it("the cap follows the kubelets' setting: a lower one, or -1 for none", () => {
        const ten = Array.from({ length: 10 }, (_, i) => [`registry.example.com/big/image-${i}:1`]);
        assert.equal(unprovenAbsence(makeNode("a", { images: ten }), wanted, { maxReportedImages: 10 }), "list-full");
        const many = Array.from({ length: 80 }, (_, i) => [`registry.example.com/big/image-${i}:1`]);
        assert.equal(unprovenAbsence(makeNode("a", { images: many }), wanted, { maxReportedImages: -1 }), undefined);
    });

    it("an image listed under the maximum of 5 names for the wanted repository may hide the wanted tag", () => {
        // RepoDigests first, then RepoTags, cut to 5: the 2025-03-14 tag is the 6th name.
        const names = [
            `quay.io/jupyter/scipy-notebook@${digest(1)}`,
            `quay.io/jupyter/scipy-notebook@${digest(2)}`,
            "quay.io/jupyter/scipy-notebook:2025-01-01",
            "quay.io/jupyter/scipy-notebook:2025-02-01",
            "quay.io/jupyter/scipy-notebook:2025-03-01",
        ];
        const node = makeNode("a", { images: [names] });
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50 }), "names-cut");
        // Four names cannot hide a fifth: the kubelet would have listed it.
        node.status!.images![0]!.names = names.slice(0, 4);
        assert.equal(unprovenAbsence(node, wanted, { maxReportedImages: 50 }), undefined);
    });

    it("a node covered by the pre-pull has not shown its new image list until it writes status 30 s after", () => {
        const soon = withHeartbeat(makeNode("a"), "2026-12-01T10:00:20Z");
        assert.equal(unprovenAbsence(soon, wanted, { maxReportedImages: 50, pulledAt }), "not-reported-yet");
        const never = makeNode("a");
        never.status!.conditions = [{ type: "Ready", status: "True" }];
        assert.equal(unprovenAbsence(never, wanted, { maxReportedImages: 50, pulledAt }), "not-reported-yet");
        const later = withHeartbeat(makeNode("a"), "2026-12-01T10:00:31Z");
        assert.equal(unprovenAbsence(later, wanted, { maxReportedImages: 50, pulledAt }), undefined);
    });
});
