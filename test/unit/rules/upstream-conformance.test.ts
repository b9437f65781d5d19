/**
 * Agreement with upstream on every input: the test tables of distribution/reference, of Kubernetes'
 * component-helpers and k8s.io/api, and of the API's validation, carried as data in testdata/ and run
 * through our own functions. Each fixture names the repository, path and commit it was taken from,
 * and lists the upstream cases left out with the reason.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { isEligible, toleratesTaint, type SchedulingConstraints } from "../../../components/rules/eligibility";
import { normalizeInputs } from "../../../components/rules/inputs";
import type { V1Toleration } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Node, Taint } from "../../../components/rules/wire";
import { parseImageReference } from "../../../components/rules/references";

interface Fixture<Case> {
    source: { repository: string; path: string; commit: string };
    excluded: unknown[];
    cases: Case[];
}

interface ReferenceCase {
    name: string;
    input: string;
    valid: boolean;
    /** The String() upstream expects, before TagNameOnly. */
    normalized?: string;
    domain?: string;
    path?: string;
    /** As upstream reports it; null: none. */
    tag?: string | null;
    digest?: string | null;
    differsFromInput?: boolean;
}

interface NodeFacts {
    name?: string;
    labels?: Record<string, string>;
}

interface SchedulingCase {
    name: string;
    constraints?: SchedulingConstraints;
    node?: NodeFacts;
    match?: boolean;
    unchanged?: boolean;
    toleration?: V1Toleration;
    taint?: Taint;
    tolerations?: V1Toleration[];
    taints?: Taint[];
    taintFilter?: string | null;
    tolerated?: boolean;
    input?: Record<string, unknown>;
    valid?: boolean;
    fields?: string[];
}

function load<Case>(file: string): Fixture<Case> {
    return JSON.parse(readFileSync(path.join(__dirname, "..", "testdata", file), "utf8")) as Fixture<Case>;
}

/** TagNameOnly: a reference with neither tag nor digest gets the tag latest. */
function withDefaultTag(reference: string): string {
    const hasTag = reference.lastIndexOf(":") > reference.lastIndexOf("/");
    return hasTag || reference.includes("@") ? reference : `${reference}:latest`;
}

function checkReference(c: ReferenceCase): void {
    if (!c.valid) {
        assert.throws(() => parseImageReference(c.input), `expected ${JSON.stringify(c.input)} to be rejected`);
        return;
    }
    const ref = parseImageReference(c.input);
    if (c.normalized !== undefined) assert.equal(ref.normalized, withDefaultTag(c.normalized));
    if (c.domain !== undefined) assert.equal(ref.domain, c.domain);
    if (c.path !== undefined) assert.equal(ref.path, c.path);
    if (c.tag !== undefined) assert.equal(ref.tag, c.tag ?? (c.digest ? undefined : "latest"));
    if (c.digest !== undefined) assert.equal(ref.digest, c.digest ?? undefined);
    if (c.differsFromInput) assert.notEqual(`${ref.domain}/${ref.path}`, c.input);
}

/** A Ready, untainted node: only the constraints under test decide. */
function readyNode(facts: NodeFacts = {}): Node {
    return {
        metadata: { name: facts.name, labels: facts.labels },
        spec: {},
        status: { conditions: [{ type: "Ready", status: "True" }] },
    };
}

/** Failures name the element (tolerations[0], ...matchFields[0]) or the object holding it. */
function sameElement(ours: string, upstream: string): boolean {
    const element = (p: string) => p.slice(0, p.lastIndexOf("]") + 1 || p.length);
    const [a, b] = [element(ours), element(upstream.replace(/^spec\./, ""))];
    return a.startsWith(b) || b.startsWith(a);
}

function checkScheduling(c: SchedulingCase): void {
    if (c.match !== undefined) {
        assert.equal(isEligible(readyNode(c.node), c.constraints ?? {}), c.match);
    } else if (c.unchanged) {
        const before = structuredClone(c.constraints);
        isEligible(readyNode(c.node), c.constraints ?? {});
        assert.deepEqual(c.constraints, before);
    } else if (c.toleration && c.taint) {
        assert.equal(toleratesTaint(c.toleration, c.taint), c.tolerated);
    } else if (c.tolerations && c.taints) {
        const filter = c.taintFilter ?? "all";
        const applying = c.taints.filter((t) => filter === "all" || (filter !== "none" && t.effect === filter));
        const tolerated = applying.every((taint) => c.tolerations!.some((t) => toleratesTaint(t, taint)));
        assert.equal(tolerated, c.tolerated);
    } else if (c.input) {
        const { failures } = normalizeInputs({ images: ["python"], ...c.input }, undefined, () => "prepull-test");
        if (c.valid) {
            assert.deepEqual(failures, []);
        } else {
            assert.ok(failures.length > 0, "expected the input to be rejected");
            for (const field of c.fields ?? []) {
                assert.ok(
                    failures.some((f) => sameElement(f.property, field)),
                    `expected a failure on ${field}, got ${JSON.stringify(failures)}`,
                );
            }
        }
    } else {
        assert.fail(`case ${c.name} has no expectation this test knows`);
    }
}

const referenceFixtures = ["distribution-reference.reference_test.json", "distribution-reference.normalize_test.json"];
const schedulingFixtures = [
    "kubernetes-api.toleration_test.json",
    "component-helpers.helpers_test.json",
    "component-helpers.nodeaffinity_test.json",
    "kubernetes.validation_test.json",
];

describe("agreement with upstream", () => {
    let cases = 0;
    let excluded = 0;
    const run = <Case extends { name: string }>(file: string, check: (c: Case) => void) => {
        const fixture = load<Case>(file);
        const { repository, path: source, commit } = fixture.source;
        describe(`${repository}/${source}@${commit.slice(0, 12)}`, () => {
            for (const c of fixture.cases) {
                it(c.name, () => check(c));
            }
        });
        cases += fixture.cases.length;
        excluded += fixture.excluded.length;
    };
    for (const file of referenceFixtures) run<ReferenceCase>(file, checkReference);
    for (const file of schedulingFixtures) run<SchedulingCase>(file, checkScheduling);
    const tables = referenceFixtures.length + schedulingFixtures.length;

    after(() => {
        console.log(
            `      ${cases} upstream cases from ${tables} tables; ${excluded} exclusions listed in the fixtures`,
        );
    });
});
