/** Runs `f` with console.log lines (the provider's progress) collected into `lines`. */
export async function withConsoleLines<T>(lines: string[], f: () => Promise<T>): Promise<T> {
    const original = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.join(" "));
    try {
        return await f();
    } finally {
        console.log = original;
    }
}
