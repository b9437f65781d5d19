/**
 * A TLS-terminating proxy in front of the local apiserver, for tests: it counts the requests and
 * body bytes a client exchanges, and answers a share of requests with 429/5xx. Clients use
 * `proxy.kubeconfig`; the proxy talks to the apiserver with the admin credentials. Cut
 * connections are the TCP forwarder's job (./tcp-proxy.ts), which passes TLS through untouched.
 *
 * It runs in a child process, away from the client under test.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fork, type ChildProcess } from "node:child_process";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { TestCluster } from "../../harness/cluster";

export interface ProxyStats {
    requests: number;
    /** Requests held open without an answer (`hang`). */
    hung?: number;
    watchRequests: number;
    /** Request and response body bytes. */
    bytes: number;
    injectedErrors: number;
}

/** What a request is, for fault injection: GET (not a watch), POST, DELETE, PATCH, or a watch. */
export type RequestKind = "get" | "create" | "delete" | "patch" | "watch";

export interface Faults {
    /** Every n-th non-watch request is answered with `errorStatus` instead of being forwarded (0: none). */
    errorEvery: number;
    errorStatus: number;
    /**
     * Requests of these kinds are accepted and never answered (a watch gets its 200 and headers,
     * then nothing, as from a watch that silently stopped delivering).
     */
    hang: RequestKind[];
}

/** A throw-away certificate for 127.0.0.1 (openssl), for the test servers the apiserver or clients call. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
    const dir = mkdtempSync(path.join(tmpdir(), "prepuller-proxy-cert-"));
    try {
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                path.join(dir, "key.pem"),
                "-out",
                path.join(dir, "cert.pem"),
            ],
            { stdio: "ignore" },
        );
        return { key: readFileSync(path.join(dir, "key.pem")), cert: readFileSync(path.join(dir, "cert.pem")) };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

class ProxyServer {
    readonly stats: ProxyStats = { requests: 0, watchRequests: 0, bytes: 0, injectedErrors: 0 };
    readonly faults: Faults = { errorEvery: 0, errorStatus: 503, hang: [] };
    /** Requests held open by `hang`, answered with nothing; counted for the test. */
    hung = 0;
    private nonWatchRequests = 0;
    private readonly sockets = new Set<Socket>();

    private constructor(
        private readonly server: https.Server,
        readonly kubeconfig: string,
    ) {}

    static async start(upstreamKubeconfig: string): Promise<ProxyServer> {
        const lib = require("@kubernetes/client-node") as typeof k8s;
        const kc = new lib.KubeConfig();
        kc.loadFromString(upstreamKubeconfig);
        const upstreamCluster = kc.getCurrentCluster()!;
        const user = kc.getCurrentUser()!;
        const upstream = new URL(upstreamCluster.server);
        const agent = new https.Agent({
            keepAlive: true,
            ca: upstreamCluster.caData ? Buffer.from(upstreamCluster.caData, "base64") : undefined,
            cert: user.certData ? Buffer.from(user.certData, "base64") : undefined,
            key: user.keyData ? Buffer.from(user.keyData, "base64") : undefined,
        });
        const token = user.token;
        // The server's callbacks need the proxy object, which needs the server: break the cycle.
        const self: { proxy?: ProxyServer } = {};
        const server = https.createServer(selfSignedCertificate(), (req, res) =>
            self.proxy!.handle(req, res, upstream, agent, token),
        );
        server.on("connection", (socket: Socket) => {
            const proxy = self.proxy;
            proxy?.sockets.add(socket);
            socket.on("close", () => proxy?.sockets.delete(socket));
        });
        // Keep idle connections open like the apiserver does: a proxy closing them after Node's
        // default 5 s races the client reusing them, which no real apiserver path does.
        server.keepAliveTimeout = 10 * 60 * 1000;
        server.requestTimeout = 0;
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as { port: number }).port;
        const kubeconfig = JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
                { name: "proxy", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } },
            ],
            users: [{ name: "proxy", user: { token: "unused-by-the-proxy" } }],
            contexts: [{ name: "proxy", context: { cluster: "proxy", user: "proxy" } }],
            "current-context": "proxy",
        });
        self.proxy = new ProxyServer(server, kubeconfig);
        return self.proxy;
    }

    resetStats(): void {
        Object.assign(this.stats, { requests: 0, watchRequests: 0, bytes: 0, injectedErrors: 0 });
    }

    async stop(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        await new Promise((resolve) => this.server.close(resolve));
    }

    private handle(req: IncomingMessage, res: ServerResponse, upstream: URL, agent: https.Agent, token?: string): void {
        const isWatch = /[?&]watch=(true|1)/.test(req.url ?? "");
        const kind: RequestKind = isWatch
            ? "watch"
            : req.method === "POST"
              ? "create"
              : req.method === "DELETE"
                ? "delete"
                : req.method === "PATCH"
                  ? "patch"
                  : "get";
        if (this.faults.hang.includes(kind)) {
            this.hung++;
            if (kind === "watch") {
                res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
                res.flushHeaders();
            }
            return; // never answered (or never sent a byte more); the client must give up on its own
        }
        this.stats.requests++;
        if (isWatch) this.stats.watchRequests++;
        if (!isWatch) this.nonWatchRequests++;
        // Deterministic, not random: a test must not pass or fail by the luck of the draw.
        if (!isWatch && this.faults.errorEvery > 0 && this.nonWatchRequests % this.faults.errorEvery === 0) {
            this.stats.injectedErrors++;
            const status = this.faults.errorStatus;
            res.writeHead(status, { "Content-Type": "application/json", "Retry-After": "1" });
            res.end(
                JSON.stringify({
                    kind: "Status",
                    apiVersion: "v1",
                    status: "Failure",
                    code: status,
                    message: "injected by the test proxy",
                }),
            );
            return;
        }
        const headers = { ...req.headers, host: upstream.host };
        delete headers.authorization;
        for (const hop of ["connection", "keep-alive"]) delete (headers as Record<string, unknown>)[hop];
        if (token) headers.authorization = `Bearer ${token}`;
        const forward = https.request(
            { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent },
            (upstreamRes) => {
                // Hop-by-hop headers describe the upstream connection, not ours.
                const responseHeaders = { ...upstreamRes.headers };
                for (const hop of ["connection", "keep-alive", "transfer-encoding"]) delete responseHeaders[hop];
                res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders);
                // Node holds the headers back until the first body byte; a watch may have no event
                // for a long time, and client-node's fetch would wait for them (as the apiserver
                // itself does, send them now).
                res.flushHeaders();
                upstreamRes.on("data", (chunk: Buffer) => (this.stats.bytes += chunk.length));
                upstreamRes.pipe(res);
                res.on("close", () => upstreamRes.destroy());
            },
        );
        forward.on("error", () => res.destroy());
        req.on("data", (chunk: Buffer) => (this.stats.bytes += chunk.length));
        req.pipe(forward);
    }
}

type Command = { id: number; cmd: "stats" | "reset" | "stop" } | { id: number; cmd: "faults"; faults: Partial<Faults> };

/** The test-side handle of a proxy running in a child process. */
export class ApiProxy {
    private nextId = 1;
    private readonly pending = new Map<number, (value: unknown) => void>();

    private constructor(
        private readonly child: ChildProcess,
        readonly kubeconfig: string,
    ) {
        child.on("message", (message: { id: number; result: unknown }) => {
            this.pending.get(message.id)?.(message.result);
            this.pending.delete(message.id);
        });
    }

    static async start(cluster: TestCluster): Promise<ApiProxy> {
        const child = fork(__filename, [], {
            execArgv: ["-r", "ts-node/register/transpile-only"],
            env: { ...process.env, API_PROXY_UPSTREAM: cluster.kubeconfig },
            stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        const kubeconfig = await new Promise<string>((resolve, reject) => {
            child.once("message", (m: { ready: string }) => resolve(m.ready));
            child.once("exit", (code) => reject(new Error(`the API proxy exited with ${code}`)));
        });
        return new ApiProxy(child, kubeconfig);
    }

    private send<T>(command: Omit<Command, "id"> & { cmd: Command["cmd"] }): Promise<T> {
        const id = this.nextId++;
        return new Promise<T>((resolve) => {
            this.pending.set(id, resolve as (value: unknown) => void);
            this.child.send({ ...command, id });
        });
    }

    stats(): Promise<ProxyStats> {
        return this.send({ cmd: "stats" });
    }
    resetStats(): Promise<void> {
        return this.send({ cmd: "reset" });
    }
    setFaults(faults: Partial<Faults>): Promise<void> {
        return this.send({ cmd: "faults", faults } as never);
    }
    async stop(): Promise<void> {
        await this.send({ cmd: "stop" }).catch(() => undefined);
        this.child.kill();
    }
}

if (require.main === module && process.env.API_PROXY_UPSTREAM) {
    void ProxyServer.start(process.env.API_PROXY_UPSTREAM).then((server) => {
        process.on("message", async (command: Command) => {
            let result: unknown;
            switch (command.cmd) {
                case "stats":
                    result = { ...server.stats, hung: server.hung };
                    break;
                case "reset":
                    server.resetStats();
                    break;
                case "faults":
                    Object.assign(server.faults, command.faults);
                    break;
                case "stop":
                    await server.stop();
                    process.send!({ id: command.id, result: null });
                    process.exit(0);
            }
            process.send!({ id: command.id, result: result ?? null });
        });
        process.send!({ ready: server.kubeconfig });
    });
}
