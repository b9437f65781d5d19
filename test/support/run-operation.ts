/**
 * A separate process that runs one provider method and then waits for nothing: it reports the
 * outcome, waits past client-node's keep-alive (idle sockets close after 4 s), prints what keeps
 * the event loop alive, and then must end by itself, as a provider host or plugin process would.
 */
import { prePullProvider } from "../../components/pulumi/provider";

const method = process.env.PREPULL_METHOD as "create" | "read" | "delete";
const props = JSON.parse(process.env.PREPULL_PROPS ?? "{}");
const id = `${props.namespace}/${props.ownerId}`;
const operation =
    method === "create"
        ? prePullProvider.create(props)
        : method === "read"
          ? prePullProvider.read!(id, props)
          : prePullProvider.delete!(id, props);
operation.then(
    () => report("OP-DONE"),
    (e: Error) => report(`OP-FAILED ${e.message.split("\n")[0]}`),
);

function report(outcome: string): void {
    console.log(outcome);
    // unref: this timer must not be what keeps the process alive.
    setTimeout(() => {
        const resources = process.getActiveResourcesInfo().filter((r) => r !== "PipeWrap" && r !== "TTYWrap");
        console.log(`ACTIVE ${JSON.stringify(resources)}`);
    }, 6000).unref();
}
