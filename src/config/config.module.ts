import { DynamicModule, Global, Inject, Logger, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule, registerAs } from '@nestjs/config';
import { loadConfig } from './config.loader';
import type { AppConfig } from './config.schema';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Reads the configuration again (the file and the environment), for a reload of the routing. */
export const CONFIG_SOURCE = Symbol('CONFIG_SOURCE');
export type ConfigSource = () => AppConfig;

/** Where the validated configuration sits in @nestjs/config's ConfigService. */
export const CONFIG_NAMESPACE = 'app';

/** Injects the validated configuration object, typed. */
export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);

/**
 * The configuration through @nestjs/config. The TOML file, the LLM_IM__* overrides and the
 * fail-fast validation (config.loader.ts) run before the application is built, so a bad config
 * stops the process with every problem named; the validated object is then loaded into
 * ConfigService (`configService.get('app.notifications.worker_threads')` works), and
 * InjectConfig() hands out the whole typed object. No .env file is read.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, source: ConfigSource = () => loadConfig(process.env)): DynamicModule {
    const appConfig = registerAs(CONFIG_NAMESPACE, () => config);
    return {
      module: ConfigModule,
      imports: [NestConfigModule.forRoot({ ignoreEnvFile: true, load: [appConfig] })],
      // The registered namespace's own provider: resolved once @nestjs/config has loaded it.
      providers: [
        {
          provide: APP_CONFIG,
          inject: [appConfig.KEY],
          useFactory: (loaded: AppConfig) => {
            logConfigWarnings(loaded, new Logger('Config'));
            return loaded;
          },
        },
        { provide: CONFIG_SOURCE, useValue: source },
      ],
      exports: [APP_CONFIG, CONFIG_SOURCE, NestConfigModule],
    };
  }
}

/** What the configuration allows but is surely a mistake (a severity matcher that can't match P0–P4): one warning each, at startup and reload. */
export function logConfigWarnings(config: AppConfig, logger: Pick<Logger, 'warn'>): void {
  for (const warning of config.routing.warnings) logger.warn({ msg: `configuration warning: ${warning.key}: ${warning.message}`, key: warning.key });
}
