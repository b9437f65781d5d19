/**
 * The sizes of the pulled images, for the pull report, read while the run waits. The kubelet
 * lists a freshly pulled image in `status.images` only up to 40 s after the pull, and the run does
 * not read nodes in full meanwhile; but its Pulled event of the pod says the size ("Image size: N
 * bytes", kubelets since v1.30). So once a pull container of an image completed on some node, that
 * pod's Pulled events are read (a container that ran, as the presence rules count it): one small list per image (a few more where the first pods found
 * the image already present), in the background, so that the run returns as soon as presence is
 * decided. Optional: without `list events`, or from an older kubelet, the report has no sizes.
 */
import type { ClusterClient } from "../cluster/client";
import { imagesStartedInPod } from "../rules/presence";
import { parsePulledMessage } from "../rules/pull-report";
import { referenceSatisfies, tryParseImageReference, type ImageReference } from "../rules/references";
import type { Pod } from "../rules/wire";
import { pulledEventMessages } from "./pullers";

/** Reads per image, while the run waits, before giving up on its size. */
const ATTEMPTS_PER_IMAGE = 3;
/** A pod is read again for a size only this long after its last read. */
const REREAD_AFTER_MS = 2000;
/** The pods are looked through for one to read at most this often (the wait loop decides more often). */
const LOOK_EVERY_MS = 1000;

export interface ImageSizeReader {
    /** Reads, in the background, the Pulled events of a pod that completed the pull of an image without a size. */
    look(pods: readonly Pod[]): void;
    /**
     * The Pulled event messages, once the read in flight (if any) ended and the images still
     * without a size had one more read each, within SETTLE_BUDGET_MS: where a run ends with the
     * pulls it waited for (one node), their events were not read yet.
     */
    settle(pods: readonly Pod[], pulledImages: readonly string[]): Promise<string[]>;
}

/** At the end of a run, the reads of the sizes still missing get at most this long. */
const SETTLE_BUDGET_MS = 3000;

export function imageSizeReader(
    cluster: ClusterClient,
    namespace: string,
    images: readonly ImageReference[],
): ImageSizeReader {
    const messages: string[] = [];
    const sized = new Set<string>();
    const attempts = new Map<string, number>();
    // When each pod was last read: a pod is read again only after a while (its kubelet may write
    // the event just after the pod's status), and first the pods not read yet.
    const readAt = new Map<string, number>();
    let reading: Promise<void> | undefined;
    let lookedAt = 0;
    const wantedOf = (image: string | undefined) => {
        const parsed = tryParseImageReference(image ?? "");
        return parsed && images.find((w) => referenceSatisfies(parsed, w));
    };
    const read = async (pod: Pod, image: ImageReference, client: ClusterClient) => {
        attempts.set(image.normalized, (attempts.get(image.normalized) ?? 0) + 1);
        readAt.set(pod.metadata!.name!, Date.now());
        for (const message of await pulledEventMessages(client, namespace, [pod])) {
            messages.push(message);
            const pulled = parsePulledMessage(message);
            const wanted = pulled?.sizeBytes ? wantedOf(pulled.image) : undefined;
            if (wanted) sized.add(wanted.normalized);
        }
    };
    /** A pod that completed the pull of an image without a size (one not read yet first), and that image. */
    const next = (pods: readonly Pod[], only?: readonly string[]): [Pod, ImageReference] | undefined => {
        let again: [Pod, ImageReference] | undefined;
        for (const pod of pods) {
            const name = pod.metadata?.name;
            if (!name || !pod.spec?.nodeName) continue;
            const last = readAt.get(name);
            if (last !== undefined && (again !== undefined || Date.now() - last < REREAD_AFTER_MS)) continue;
            // The images whose containers ran there (the presence rules' evidence): pulled by then.
            for (const ran of imagesStartedInPod(pod)) {
                const image = images.find((w) => referenceSatisfies(ran, w));
                if (!image || sized.has(image.normalized) || (only && !only.includes(image.normalized))) continue;
                if (!only && (attempts.get(image.normalized) ?? 0) >= ATTEMPTS_PER_IMAGE) continue;
                if (last === undefined) return [pod, image];
                again = [pod, image];
                break;
            }
        }
        return again;
    };
    return {
        look: (pods) => {
            // Every image sized or given up on: nothing more to read. Otherwise a look a second.
            if (
                images.every((i) => sized.has(i.normalized) || (attempts.get(i.normalized) ?? 0) >= ATTEMPTS_PER_IMAGE)
            ) {
                return;
            }
            if (reading || cluster.signal.aborted || Date.now() - lookedAt < LOOK_EVERY_MS) return;
            lookedAt = Date.now();
            const found = next(pods);
            if (!found) return;
            reading = read(found[0], found[1], cluster).finally(() => (reading = undefined));
        },
        settle: async (pods, pulledImages) => {
            const client = cluster.withSignal(AbortSignal.timeout(SETTLE_BUDGET_MS));
            await reading;
            // One more read per image still without a size, whatever its pods' reads so far.
            readAt.clear();
            for (const image of pulledImages) {
                const found = next(pods, [image]);
                if (found && !client.signal.aborted) await read(found[0], found[1], client);
            }
            return [...messages];
        },
    };
}
