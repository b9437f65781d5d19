import * as os from "node:os";

/** The machine a benchmark ran on, as the results record it. */
export function machineDescription(): string {
    const cpus = os.cpus();
    return `${cpus.length} cores (${cpus[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
