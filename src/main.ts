import 'reflect-metadata';
import { createApp, OPENAPI_JSON_PATH } from './app';
import { AppLogger } from './common/logger';
import { ConfigError, LoadedConfig, readConfig } from './config/config.loader';
import { startGrpc } from './grpc/grpc.server';

async function bootstrap(): Promise<void> {
  let loaded: LoadedConfig;
  try {
    loaded = readConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      // Level 'info' here, whatever LOG_LEVEL says: it may be one of the mistakes.
      new AppLogger('info').error({ msg: 'invalid configuration', problems: err.problems }, 'Config');
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = new AppLogger();
  const { config, path, defaulted } = loaded;
  if (defaulted.length > 0) {
    logger.log({ msg: `configuration keys not set in ${path} take their documented defaults`, keys: defaulted }, 'Config');
  }
  const app = await createApp(config, { logger });
  await app.listen({ port: config.server.http_port, host: config.server.host });
  // gRPC starts once HTTP has finished bootstrapping; it shares the services and the database.
  await startGrpc(app, config);
  logger.log(
    {
      msg: 'LLM Incident Manager listening',
      url: await app.getUrl(),
      docs: '/docs',
      openapi: OPENAPI_JSON_PATH,
      grpc: `${config.server.host}:${config.server.grpc_port}`,
      storage: config.storage.driver,
    },
    'Bootstrap',
  );
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
