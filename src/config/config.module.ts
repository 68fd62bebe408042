import { DynamicModule, Global, Inject, Module } from '@nestjs/common';
import { ConfigService, ConfigModule as NestConfigModule, registerAs } from '@nestjs/config';
import type { AppConfig } from './config.schema';

export const APP_CONFIG = Symbol('APP_CONFIG');

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
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      imports: [NestConfigModule.forRoot({ ignoreEnvFile: true, load: [registerAs(CONFIG_NAMESPACE, () => config)] })],
      providers: [
        { provide: APP_CONFIG, inject: [ConfigService], useFactory: (configService: ConfigService) => configService.getOrThrow<AppConfig>(CONFIG_NAMESPACE) },
      ],
      exports: [APP_CONFIG, NestConfigModule],
    };
  }
}
