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

/**
 * Which cluster a loaded kubeconfig points at: a hash of its current cluster's server and CA.
 * Credentials are left out, so that a rotated token is the same cluster.
 */
export function clusterIdentity(kc: KubeConfig): string {
    const cluster = kc.getCurrentCluster();
    const crypto = require("crypto") as typeof import("crypto");
    return crypto
        .createHash("sha256")
        .update(JSON.stringify([cluster?.server ?? "", cluster?.caData ?? "", cluster?.caFile ?? ""]))
        .digest("hex")
        .slice(0, 16);
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
