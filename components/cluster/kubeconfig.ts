/**
 * The kubeconfig a run connects with, and the client library. @kubernetes/client-node is loaded
 * lazily, inside the provider's methods: a module captured at the top level would be serialized
 * into state as a path.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

import { credentialStrings, isKubeconfigContents, unusableKubeconfigReason } from "../rules/credentials";

export type ClientLibrary = typeof k8s;
export type KubeConfig = k8s.KubeConfig;
export type RequestContext = k8s.RequestContext;
export type ResponseContext = k8s.ResponseContext;

export function loadClientLibrary(): ClientLibrary {
    // Node >= 22.12 can require() this ES module; see package.json engines.
    return require("@kubernetes/client-node") as ClientLibrary;
}

/**
 * Loads the kubeconfig the inputs name: contents, a path, or (when absent) the ambient
 * KUBECONFIG / ~/.kube/config / in-cluster config. Errors never quote the value (it may be a
 * credential that only looks like a path): they give its form and length, and what to pass.
 */
export function loadKubeConfig(
    lib: ClientLibrary,
    kubeconfig: string | undefined,
    context: string | undefined,
): KubeConfig {
    const kc = new lib.KubeConfig();
    const unusable = kubeconfig === undefined ? undefined : unusableKubeconfigReason(kubeconfig);
    if (unusable !== undefined) throw new Error(`kubeconfig: ${unusable}`);
    try {
        if (kubeconfig === undefined) {
            kc.loadFromDefault();
        } else if (isKubeconfigContents(kubeconfig)) {
            kc.loadFromString(kubeconfig);
        } else {
            kc.loadFromFile(kubeconfig);
        }
    } catch (e) {
        throw new Error(`kubeconfig: ${describeLoadFailure(kubeconfig, e)}`);
    }
    if (context !== undefined) {
        const names = kc.getContexts().map((c) => c.name);
        if (!names.includes(context)) {
            // A context name is no secret, but a credential pasted into `context` would be.
            const shown = /^[^\s]{1,100}$/.test(context) ? `"${context}"` : `(${context.length} characters, not shown)`;
            throw new Error(
                `context: ${shown} is not in the kubeconfig; available contexts: ${names.join(", ") || "(none)"}`,
            );
        }
        kc.setCurrentContext(context);
    }
    if (!kc.getCurrentCluster()) {
        throw new Error("kubeconfig: no current cluster; set `context` or a current-context in the kubeconfig");
    }
    return kc;
}

function describeLoadFailure(kubeconfig: string | undefined, error: unknown): string {
    const kind = (error as Error)?.name ?? "error";
    if (kubeconfig === undefined)
        return `could not load the ambient kubeconfig: ${kind} (check KUBECONFIG or ~/.kube/config)`;
    if (isKubeconfigContents(kubeconfig)) {
        return `could not parse the kubeconfig contents (${kubeconfig.length} characters, not shown): ${kind}; check that they are a valid kubeconfig`;
    }
    // A path that exists is no credential and helps the user; one that does not may be a secret.
    const fs = require("fs") as typeof import("fs");
    if (fs.existsSync(kubeconfig))
        return `could not load the kubeconfig file "${kubeconfig}": ${kind}; check that it is a valid kubeconfig`;
    return (
        `no file at the path given (${kubeconfig.length} characters, not shown, in case it is a credential); ` +
        "pass kubeconfig contents (YAML or JSON, with real newlines) or the path of an existing file"
    );
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function identityOf(server: unknown, caData: unknown, caFile: unknown): string {
    const crypto = require("crypto") as typeof import("crypto");
    return crypto
        .createHash("sha256")
        .update(JSON.stringify([server ?? "", caData ?? "", caFile ?? ""]))
        .digest("hex")
        .slice(0, 16);
}

/**
 * Which cluster a loaded kubeconfig points at: a hash of its current cluster's server and CA.
 * Credentials are left out, so that a rotated token is the same cluster.
 */
export function clusterIdentity(kc: KubeConfig): string {
    const cluster = kc.getCurrentCluster();
    return identityOf(cluster?.server, cluster?.caData, cluster?.caFile);
}

/**
 * The same identity as `clusterIdentity(loadKubeConfig(...))`, read with js-yaml alone: `check`
 * runs on every `pulumi up`, and loading client-node only to parse the kubeconfig costs it about
 * a second. Undefined wherever this reading cannot be sure to match client-node's (a value
 * client-node would reject, a `token-file` it would read, a context that is not there): the caller
 * then loads client-node, for the same identity or its error.
 */
export function quickClusterIdentity(kubeconfig: string, context: string | undefined): string | undefined {
    if (unusableKubeconfigReason(kubeconfig) !== undefined) return undefined;
    const path = require("path") as typeof import("path");
    let text = kubeconfig;
    let root: string | undefined;
    if (!isKubeconfigContents(kubeconfig)) {
        const fs = require("fs") as typeof import("fs");
        try {
            text = fs.readFileSync(kubeconfig, "utf8");
        } catch {
            return undefined;
        }
        root = path.dirname(kubeconfig);
    }
    let doc: unknown;
    try {
        doc = (require("js-yaml") as typeof import("js-yaml")).load(text);
    } catch {
        return undefined;
    }
    if (!isRecord(doc)) return undefined;
    const list = (key: string): unknown[] => (Array.isArray(doc[key]) ? doc[key] : []);
    const clusters = list("clusters");
    const contexts = list("contexts");
    const users = list("users");
    // What client-node's loaders reject, or read from other files, is left to client-node.
    const validCluster = (c: unknown) =>
        isRecord(c) && !!c.name && isRecord(c.cluster) && typeof c.cluster.server === "string" && !!c.cluster.server;
    const validContext = (c: unknown) => isRecord(c) && !!c.name && isRecord(c.context) && !!c.context.cluster;
    const validUser = (u: unknown) =>
        isRecord(u) && !!u.name && !(isRecord(u.user) && !u.user.token && u.user["token-file"]);
    if (!clusters.every(validCluster) || !contexts.every(validContext) || !users.every(validUser)) return undefined;
    const current = context ?? doc["current-context"];
    const ctx = (contexts as { name: unknown; context: Record<string, unknown> }[]).find((c) => c.name === current);
    if (ctx === undefined) return undefined;
    const entry = (clusters as { name: unknown; cluster: Record<string, unknown> }[]).find(
        (c) => c.name === ctx.context.cluster,
    );
    if (entry === undefined) return undefined;
    const caFile = entry.cluster["certificate-authority"];
    return identityOf(
        (entry.cluster.server as string).replace(/\/$/, ""),
        entry.cluster["certificate-authority-data"],
        root && typeof caFile === "string" && caFile && !path.isAbsolute(caFile) ? path.join(root, caFile) : caFile,
    );
}

/**
 * The credential strings of the kubeconfig a run uses: the given value, or (when absent) the
 * ambient files client-node would read and the in-cluster service account token.
 */
export function credentialsOf(kubeconfig: string | undefined): string[] {
    if (kubeconfig !== undefined) return credentialStrings(kubeconfig);
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const os = require("os") as typeof import("os");
    const files = process.env.KUBECONFIG
        ? process.env.KUBECONFIG.split(path.delimiter).filter((f) => f !== "")
        : [path.join(os.homedir(), ".kube", "config")];
    files.push("/var/run/secrets/kubernetes.io/serviceaccount/token");
    return files.flatMap((file) => {
        try {
            return credentialStrings(fs.readFileSync(file, "utf8"));
        } catch {
            return [];
        }
    });
}
