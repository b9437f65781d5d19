/**
 * An idea of issue 10 measured without changing the product: what ours' pod watch would carry if
 * it asked for Table rows (server-side printing, `includeObject=None`) instead of whole pods. A
 * row names the pod's node and its status ("Init:2/6", "Init:ErrImagePull"), which tells how many
 * pull containers completed; a full read of the pod would follow only when a problem shows. This
 * watch runs beside ours, on the same pods, in the bench's parent process, and counts its bytes.
 */
import * as https from "node:https";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io";

export interface TableWatch {
    /** Body bytes received before `at` (ms since the epoch). */
    bytesBefore(at: number): number;
    bytes(): number;
    stop(): void;
}

export async function watchPodTableRows(
    kc: k8s.KubeConfig,
    namespace: string,
    labelSelector: string,
): Promise<TableWatch> {
    const query = new URLSearchParams({ watch: "true", labelSelector, includeObject: "None" });
    const url = new URL(`${kc.getCurrentCluster()!.server}/api/v1/namespaces/${namespace}/pods?${query}`);
    const options: https.RequestOptions = {
        method: "GET",
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        headers: { Accept: TABLE },
    };
    await kc.applyToHTTPSOptions(options);
    const chunks: { at: number; bytes: number }[] = [];
    const request = https.get(options);
    await new Promise<void>((resolve, reject) => {
        request.on("response", (response) => {
            if (response.statusCode !== 200) {
                reject(new Error(`table watch of pods: HTTP ${response.statusCode}`));
                return;
            }
            response.on("data", (chunk: Buffer) => chunks.push({ at: Date.now(), bytes: chunk.length }));
            response.on("error", () => undefined);
            resolve();
        });
        request.on("error", reject);
    });
    const sum = (until: number) => chunks.reduce((total, c) => total + (c.at < until ? c.bytes : 0), 0);
    return {
        bytesBefore: sum,
        bytes: () => sum(Infinity),
        stop: () => request.destroy(),
    };
}
