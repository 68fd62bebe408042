import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { boundHostPort, isEveryInterface } from './common/listen-address';
import { createApp, OPENAPI_JSON_PATH } from './app';
import { AppLogger } from './common/logger';
import { ConfigError, readConfig } from './config/config.loader';
import { startGrpc } from './grpc/grpc.server';
import { RoutingService } from './routing/routing.service';

async function bootstrap(): Promise<void> {
  const { config, path, defaulted } = readConfig();
  const logger = new AppLogger();
  if (defaulted.length > 0) {
    logger.log({ msg: `configuration keys not set in ${path} take their documented defaults`, keys: defaulted }, 'Config');
  }
  const app = await createApp(config, { logger });
  await app.listen({ port: config.server.http_port, host: config.server.host });
  // gRPC starts once HTTP has finished bootstrapping; it shares the services and the database.
  const grpc = await startGrpc(app, config);
  // SIGHUP reloads the routing (receivers, escalation policies, routes), as amtool users expect;
  // a bad file is refused and logged with its problems, and the running routing stays.
  const routing = app.get(RoutingService);
  process.on('SIGHUP', () => {
    try {
      routing.reload('SIGHUP');
    } catch {
      // already logged with the reason by RoutingService.reload
    }
  });
  const tls = config.server.tls_cert_path !== '';
  logger.log(
    {
      msg: 'LLM Incident Manager listening',
      // What the sockets hold, not a guess: 0.0.0.0 (the default) is every IPv4 interface.
      http: `${tls ? 'https' : 'http'}://${boundHostPort(app.getHttpServer().address() as AddressInfo)}`,
      grpc: grpc.address,
      grpc_tls: tls,
      ...(isEveryInterface(config.server.host) && {
        reachable_on: 'every interface of this host (server.host); set server.host = "127.0.0.1" to serve this host only',
      }),
      docs: '/docs',
      openapi: OPENAPI_JSON_PATH,
      storage: config.storage.driver,
    },
    'Bootstrap',
  );
}

bootstrap().catch((err: unknown) => {
  // Raised by the loader, or later by a check that reads what a key names (the TLS files).
  if (err instanceof ConfigError) {
    // Level 'info' here, whatever LOG_LEVEL says: it may be one of the mistakes.
    new AppLogger('info').error({ msg: 'invalid configuration', problems: err.problems }, 'Config');
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
