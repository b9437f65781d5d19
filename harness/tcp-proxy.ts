/**
 * A TCP forwarder in front of the local apiserver: TLS and HTTP/2 pass through untouched, so a
 * client behaves exactly as it does against the apiserver itself. A test cuts every connection
 * through it at once (a reset, as a failing load balancer or a network blip does), which breaks
 * the watches and any request in flight, while the apiserver keeps running. It also counts the
 * bytes it carries both ways (TLS included): the bench's measure of a client it cannot
 * instrument, such as the kubernetes provider plugin.
 */
import * as net from "node:net";
import type { TestCluster } from "./cluster";

export class TcpProxy {
    /** Connections the client has opened through the proxy. */
    connections = 0;
    /** Connections the proxy has cut. */
    cutConnections = 0;
    /** Bytes carried, both ways, as on the wire. */
    bytes = 0;
    private readonly open = new Set<{ client: net.Socket; upstream: net.Socket }>();

    private constructor(
        private readonly server: net.Server,
        readonly kubeconfig: string,
    ) {}

    static start(cluster: TestCluster): Promise<TcpProxy> {
        return TcpProxy.forKubeconfig(cluster.kubeconfig, cluster.kc.getCurrentCluster()!.server);
    }

    /** A proxy in front of `server`, and `kubeconfig` rewritten to reach it. */
    static async forKubeconfig(original: string, server: string): Promise<TcpProxy> {
        const target = new URL(server);
        const self: { proxy?: TcpProxy } = {};
        const listener = net.createServer((client) => self.proxy!.forward(client, target));
        await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
        const port = (listener.address() as net.AddressInfo).port;
        // Same credentials and CA (the serving certificate names 127.0.0.1): only the port changes.
        const kubeconfig = original.split(target.origin).join(`https://127.0.0.1:${port}`);
        if (kubeconfig === original) throw new Error(`server ${target.origin} not found in the kubeconfig`);
        self.proxy = new TcpProxy(listener, kubeconfig);
        return self.proxy;
    }

    /** Connections open right now. */
    get openConnections(): number {
        return this.open.size;
    }

    /** Resets every open connection; returns how many were cut. */
    cutAll(): number {
        let n = 0;
        for (const pair of this.open) {
            pair.client.resetAndDestroy();
            pair.upstream.destroy();
            n++;
        }
        this.open.clear();
        this.cutConnections += n;
        return n;
    }

    async stop(): Promise<void> {
        this.cutAll();
        await new Promise((resolve) => this.server.close(resolve));
    }

    private forward(client: net.Socket, target: URL): void {
        this.connections++;
        const upstream = net.connect(Number(target.port), target.hostname);
        const pair = { client, upstream };
        this.open.add(pair);
        const close = () => {
            this.open.delete(pair);
            client.destroy();
            upstream.destroy();
        };
        client.on("data", (chunk: Buffer) => (this.bytes += chunk.length));
        upstream.on("data", (chunk: Buffer) => (this.bytes += chunk.length));
        client.on("error", close).on("close", close);
        upstream.on("error", close).on("close", close);
        client.pipe(upstream);
        upstream.pipe(client);
    }
}
