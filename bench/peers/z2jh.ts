/**
 * The JupyterHub chart's pre-pull hook as its source (zero-to-jupyterhub-k8s,
 * images/image-awaiter and templates/image-puller) states it. Helm creates the hook resources in
 * weight order, the puller DaemonSet and then the awaiter Job, and waits for the Job. The awaiter
 * reads only the DaemonSet, once a second: for its first `podSchedulingWaitDuration` reads
 * (chart default 10) it is done when numberReady equals desiredNumberScheduled, after that when
 * numberReady reaches currentNumberScheduled. Then Helm deletes both hooks (hook-succeeded).
 *
 * Here the awaiter's loop runs in this process from the moment the Job's pod runs (when the real
 * awaiter would start); the Job's pod runs the preloaded awaiter image and is only a timer.
 */
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { renderDaemonSet } from "../../components/rules/daemonset";
import type { PrePullInputs } from "../../components/rules/inputs";
import { AWAITER_IMAGE } from "../profiles";
import { setTimeout as pause } from "node:timers/promises";
import type { PeerRun } from "./peer";

/** The chart's prePuller.hook.podSchedulingWaitDuration default. */
const POD_SCHEDULING_WAIT_READS = 10;

/**
 * `fair`: the awaiter starts only once the DaemonSet controller has written the DaemonSet's status
 * for its spec (observedGeneration), as it has by then in a real chart upgrade, where the Job's pod
 * starts seconds after the DaemonSet. Without it, the awaiter here may start within a second and
 * read a status of 0 ready of 0 desired: done before any pull (the race the chart's awaiter has
 * when it starts that early, since it never checks observedGeneration).
 */
export async function chartAwaiterPrePull(
    inputs: PrePullInputs,
    run: PeerRun,
    options: { fair?: boolean } = {},
): Promise<void> {
    const started = Date.now();
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    kc.loadFromString(inputs.kubeconfig!);
    const apps = kc.makeApiClient(lib.AppsV1Api);
    const batch = kc.makeApiClient(lib.BatchV1Api);
    const namespace = inputs.namespace;
    const name = `${inputs.ownerId}-z2jh`;
    const job = `${name}-awaiter`;
    await apps.createNamespacedDaemonSet({ namespace, body: renderDaemonSet({ ...inputs, name }) as never });
    await batch.createNamespacedJob({
        namespace,
        body: {
            metadata: { name: job },
            spec: {
                backoffLimit: 0,
                template: {
                    spec: {
                        restartPolicy: "Never",
                        automountServiceAccountToken: false,
                        terminationGracePeriodSeconds: 0,
                        containers: [
                            {
                                name: "hook-image-awaiter",
                                image: AWAITER_IMAGE,
                                command: ["/image-awaiter", `-namespace=${namespace}`, `-daemonset=${name}`],
                            },
                        ],
                    },
                },
            },
        },
    });
    const deadline = started + inputs.timeoutSeconds * 1000;
    await awaiterRunning(lib, kc, namespace, job, deadline);
    if (options.fair) {
        for (;;) {
            const ds = await apps.readNamespacedDaemonSet({ name, namespace });
            if ((ds.status?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 1)) break;
            if (Date.now() > deadline) break;
            await pause(200);
        }
    }
    run.extra.awaiterStartSeconds = (Date.now() - started) / 1000;

    let done = false;
    for (let reads = 0; !done && Date.now() < deadline; reads++) {
        const status = (await apps.readNamespacedDaemonSet({ name, namespace })).status;
        const ready = status?.numberReady ?? 0;
        done =
            reads < POD_SCHEDULING_WAIT_READS
                ? ready === (status?.desiredNumberScheduled ?? 0)
                : ready >= (status?.currentNumberScheduled ?? 0);
        if (!done) await pause(1000);
    }
    if (done) run.detected();
    // Helm's hook-succeeded deletion (background propagation: the garbage collector removes the pods).
    await batch.deleteNamespacedJob({ name: job, namespace, propagationPolicy: "Background" });
    await apps.deleteNamespacedDaemonSet({ name, namespace, propagationPolicy: "Background" });
    if (!done) throw new Error(`z2jh: the DaemonSet was not ready within ${inputs.timeoutSeconds} s`);
}

/** Resolves when the Job's pod runs (watch receive time): the awaiter process would start now. */
async function awaiterRunning(
    lib: typeof k8s,
    kc: k8s.KubeConfig,
    namespace: string,
    job: string,
    deadline: number,
): Promise<void> {
    const watch = new lib.Watch(kc);
    let request: AbortController | undefined;
    try {
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
                () => reject(new Error(`z2jh: the awaiter Job's pod did not run in time`)),
                deadline - Date.now(),
            );
            void watch
                .watch(
                    `/api/v1/namespaces/${namespace}/pods`,
                    { labelSelector: `batch.kubernetes.io/job-name=${job}` },
                    (_phase, pod: k8s.V1Pod) => {
                        if (pod.status?.containerStatuses?.some((c) => c.state?.running)) {
                            clearTimeout(timer);
                            resolve();
                        }
                    },
                    (error) => reject((error as Error | null) ?? new Error("z2jh: the pod watch ended")),
                )
                .then((controller) => (request = controller), reject);
        });
    } finally {
        request?.abort();
    }
}
