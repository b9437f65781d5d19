/**
 * Progress lines of plugin-served CRUD, sent to the engine's Log service so that the person
 * running `pulumi up` sees them on the resource's row. A resource plugin's own stdout and stderr
 * reach the engine's debug log only.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { format } from "node:util";
import { EngineClient } from "@pulumi/pulumi/proto/engine_grpc_pb";
import { LogRequest, LogSeverity } from "@pulumi/pulumi/proto/engine_pb";

import type { Logger } from "../run/shared";

type Credentials = ConstructorParameters<typeof EngineClient>[1];

/** An info line on the resource `urn`, through the engine at `engineAddress`; lines keep their order. */
export function engineLogger(engineAddress: string): { forResource(urn: string): Logger; flush(): Promise<void> } {
    // The credentials must come from the gRPC library that @pulumi/pulumi's generated client uses.
    const grpc = createRequire(require.resolve("@pulumi/pulumi/proto/engine_grpc_pb"))("@grpc/grpc-js") as {
        credentials: { createInsecure(): Credentials };
    };
    const client = new EngineClient(engineAddress, grpc.credentials.createInsecure());
    let sent: Promise<void> = Promise.resolve();
    return {
        forResource: (urn) => (line) => {
            const request = new LogRequest().setSeverity(LogSeverity.INFO).setMessage(line).setUrn(urn);
            sent = sent.then(
                () =>
                    new Promise<void>((resolve) => {
                        // A line the engine did not take is not worth failing the pre-pull for.
                        client.log(request, () => resolve());
                    }),
            );
        },
        flush: () => sent,
    };
}

const currentLogger = new AsyncLocalStorage<Logger>();

/**
 * Runs `operation` with what it writes through `console.log` (the shared provider code's progress
 * log) sent to `logger` instead. Scoped per call, so concurrent resources keep their own lines.
 */
export function withProgressTo<T>(logger: Logger, operation: () => Promise<T>): Promise<T> {
    routeConsoleLog();
    return currentLogger.run(logger, operation);
}

let routed = false;

function routeConsoleLog(): void {
    if (routed) return;
    routed = true;
    const original = console.log.bind(console);
    console.log = (...args: unknown[]) => {
        const logger = currentLogger.getStore();
        if (logger) logger(format(...args));
        else original(...args);
    };
}
