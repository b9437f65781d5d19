import { stopSharedCluster } from "./cluster";

/** Mocha root hooks: the shared cluster outlives every test file and is stopped once at the end. */
export const mochaHooks = {
    async afterAll(this: Mocha.Context) {
        this.timeout(120_000);
        await stopSharedCluster();
    },
};
