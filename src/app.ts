import cors from '@fastify/cors';
import { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { HelmetOptions } from 'helmet';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { applyHttpAuth, authenticateBeforeBody, limitCredentialBodies } from './auth/http-auth';
import { Clock } from './common/clock';
import { ShutdownSignal } from './common/shutdown-signal';
import { answerClientError, answerFrameworkError, HttpExceptionFilter } from './common/http-exception.filter';
import { answerShutdownOverHttp } from './common/http-shutdown';
import { acceptOnlyJson } from './common/json-body';
import { AppLogger } from './common/logger';
import { DtoValidationPipe } from './common/pipes';
import { applyRequestLogging, REQUEST_ID_OPTIONS } from './common/request-logging';
import { readTlsFiles, TlsFiles } from './common/tls';
import { ConfigError } from './config/config.loader';
import { applyHttpMetrics } from './metrics/http-metrics';
import { MetricsService } from './metrics/metrics.service';
import { guardEventLoop } from './common/event-loop-guard';
import { serveConsole } from './console/console-static';
import type { AppConfig } from './config/config.schema';
import type { ConfigSource } from './config/config.module';

export const OPENAPI_JSON_PATH = '/docs/openapi.json';

export interface AppOptions {
  logger?: LoggerService | false;
  clock?: Clock;
  /** Where a reload reads the configuration from (default: CONFIG_PATH and the environment again). */
  configSource?: ConfigSource;
}

/** Builds the whole application (HTTP, validation, errors, Swagger) without listening. */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    ...serverOptions(config, readTlsFiles(config.server)),
    bodyLimit: config.server.body_limit_bytes,
    ...REQUEST_ID_OPTIONS,
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    return503OnClosing: false, // answerShutdownOverHttp answers in the envelope instead
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forConfig(config, options.clock, options.configSource), adapter, {
    logger: options.logger ?? false,
    bufferLogs: false,
    abortOnError: false,
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  const accessLog = config.server.access_log && options.logger instanceof AppLogger ? options.logger.accessLogger() : undefined;
  applyRequestLogging(app, fastify, accessLog);
  await applyHttpHardening(app, config);
  acceptOnlyJson(fastify);
  answerShutdownOverHttp(fastify, app.get(ShutdownSignal));
  applyHttpAuth(app, config);
  limitCredentialBodies(fastify);
  applyHttpMetrics(app, config);
  const metrics = app.get(MetricsService);
  guardEventLoop(fastify, () => metrics.eventLoopStall());
  app.useGlobalPipes(new DtoValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter());
  // Not SIGHUP (Nest's default list has it): SIGHUP reloads the routing (main.ts).
  const shutdownSignals = ['SIGTERM', 'SIGINT', 'SIGQUIT'];
  app.get(ShutdownSignal).listenTo(shutdownSignals);
  app.enableShutdownHooks(shutdownSignals);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('LLM Incident Manager')
      .setDescription(
        'Alerts in, incidents out: deduplication, lifecycle (Detected → Triaged → Investigating → Remediating → Resolved → Closed) and timeline. Every error answers {"error": {code, message, status, details, request_id}}; every answer carries x-request-id.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key: lim_<id>_<secret> (see docs/security.md)' })
      .build(),
  );
  authenticateBeforeBody(app, config, document);
  await serveConsole(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: OPENAPI_JSON_PATH.slice(1), yamlDocumentUrl: 'docs/openapi.yaml' });
  await app.init();
  return app;
}

/**
 * The listener: HTTPS when TLS is configured, and the read timeouts. Node checks its header and
 * request timeouts only every connectionsCheckingInterval (30 s by default), so the interval is
 * shortened to keep the cut-off near the configured value. Both timeouts run from a request's
 * first byte until it has been received in full: an idle kept-alive connection is not affected
 * (keepAliveTimeout closes it), nor is a slow handler.
 */
function serverOptions(config: AppConfig, tls: TlsFiles | undefined) {
  const requestTimeout = config.server.request_timeout_secs * 1000;
  // Node refuses a header timeout above the request timeout; the headers are part of the request.
  const headersTimeout = Math.min(config.server.request_header_timeout_secs * 1000, requestTimeout);
  const node = { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout / 2) };
  // Fastify sets server.requestTimeout itself after creating the server (0, off, unless given).
  return tls ? { requestTimeout, https: { ...node, cert: tls.cert, key: tls.key } } : { requestTimeout, http: node };
}

/**
 * Security headers on every answer, the API's and Swagger UI's, and CORS when origins are
 * configured. Swagger UI (as served by @nestjs/swagger) loads its scripts from files but has inline
 * <style> blocks and style attributes, hence 'unsafe-inline' for styles only.
 */
export async function applyHttpHardening(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const tls = config.server.tls_cert_path !== '';
  const headers = securityHeaders({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'style-src': ["'self'", "'unsafe-inline'"],
        'font-src': ["'self'", 'data:'],
        // Over plain HTTP (no TLS, or TLS ended at a proxy in front) this directive would send
        // the browser to https:// for Swagger UI's own files, which then fail to load.
        'upgrade-insecure-requests': tls ? [] : null,
      },
    },
    // Browsers honour these two in secure contexts only; on a plain-HTTP origin they ignore
    // them and say so in the console.
    crossOriginOpenerPolicy: tls,
    originAgentCluster: tls,
  });
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (_request, reply, done) => {
      void reply.headers(headers);
      done();
    });
  const origins = corsOrigins(config.server.cors_origins);
  if (origins.length > 0) {
    // An unlisted origin gets no Access-Control-Allow-Origin, so the browser refuses the answer.
    // Credentials are API keys in the Authorization header, not cookies: no allow-credentials.
    // The methods list grants nothing by itself (the key does); @fastify/cors's default lacks PATCH.
    await app.register(cors, { origin: origins, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], exposedHeaders: ['Retry-After'], maxAge: 600 });
  }
}

/**
 * The headers helmet sets, computed once. They depend only on the configuration (no nonces), and
 * @fastify/helmet rebuilt helmet, CSP parsing included, on every request: that measured about
 * 100 µs of CPU per alert (12 %) on the single-alert ingest benchmark. Same library, same headers.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const collector = {
    setHeader: (name: string, value: string | number | readonly string[]) => (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => delete headers[name.toLowerCase()],
  };
  helmet(options)({} as IncomingMessage, collector as unknown as ServerResponse, () => undefined);
  return headers;
}

/** Browsers send the Origin header as scheme://host[:port]; configured values are compared in that form. */
function corsOrigins(configured: readonly string[]): string[] {
  return configured.map((value) => {
    let origin: string | undefined;
    try {
      origin = new URL(value).origin;
    } catch {
      origin = undefined;
    }
    if (!origin || origin === 'null' || !/^https?:/.test(origin)) {
      throw ConfigError.of('server.cors_origins', `"${value}" is not an origin such as https://oncall.example.com`);
    }
    return origin;
  });
}
