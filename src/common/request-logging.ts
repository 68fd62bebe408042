import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id';

/**
 * Request ids and the access log, without an AsyncLocalStorage.
 *
 * Fastify gives each request its id (request.id, from genReqId) and every answer carries it in
 * x-request-id. The log lines written while a request is handled (the access guard's refusals,
 * the error filters' faults) take the id from the request or the gRPC call they already hold,
 * where they are written; a service writing on a request's behalf gets it from its handler
 * (@RequestId()). Not nestjs-pino's AsyncLocalStorage, which would reach any line
 * written through Nest's Logger: on Node 20 an AsyncLocalStorage in use hooks every promise the
 * process creates, and that measured 11 % more service CPU per alert on the single-alert ingest
 * benchmark (bench/logging-cost.js, median of 7 paired rounds; docs/operations.md#logs), where
 * the issue allowed 3 %. The price: a line written deeper down (a service, the transactor) has
 * no request id unless its caller hands it one.
 */
export const REQUEST_ID_OPTIONS: Pick<FastifyServerOptions, 'genReqId' | 'requestIdHeader'> = {
  // Fastify would take any header value as it is; requestIdOf takes only a harmless one.
  requestIdHeader: false,
  genReqId: (request: IncomingMessage) => requestIdOf(request.headers[REQUEST_ID_HEADER]),
};

/** The access log of each application, for its gRPC server (see startGrpc). */
const accessLogs = new WeakMap<object, Logger>();

export function accessLogOf(app: object): Logger | undefined {
  return accessLogs.get(app);
}

/**
 * Every answer carries its request id; with an access log, each request then writes one line
 * when its answer is done. Register before any other onRequest hook, so that answers those
 * hooks send (401 for the docs, 503 while closing) carry the id too.
 */
export function applyRequestLogging(app: object, fastify: FastifyInstance, accessLog: Logger | undefined): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  if (!accessLog) return;
  accessLogs.set(app, accessLog);
  // The route pattern, never the URL: a query string or a path may carry what is not for logs.
  fastify.addHook('onResponse', (request, reply, done) => {
    accessLog.info({
      msg: 'request completed',
      transport: 'http',
      method: request.method,
      route: request.routeOptions.url ?? null,
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      request_id: request.id,
      remote: request.ip,
    });
    done();
  });
}
