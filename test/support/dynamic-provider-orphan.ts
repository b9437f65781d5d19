/**
 * A provider host whose engine the test controls: runs one create as the dynamic-provider host
 * would (its path contains "dynamic-provider" and its argument is an engine address, which is how
 * the provider's watchdog recognizes a host), so that a test can make the engine vanish.
 *
 *   node -r ts-node/register test/support/dynamic-provider-orphan.ts <engine host:port>
 */
import { prePullProvider } from "../../components/pulumi/provider";

const inputs = JSON.parse(process.env.PREPULL_INPUTS ?? "{}");
prePullProvider.create(inputs).then(
    () => console.log("CREATE-DONE"),
    (e: Error) => console.error(`CREATE-FAILED ${e.message}`),
);
