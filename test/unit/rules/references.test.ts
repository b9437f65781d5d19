import * as assert from "node:assert/strict";
import { parseImageReference, referenceSatisfies } from "../../../components/rules/references";

describe("references", () => {
    describe("normalizes references the way container runtimes do", () => {
        const cases: [string, string][] = [
            ["python", "docker.io/library/python:latest"],
            ["python:3.12", "docker.io/library/python:3.12"],
            ["library/python", "docker.io/library/python:latest"],
            ["docker.io/python", "docker.io/library/python:latest"],
            ["index.docker.io/library/python:3", "docker.io/library/python:3"],
            ["jupyter/scipy-notebook:2024-01-15", "docker.io/jupyter/scipy-notebook:2024-01-15"],
            ["quay.io/jupyter/base-notebook", "quay.io/jupyter/base-notebook:latest"],
            ["localhost/app", "localhost/app:latest"],
            ["localhost:5000/team/app:v1", "localhost:5000/team/app:v1"],
            ["registry.example.com:8443/a/b/c:1.0", "registry.example.com:8443/a/b/c:1.0"],
            ["[::1]:5000/app:1", "[::1]:5000/app:1"],
            ["my_repo/under__score", "docker.io/my_repo/under__score:latest"],
            ["a/b-c---d", "docker.io/a/b-c---d:latest"],
            [`python@sha256:${"a".repeat(64)}`, `docker.io/library/python@sha256:${"a".repeat(64)}`],
            [`python:3.12@sha256:${"b".repeat(64)}`, `docker.io/library/python:3.12@sha256:${"b".repeat(64)}`],
            [`ghcr.io/o/r@sha512:${"c".repeat(128)}`, `ghcr.io/o/r@sha512:${"c".repeat(128)}`],
            [`x:${"t".repeat(128)}`, `docker.io/library/x:${"t".repeat(128)}`],
        ];
        for (const [input, expected] of cases) {
            it(`${input.slice(0, 60)} -> ${expected.slice(0, 60)}`, () => {
                assert.equal(parseImageReference(input).normalized, expected);
            });
        }
    });

    describe("rejects what the distribution grammar rejects, saying why", () => {
        const cases: [unknown, RegExp][] = [
            ["Python", /lowercase/],
            ["docker.io/Library/python", /lowercase/],
            ["python:3:12", /invalid tag|invalid repository/],
            ["python:3.12:latest", /invalid tag|invalid repository/],
            ["python@sha256:abc", /64 lowercase hex/],
            [`python@sha256:${"A".repeat(64)}`, /lowercase hex/],
            [`python@sha256:${"a".repeat(63)}`, /64 lowercase hex/],
            [`python@md5:${"a".repeat(32)}`, /unsupported digest algorithm/],
            ["python@", /malformed digest/],
            [`x:${"t".repeat(129)}`, /invalid tag/],
            ["python:.hidden", /invalid tag/],
            ["python:-dash", /invalid tag/],
            ["/python", /invalid repository/],
            ["-python", /invalid repository/],
            [".python", /invalid repository/],
            ["_python", /invalid repository/],
            ["python/", /invalid repository/],
            ["a//b", /invalid repository/],
            [":tag", /no repository/],
            ["", /empty/],
            [" python", /whitespace/],
            ["exa_mple.com/app", /invalid registry host/],
            [42, /must be a string/],
            [null, /must be a string/],
            [{ image: "python" }, /must be a string/],
            [`${"a".repeat(256)}`, /longer than 255/],
        ];
        for (const [input, pattern] of cases) {
            it(`rejects ${JSON.stringify(input)?.slice(0, 50)}`, () => {
                assert.throws(() => parseImageReference(input), pattern);
            });
        }
    });

    describe("matches what nodes report", () => {
        const digest = `sha256:${"d".repeat(64)}`;
        const reported = (name: string) => parseImageReference(name);
        it("a tag matches the same repository and tag, in any spelling", () => {
            assert.ok(
                referenceSatisfies(reported("docker.io/library/python:3.12"), parseImageReference("python:3.12")),
            );
            assert.ok(
                !referenceSatisfies(reported("docker.io/library/python:3.11"), parseImageReference("python:3.12")),
            );
        });
        it("a bare name matches only :latest", () => {
            assert.ok(referenceSatisfies(reported("docker.io/library/python:latest"), parseImageReference("python")));
            assert.ok(!referenceSatisfies(reported("docker.io/library/python:3"), parseImageReference("python")));
        });
        it("a digest matches the digest form whatever the tag", () => {
            assert.ok(
                referenceSatisfies(
                    reported(`docker.io/library/python@${digest}`),
                    parseImageReference(`python:3.12@${digest}`),
                ),
            );
            assert.ok(
                !referenceSatisfies(
                    reported("docker.io/library/python:3.12"),
                    parseImageReference(`python:3.12@${digest}`),
                ),
            );
        });
        it("registries and ports are part of the identity", () => {
            assert.ok(!referenceSatisfies(reported("quay.io/library/python:3"), parseImageReference("python:3")));
            assert.ok(
                !referenceSatisfies(reported("localhost:5000/app:1"), parseImageReference("localhost:5001/app:1")),
            );
            assert.ok(
                referenceSatisfies(reported("localhost:5000/app:1"), parseImageReference("localhost:5000/app:1")),
            );
        });
    });
});
