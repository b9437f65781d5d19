import * as assert from "node:assert/strict";
import { prePullProvider } from "../../../components/pulumi/provider";
import { unreachableKubeconfig } from "../fixtures/kubeconfig";
import type { PrePullInputs } from "../../../components/rules/inputs";

async function checked(news: Record<string, unknown>, olds: Record<string, unknown> = {}): Promise<PrePullInputs> {
    const { inputs, failures } = await prePullProvider.check!(olds, news);
    assert.deepEqual(failures, []);
    return inputs as PrePullInputs;
}

const outputsOf = (inputs: PrePullInputs) => ({
    ...inputs,
    nodes: ["a"],
    skipped: false,
    durationSeconds: 3,
    missingNodes: {},
});

describe("provider diff and update (offline)", () => {
    // An unreachable kubeconfig: any cluster call from these methods would fail the test.
    const unreachable = unreachableKubeconfig;

    it("unchanged inputs (in another spelling) are no change", async () => {
        const olds = outputsOf(await checked({ images: ["python:3.12"], kubeconfig: unreachable }));
        const news = await checked({ images: ["docker.io/library/python:3.12"], kubeconfig: unreachable }, olds);
        const diff = await prePullProvider.diff!("default/x", olds, news);
        assert.equal(diff.changes, false);
    });

    it("changed images or scheduling are an in-place update, never a replacement", async () => {
        const olds = outputsOf(await checked({ images: ["python:3.12"] }));
        for (const change of [
            { images: ["python:3.13"] },
            { nodeSelector: { a: "b" } },
            { tolerations: [{ operator: "Exists" }] },
        ]) {
            const news = await checked({ images: ["python:3.12"], ...change }, olds);
            const diff = await prePullProvider.diff!("default/x", olds, news);
            assert.equal(diff.changes, true, JSON.stringify(change));
            assert.deepEqual(diff.replaces, []);
        }
    });

    it("a rotated token (same server and CA) is recorded without re-pulling or calling the cluster", async () => {
        const olds = outputsOf(await checked({ images: ["python:3.12"], kubeconfig: unreachable }));
        const rotated = unreachable.replace("token: t", "token: rotated");
        const news = await checked({ images: ["python:3.12"], kubeconfig: rotated }, olds);
        assert.equal(news.clusterIdentity, olds.clusterIdentity);
        assert.equal((await prePullProvider.diff!("default/x", olds, news)).changes, true);
        const result = await prePullProvider.update!("default/x", olds, news);
        assert.equal(result.outs.kubeconfig, rotated);
        assert.deepEqual(result.outs.nodes, ["a"]);
    });

    it("a kubeconfig or context that points at another cluster is a pull change", async () => {
        const twoClusters = unreachable
            .replace(
                "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
                "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}, {name: d, cluster: {server: 'https://127.0.0.1:2'}}]",
            )
            .replace(
                "contexts: [{name: ctx, context: {cluster: c, user: u}}]",
                "contexts: [{name: ctx, context: {cluster: c, user: u}}, {name: other, context: {cluster: d, user: u}}]",
            );
        const olds = outputsOf(await checked({ images: ["python:3.12"], kubeconfig: twoClusters, context: "ctx" }));
        for (const news of [
            await checked({ images: ["python:3.12"], kubeconfig: twoClusters, context: "other" }, olds),
            await checked(
                { images: ["python:3.12"], kubeconfig: unreachable.replace("127.0.0.1:1", "127.0.0.1:2") },
                olds,
            ),
        ]) {
            assert.notEqual(news.clusterIdentity, olds.clusterIdentity);
            assert.equal((await prePullProvider.diff!("default/x", olds, news)).changes, true);
            // The update pulls: it goes to the (unreachable) new cluster instead of recording.
            await assert.rejects(
                prePullProvider.update!("default/x", olds, { ...news, timeoutSeconds: 3 }),
                /list nodes/,
            );
        }
    });

    it("a kubeconfig given where the ambient one was used before is recorded (its cluster is unknown)", async () => {
        const olds = outputsOf(await checked({ images: ["python:3.12"] }));
        const news = await checked({ images: ["python:3.12"], kubeconfig: unreachable, timeoutSeconds: 900 }, olds);
        const diff = await prePullProvider.diff!("default/x", olds, news);
        assert.equal(diff.changes, true);
        const result = await prePullProvider.update!("default/x", olds, news);
        assert.equal(result.outs.kubeconfig, unreachable);
        assert.equal(result.outs.timeoutSeconds, 900);
        assert.deepEqual(result.outs.nodes, ["a"]);
    });

    it("drift found by refresh makes the next up an update", async () => {
        const inputs = await checked({ images: ["python:3.12"] });
        const olds = { ...outputsOf(inputs), missingNodes: { "node-9": ["docker.io/library/python:3.12"] } };
        const diff = await prePullProvider.diff!("default/x", olds, await checked({ images: ["python:3.12"] }, olds));
        assert.equal(diff.changes, true);
    });

    it("delete does nothing for state that names no owner (from a much older version)", async () => {
        await prePullProvider.delete!("legacy-id", {});
    });

    it("continuous, maxParallelNodes, parallelPulls and policy changes are recorded without re-pulling or calling the cluster", async () => {
        const olds = outputsOf(await checked({ images: ["python:3.12"], kubeconfig: unreachable }));
        for (const change of [
            { continuous: true },
            { maxParallelNodes: 3 },
            { parallelPulls: 3 },
            { unschedulableNodes: "fail" },
            { deleteUnreachable: true },
            { nodeStatusMaxImages: 100 },
        ]) {
            const news = await checked({ images: ["python:3.12"], kubeconfig: unreachable, ...change }, olds);
            assert.equal((await prePullProvider.diff!("default/x", olds, news)).changes, true, JSON.stringify(change));
            const result = await prePullProvider.update!("default/x", olds, news);
            assert.deepEqual(result.outs.nodes, ["a"]);
        }
    });
});

describe("delete when the cluster cannot be reached (deleteUnreachable)", function () {
    this.timeout(60_000);
    const unreachableState = (extra: Record<string, unknown> = {}) => ({
        images: ["docker.io/library/python:3.12"],
        namespace: "jhub",
        ownerId: "prepull-gone",
        kubeconfig: unreachableKubeconfig,
        ...extra,
    });

    it("fails without it, and removes from state with a warning with it (input or environment)", async () => {
        const lines: string[] = [];
        const original = console.log;
        console.log = (...args: unknown[]) => void lines.push(args.join(" "));
        const previous = process.env.PULUMI_K8S_DELETE_UNREACHABLE;
        const attempt = (owner: string, extra: Record<string, unknown> = {}) =>
            prePullProvider.delete!(`jhub/${owner}`, unreachableState({ ownerId: owner, ...extra })).then(
                () => undefined,
                (e: Error) => e,
            );
        try {
            const [without, withInput, missingFile] = await Promise.all([
                attempt("prepull-without"),
                attempt("prepull-input", { deleteUnreachable: true }),
                attempt("prepull-file", { deleteUnreachable: true, kubeconfig: "/nonexistent/kubeconfig" }),
            ]);
            assert.ok(without instanceof Error, "a delete without deleteUnreachable must fail");
            assert.match(without.message, /list daemonsets in namespace "jhub" failed/);
            assert.equal(withInput, undefined, String(withInput));
            assert.equal(missingFile, undefined, String(missingFile));
            process.env.PULUMI_K8S_DELETE_UNREACHABLE = "true";
            assert.equal(await attempt("prepull-environment"), undefined);
        } finally {
            console.log = original;
            if (previous === undefined) delete process.env.PULUMI_K8S_DELETE_UNREACHABLE;
            else process.env.PULUMI_K8S_DELETE_UNREACHABLE = previous;
        }
        for (const owner of ["prepull-input", "prepull-file", "prepull-environment"]) {
            assert.ok(
                lines.some((l) =>
                    new RegExp(
                        `warning: the cluster cannot be reached .*removing jhub/${owner} from the state without deleting anything \\(deleteUnreachable\\)`,
                    ).test(l),
                ),
                `${owner}:\n${lines.join("\n")}`,
            );
        }
        assert.ok(!lines.some((l) => /prepull-without/.test(l) && /warning/.test(l)));
    });

    it("check rejects a deleteUnreachable that is not a boolean", async () => {
        const { failures } = await prePullProvider.check!({}, { images: ["python"], deleteUnreachable: "yes" });
        assert.equal(failures?.[0]?.property, "deleteUnreachable");
        assert.match(failures?.[0]?.reason ?? "", /must be true or false/);
    });
});
