import { once } from 'node:events';
import { createConnection, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy a test controls, between the service and its PostgreSQL: cut() drops every
 * connection through it and refuses new ones (the port is closed: ECONNREFUSED, as for a
 * stopped server), restore() listens again on the same port. The shared PostgreSQL server is
 * never touched.
 */
export class TcpProxy {
  private server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = this.makeServer();
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  /** Connections open through the proxy now (each client connection counts once). */
  get connections(): number {
    return this.sockets.size / 2;
  }

  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async restore(): Promise<void> {
    this.server = this.makeServer();
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async close(): Promise<void> {
    await this.cut().catch(() => undefined);
  }

  private makeServer(): Server {
    return createServer((client) => {
      const upstream = createConnection(this.targetPort, this.targetHost);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
  }
}
