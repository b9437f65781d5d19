/**
 * Kubeconfig values as users pass them, and keeping their credentials out of every message.
 * Pure: strings in, strings out. A kubeconfig value is never quoted in an error; what we say
 * about it is its form and its length.
 */

/** What a `kubeconfig` string is, judged without reading any file. */
export type KubeconfigForm =
    | "yaml" // contents with real newlines (YAML, or JSON on several lines)
    | "json" // contents on one line, as JSON
    | "escaped-newlines" // contents on one line with literal `\n` escapes (a copy through a CI variable)
    | "base64" // base64-encoded contents (how CI systems usually store a kubeconfig secret)
    | "path"; // anything else: a file path

const KUBECONFIG_WORDS = /\b(apiVersion|clusters|contexts|current-context|users)\b/;

function decodeBase64(value: string): string | undefined {
    const compact = value.replace(/\s+/g, "");
    if (compact.length < 16 || compact.length % 4 === 1 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return undefined;
    const text = Buffer.from(compact, "base64").toString("utf8");
    return text.includes("\uFFFD") ? undefined : text;
}

export function kubeconfigForm(value: string): KubeconfigForm {
    const trimmed = value.trim();
    if (value.includes("\n")) return "yaml";
    if (trimmed.startsWith("{")) return "json";
    if (/\\n/.test(value) && KUBECONFIG_WORDS.test(value)) return "escaped-newlines";
    if (trimmed.startsWith("apiVersion")) return "yaml";
    const decoded = decodeBase64(trimmed);
    if (decoded !== undefined && KUBECONFIG_WORDS.test(decoded)) return "base64";
    return "path";
}

/** Kubeconfig contents that client-node can parse as they are. */
export function isKubeconfigContents(value: string): boolean {
    const form = kubeconfigForm(value);
    return form === "yaml" || form === "json";
}

/**
 * Why a kubeconfig value cannot be used as given, or undefined when it can be tried. The reason
 * says what was found and what to pass instead, and never quotes the value.
 */
export function unusableKubeconfigReason(value: string): string | undefined {
    const length = `${value.length} characters`;
    switch (kubeconfigForm(value)) {
        case "escaped-newlines":
            return (
                `got kubeconfig contents on one line with literal "\\n" escapes (${length}, not shown); ` +
                "pass the contents with real newlines, for example `pulumi config set --secret kubeconfig < ~/.kube/config`, " +
                "or a path to the file"
            );
        case "base64":
            return (
                `got base64-encoded kubeconfig contents (${length}, not shown); decode them first ` +
                '(in a program: `Buffer.from(value, "base64").toString("utf8")`; in a shell: `base64 -d`) and pass the contents, or a path to the file'
            );
        default:
            return undefined;
    }
}

/** Keys whose values are credentials, in any kubeconfig (users[].user, exec env, auth providers). */
const SECRET_KEYS =
    /(?:^|[\s{,"'])(token|password|client-key-data|client-certificate-data|client-secret|access-token|id-token|refresh-token|value|token-file)["']?\s*:\s*["']?([^\s"',}\]\\]+)/gi;
/** Keys whose values are names and addresses, not credentials: kept readable in messages. */
const NAME_KEYS =
    /(?:^|[\s{,"'])(name|cluster|user|context|current-context|namespace|server|kind|apiVersion|command|apiVersion|interactiveMode|provideClusterInfo)["']?\s*:\s*["']?$/;
/** Long words: exec-plugin arguments, tokens in odd places. */
const LONG_WORD = /[A-Za-z0-9_.\-/+=~]{16,}/g;
const WINDOW = 12;

/**
 * The strings of a kubeconfig that must never be shown: credential values under their keys,
 * every long word that is not a key or a name, the same of base64-decoded contents, the value as
 * a whole, and the base64 of each. Works on text that is not valid YAML, too.
 */
export function credentialStrings(kubeconfig: string | undefined): string[] {
    if (!kubeconfig) return [];
    const texts = [kubeconfig, kubeconfig.replace(/\\n/g, "\n")];
    const decoded = decodeBase64(kubeconfig.trim());
    if (decoded !== undefined) texts.push(decoded);
    const found = new Set<string>([kubeconfig.trim()]);
    for (const text of texts) {
        for (const match of text.matchAll(SECRET_KEYS)) found.add(match[2]);
        for (const match of text.matchAll(LONG_WORD)) {
            const after = text.slice(match.index + match[0].length);
            const before = text.slice(Math.max(0, match.index - 40), match.index);
            if (/^["']?\s*:/.test(after)) continue; // a key
            if (NAME_KEYS.test(before)) continue; // a name or address
            found.add(match[0]);
        }
    }
    // Basic auth travels as base64 of "username:password".
    for (const text of texts) {
        const username = /username["']?\s*:\s*["']?([^\s"',}]+)/.exec(text)?.[1];
        const password = /password["']?\s*:\s*["']?([^\s"',}]+)/.exec(text)?.[1];
        if (username !== undefined && password !== undefined) found.add(`${username}:${password}`);
    }
    const secrets = [...found].filter((s) => s.length >= 4);
    for (const s of [...secrets]) secrets.push(Buffer.from(s, "utf8").toString("base64"));
    return [...new Set(secrets)].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every credential string removed, whole or in part: any run of 12 characters that
 * also occurs in a long credential is replaced, so a truncated or re-wrapped copy goes too.
 */
export function redact(text: string, secrets: readonly string[]): string {
    if (secrets.length === 0 || text.length === 0) return text;
    let out = text;
    for (const secret of secrets) {
        if (out.includes(secret)) out = out.split(secret).join("[redacted]");
    }
    for (const secret of secrets) {
        if (secret.length < WINDOW) continue;
        for (let i = 0; i + WINDOW <= secret.length; i++) {
            const window = secret.slice(i, i + WINDOW);
            if (out.includes(window)) out = out.split(window).join("[redacted]");
        }
    }
    return out.replace(/(\[redacted\][^\s[]{0,11})+\[redacted\]/g, "[redacted]");
}

/** An Error whose message (and stack) carry no credential; keeps `code` for callers that read it. */
export function redactError(error: unknown, secrets: readonly string[]): Error {
    const message = redact(error instanceof Error ? error.message : String(error), secrets);
    if (error instanceof Error && message === error.message && !secrets.some((s) => error.stack?.includes(s))) {
        return error;
    }
    const code = (error as { code?: unknown } | undefined)?.code;
    const clean = new Error(message);
    clean.stack = `Error: ${message}`;
    return code === undefined ? clean : Object.assign(clean, { code });
}
