import { stopSharedCluster } from "./cluster";
import { stopSharedEngine } from "./engine";

/**
 * Mocha root hooks: the shared cluster and the engine's temporary directories outlive every test
 * file and are removed once at the end.
 */
export const mochaHooks = {
    async afterAll(this: Mocha.Context) {
        this.timeout(120_000);
        await stopSharedCluster();
        await stopSharedEngine();
    },
};
