/**
 * A validating admission webhook for tests: an HTTPS server on 127.0.0.1 that denies pod creation
 * in one namespace, registered with the apiserver, as a policy engine (Kyverno, Gatekeeper) would.
 */
import * as https from "node:https";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { selfSignedCertificate } from "./api-proxy";
import type { TestCluster } from "../../harness/cluster";

export const WEBHOOK_NAME = "deny-pods.prepuller.test";
export const WEBHOOK_MESSAGE = "pods in this namespace need an approved image policy (test webhook)";

/** Denies pod creation in `namespace`: every time, or only the first `denials` times (a policy engine that blips). */
export async function denyPodsIn(
    cluster: TestCluster,
    namespace: string,
    options: { denials?: number } = {},
): Promise<{ stop: () => Promise<void>; reviews: () => number }> {
    const { key, cert } = selfSignedCertificate();
    let reviews = 0;
    const server = https.createServer({ key, cert }, (req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString()));
        req.on("end", () => {
            reviews++;
            const review = JSON.parse(body) as { request: { uid: string } };
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(
                JSON.stringify({
                    apiVersion: "admission.k8s.io/v1",
                    kind: "AdmissionReview",
                    response: {
                        uid: review.request.uid,
                        ...(options.denials !== undefined && reviews > options.denials
                            ? { allowed: true }
                            : { allowed: false, status: { code: 403, message: WEBHOOK_MESSAGE } }),
                    },
                }),
            );
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const admission = cluster.kc.makeApiClient(cluster.lib.AdmissionregistrationV1Api);
    const name = `deny-pods-${namespace}`;
    const configuration: k8s.V1ValidatingWebhookConfiguration = {
        metadata: { name },
        webhooks: [
            {
                name: WEBHOOK_NAME,
                admissionReviewVersions: ["v1"],
                sideEffects: "None",
                failurePolicy: "Fail",
                timeoutSeconds: 5,
                clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle: cert.toString("base64") },
                rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
            },
        ],
    };
    await admission.createValidatingWebhookConfiguration({ body: configuration });
    return {
        reviews: () => reviews,
        stop: async () => {
            await admission.deleteValidatingWebhookConfiguration({ name }).catch(() => undefined);
            await new Promise((resolve) => server.close(resolve));
        },
    };
}
