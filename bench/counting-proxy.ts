/**
 * A TCP forwarder in front of the apiserver that counts the bytes through it, both ways: the wire
 * traffic (TLS included) of a client this process cannot instrument, such as the kubernetes
 * provider plugin. The same measure as the sockets the bench counts in its own processes.
 */
import * as net from "node:net";

export class CountingProxy {
    bytes = 0;
    connections = 0;

    private constructor(
        private readonly server: net.Server,
        /** The kubeconfig with the proxy as its server (same credentials: the certificate names 127.0.0.1). */
        readonly kubeconfig: string,
    ) {}

    static async start(kubeconfig: string, server: string): Promise<CountingProxy> {
        const target = new URL(server);
        const self: { proxy?: CountingProxy } = {};
        const listener = net.createServer((client) => self.proxy!.forward(client, target));
        await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
        const port = (listener.address() as net.AddressInfo).port;
        const proxied = kubeconfig.split(target.origin).join(`https://127.0.0.1:${port}`);
        if (proxied === kubeconfig) throw new Error(`server ${target.origin} not found in the kubeconfig`);
        self.proxy = new CountingProxy(listener, proxied);
        return self.proxy;
    }

    async stop(): Promise<void> {
        await new Promise((resolve) => this.server.close(resolve));
    }

    private forward(client: net.Socket, target: URL): void {
        this.connections++;
        const upstream = net.connect(Number(target.port), target.hostname);
        const close = () => {
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
