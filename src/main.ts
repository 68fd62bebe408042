import 'reflect-metadata';
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
  await startGrpc(app, config);
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
  logger.log(
    {
      msg: 'LLM Incident Manager listening',
      // Nest's getUrl says http unless Nest itself was given httpsOptions; TLS is set on Fastify.
      url: config.server.tls_cert_path ? (await app.getUrl()).replace(/^http:/, 'https:') : await app.getUrl(),
      docs: '/docs',
      openapi: OPENAPI_JSON_PATH,
      grpc: `${config.server.host}:${config.server.grpc_port}`,
      grpc_tls: config.server.tls_cert_path !== '',
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
