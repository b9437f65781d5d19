/**
 * The images each measured run pre-pulls: fresh references (no node holds them yet) that the
 * simulated registry serves as large images, as notebook images are. The kubelet lists at most 50
 * images per node, largest first, and the bench's nodes already hold 30-50 others: an image
 * smaller than those would never show in status.images, and the seed's algorithm (which reads
 * nothing else) would wait forever. So the bench picks tags whose synthetic size is near the top.
 */
import { createHash } from "node:crypto";

/** Bench images are at least this large (the simulator's synthetic sizes span 50 MB .. 2 GB). */
export const MIN_BENCH_IMAGE_BYTES = 1_900_000_000;

/**
 * The size the simulator gives repo:tag: a hash of the reference mapped onto 50 MB .. 2 GB, as
 * `syntheticContent` in test/cluster/images.go derives it (layers, manifest and config add a few
 * hundred bytes, left out here).
 */
export function syntheticImageBytes(repository: string, tag: string): number {
    const seed = createHash("sha256").update(`localcluster-image:${repository}:${tag}`).digest();
    return 50_000_000 + Number(seed.readBigUInt64BE(0) % 1_950_000_000n);
}

/** `count` references under registry.example.com/bench, named after `label`, each a large image. */
export function benchImages(label: string, count: number): string[] {
    return Array.from({ length: count }, (_, index) => {
        const repository = `registry.example.com/bench/notebook-${index}`;
        for (let attempt = 0; ; attempt++) {
            const tag = `${label}-${attempt}`;
            if (syntheticImageBytes(repository, tag) >= MIN_BENCH_IMAGE_BYTES) return `${repository}:${tag}`;
        }
    });
}
