/**
 * A TCP forwarder in front of the local apiserver: TLS and HTTP/2 pass through untouched, so a
 * client behaves exactly as it does against the apiserver itself. A test cuts every connection
 * through it at once (a reset, as a failing load balancer or a network blip does), which breaks
 * the watches and any request in flight, while the apiserver keeps running.
 */
import * as net from "node:net";
import type { TestCluster } from "./cluster";

export class TcpProxy {
    /** Connections the client has opened through the proxy. */
    connections = 0;
    /** Connections the proxy has cut. */
    cutConnections = 0;
    private readonly open = new Set<{ client: net.Socket; upstream: net.Socket }>();

    private constructor(
        private readonly server: net.Server,
        readonly kubeconfig: string,
    ) {}

    static async start(cluster: TestCluster): Promise<TcpProxy> {
        const target = new URL(cluster.kc.getCurrentCluster()!.server);
        const self: { proxy?: TcpProxy } = {};
        const server = net.createServer((client) => self.proxy!.forward(client, target));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as net.AddressInfo).port;
        // Same credentials and CA (the serving certificate names 127.0.0.1): only the port changes.
        const kubeconfig = cluster.kubeconfig.split(target.origin).join(`https://127.0.0.1:${port}`);
        if (kubeconfig === cluster.kubeconfig) throw new Error(`server ${target.origin} not found in the kubeconfig`);
        self.proxy = new TcpProxy(server, kubeconfig);
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
        client.on("error", close).on("close", close);
        upstream.on("error", close).on("close", close);
        client.pipe(upstream);
        upstream.pipe(client);
    }
}
