import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundHostPort } from '../common/listen-address';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { MetricsService } from './metrics.service';

/**
 * metrics.port ≠ 0: the metrics on a plain-HTTP listener of their own, without a key. Meant for
 * a port only the scrape network reaches, so it answers GET /metrics and nothing else.
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server?: Server;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at GET /metrics\n');
        return;
      }
      this.metrics.render().then(
        (text) =>
          response.writeHead(200, { 'content-type': this.metrics.contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : text),
        (err: Error) => {
          this.logger.error({ msg: 'rendering the metrics failed', error: err.message });
          response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n');
        },
      );
    });
    // The main server's timeouts, so a slow client cannot hold this listener either.
    server.headersTimeout = this.config.server.request_header_timeout_secs * 1000;
    server.requestTimeout = this.config.server.request_timeout_secs * 1000;
    server.listen(this.config.metrics.port, this.config.server.host);
    await once(server, 'listening');
    this.server = server;
    this.logger.log({ msg: 'metrics listening', address: boundHostPort(server.address() as AddressInfo), path: '/metrics' });
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
