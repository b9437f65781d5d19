/**
 * Container image references, parsed and normalized the way container runtimes do
 * (the distribution reference grammar plus Docker Hub defaulting), so that
 * `python`, `library/python:latest` and `docker.io/library/python:latest` compare equal.
 *
 * Written by hand: the grammar is small, and the npm parsers either skip Docker Hub
 * normalization or accept what the grammar rejects.
 */

export interface ImageReference {
    /** Registry host, with port if any: `docker.io`, `localhost:5000`. */
    readonly domain: string;
    /** Repository path below the registry: `library/python`. */
    readonly path: string;
    /** Tag; `latest` when neither a tag nor a digest was given. */
    readonly tag?: string;
    /** Digest, `algorithm:hex`. */
    readonly digest?: string;
    /** The fully qualified form: `docker.io/library/python:3.12@sha256:...`. */
    readonly normalized: string;
}

const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX = "library/";
/** Applies to the repository path after Docker Hub defaulting (library/ included), not to registry or tag. */
const MAX_PATH_LENGTH = 255;
/** What an image ID looks like; as a bare name it is ambiguous, so the grammar refuses it. */
const IMAGE_ID_PATTERN = /^[a-f0-9]{64}$/;

const alphaNumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const PATH_PATTERN = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_PATTERN = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
const DIGEST_PATTERN = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Hex lengths of the digest algorithms registries and runtimes accept. */
const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * An error saying why a reference is invalid. A plain Error, not a subclass: Pulumi serializes
 * this module into state, and its serializer does not preserve Error subclasses' messages.
 */
export function invalidReference(message: string): Error {
    return Object.assign(new Error(message), { name: "InvalidReferenceError" });
}

/** Parses and normalizes one image reference; throws an error saying what is wrong. */
export function parseImageReference(reference: unknown): ImageReference {
    if (typeof reference !== "string") {
        throw invalidReference(`must be a string, got ${describeType(reference)}`);
    }
    const text = reference.trim();
    if (text === "") {
        throw invalidReference("must not be empty");
    }
    if (text !== reference) {
        throw invalidReference(`"${reference}" has leading or trailing whitespace`);
    }
    if (IMAGE_ID_PATTERN.test(text)) {
        throw invalidReference(
            `"${reference}" is 64 hexadecimal characters, which reads as an image ID, not a repository name; to pull a repository of that name, name its registry (docker.io/${reference})`,
        );
    }

    let remainder = text;
    let digest: string | undefined;
    const at = remainder.indexOf("@");
    if (at >= 0) {
        digest = remainder.slice(at + 1);
        remainder = remainder.slice(0, at);
        validateDigest(reference, digest);
    }

    let tag: string | undefined;
    const lastColon = remainder.lastIndexOf(":");
    if (lastColon > remainder.lastIndexOf("/")) {
        tag = remainder.slice(lastColon + 1);
        remainder = remainder.slice(0, lastColon);
        if (!TAG_PATTERN.test(tag)) {
            throw invalidReference(
                `"${reference}" has an invalid tag "${tag}": a tag is 1 to 128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`,
            );
        }
    }

    if (remainder === "") {
        throw invalidReference(`"${reference}" has no repository name`);
    }
    const { domain, path } = splitDomain(reference, remainder);
    if (!PATH_PATTERN.test(path)) {
        const hint = path !== path.toLowerCase() ? ": repository names must be lowercase" : "";
        throw invalidReference(
            `"${reference}" has an invalid repository path "${path}"${hint} (components of a-z, 0-9 joined by ".", "_", "__" or "-", separated by "/")`,
        );
    }
    if (path.length > MAX_PATH_LENGTH) {
        throw invalidReference(
            `"${reference}" has a repository path "${path.slice(0, 40)}..." longer than ${MAX_PATH_LENGTH} characters (${path.length}); the limit counts the path below the registry, including Docker Hub's library/`,
        );
    }

    const effectiveTag = tag ?? (digest === undefined ? "latest" : undefined);
    const normalized =
        `${domain}/${path}` + (effectiveTag !== undefined ? `:${effectiveTag}` : "") + (digest ? `@${digest}` : "");
    return { domain, path, tag: effectiveTag, digest, normalized };
}

/** Like parseImageReference, but returns undefined instead of throwing: for names reported by nodes. */
export function tryParseImageReference(reference: string): ImageReference | undefined {
    try {
        return parseImageReference(reference);
    } catch {
        return undefined;
    }
}

function splitDomain(reference: string, name: string): { domain: string; path: string } {
    const slash = name.indexOf("/");
    const first = slash < 0 ? "" : name.slice(0, slash);
    const looksLikeDomain =
        slash >= 0 &&
        (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase());
    if (!looksLikeDomain) {
        return { domain: DEFAULT_DOMAIN, path: slash < 0 ? OFFICIAL_REPOSITORY_PREFIX + name : name };
    }
    if (!DOMAIN_PATTERN.test(first)) {
        throw invalidReference(`"${reference}" has an invalid registry host "${first}"`);
    }
    const domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
    let path = name.slice(slash + 1);
    if (domain === DEFAULT_DOMAIN && !path.includes("/")) {
        path = OFFICIAL_REPOSITORY_PREFIX + path;
    }
    return { domain, path };
}

function validateDigest(reference: string, digest: string): void {
    if (!DIGEST_PATTERN.test(digest)) {
        throw invalidReference(`"${reference}" has a malformed digest "${digest}" (expected algorithm:hex)`);
    }
    const [algorithm, hex] = digest.split(":") as [string, string];
    const expectedLength = DIGEST_HEX_LENGTHS[algorithm];
    if (expectedLength === undefined) {
        throw invalidReference(
            `"${reference}" uses the unsupported digest algorithm "${algorithm}" (supported: ${Object.keys(DIGEST_HEX_LENGTHS).join(", ")})`,
        );
    }
    if (!/^[a-f0-9]+$/.test(hex) || hex.length !== expectedLength) {
        throw invalidReference(
            `"${reference}" has a malformed ${algorithm} digest: expected ${expectedLength} lowercase hex characters, got ${hex.length}`,
        );
    }
}

/**
 * Whether an image a node reports (one of its `status.images[].names`) satisfies a wanted reference:
 * a wanted digest matches the same repository at that digest, whatever the tag; a wanted tag matches
 * the same repository at that tag.
 */
export function referenceSatisfies(reported: ImageReference, wanted: ImageReference): boolean {
    if (reported.domain !== wanted.domain || reported.path !== wanted.path) {
        return false;
    }
    if (wanted.digest !== undefined) {
        return reported.digest === wanted.digest;
    }
    return reported.tag === wanted.tag;
}

export function describeType(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "an array";
    return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
