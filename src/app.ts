import { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { Clock } from './common/clock';
import { answerClientError, answerFrameworkError, HttpExceptionFilter, refuseWhileClosing } from './common/http-exception.filter';
import { acceptOnlyJson } from './common/json-body';
import { DtoValidationPipe } from './common/pipes';
import type { AppConfig } from './config/config.schema';

export const OPENAPI_JSON_PATH = '/docs/openapi.json';

export interface AppOptions {
  logger?: LoggerService | false;
  clock?: Clock;
}

/** Builds the whole application (HTTP, validation, errors, Swagger) without listening. */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.server.body_limit_bytes,
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    return503OnClosing: false, // refuseWhileClosing answers in the envelope instead
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forConfig(config, options.clock), adapter, {
    logger: options.logger ?? false,
    bufferLogs: false,
    abortOnError: false,
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  acceptOnlyJson(fastify);
  refuseWhileClosing(fastify);
  app.useGlobalPipes(new DtoValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter());
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('LLM Incident Manager')
      .setDescription(
        'Alerts in, incidents out: deduplication, lifecycle (Detected → Triaged → Investigating → Remediating → Resolved → Closed) and timeline. Every error answers {"error": {code, message, status, details}}.',
      )
      .setVersion('0.1.0')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: OPENAPI_JSON_PATH.slice(1), yamlDocumentUrl: 'docs/openapi.yaml' });
  await app.init();
  return app;
}
