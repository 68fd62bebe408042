import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config/config.schema';
import { MetricsService } from './metrics.service';

/** The route label of a request no route matched (404s, and requests refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * One onResponse hook times every HTTP answer. The route label is the pattern Fastify matched
 * (/v1/incidents/:id), never the raw URL, which holds ids and whatever a client sends.
 * reply.elapsedTime runs from Fastify's own arrival stamp, so no hook is needed at the start.
 */
export function applyHttpMetrics(app: NestFastifyApplication, config: AppConfig): void {
  if (!config.metrics.enabled) return;
  const metrics = app.get(MetricsService);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      metrics.httpRequest(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
}
