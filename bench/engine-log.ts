/**
 * What a Pulumi engine log (`pulumi up --logtostderr -v=7`: one JSON object per line, with `time`
 * and `msg`) shows of the dynamic-provider host's start.
 */

/** The dynamic-provider host's start, as one no-op up's engine log (`-v=7`) shows it. */
export interface HostStart {
    /**
     * From the engine's Check of the default `pulumi-nodejs` provider, which launches the plugin
     * and waits for it to listen, to the Diff that follows it.
     */
    seconds: number;
    /** Checks and Diffs of other resources the engine ran meanwhile. */
    otherStepsMeanwhile: number;
}

/** Reads HostStart from an engine log (one JSON object per line, with `time` and `msg`). */
export function hostStartFromEngineLog(log: string): HostStart | undefined {
    const step = /^(?:ProviderRegistry|Provider\[[^\]]*\])\.(Check|Diff)\((urn:[^,)]*)/;
    const host = /::pulumi:providers:pulumi-nodejs::default$/;
    let started: number | undefined;
    let others = 0;
    for (const line of log.split("\n")) {
        let entry: { time?: string; msg?: string };
        try {
            entry = JSON.parse(line) as typeof entry;
        } catch {
            continue;
        }
        const match = step.exec(entry.msg ?? "");
        if (!match || entry.time === undefined || !/ executing/.test(entry.msg!)) continue;
        const [, verb, urn] = match;
        const at = Date.parse(entry.time);
        if (started === undefined) {
            if (verb === "Check" && host.test(urn!)) started = at;
        } else if (host.test(urn!)) {
            if (verb === "Diff") return { seconds: (at - started) / 1000, otherStepsMeanwhile: others };
        } else others++;
    }
    return undefined;
}

/** HostStart in words, for the no-op results and the report's verdict. */
export function describeHostStart(hostStart: HostStart): string {
    return (
        `the dynamic-provider host's start took ${hostStart.seconds.toFixed(2)} s of the engine's steps ` +
        `(from its Check of the default \`pulumi-nodejs\` provider, which launches the host, to the Diff after it), ` +
        `with ${hostStart.otherStepsMeanwhile} other resources checked or diffed meanwhile`
    );
}
