import { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ErrorBody } from './http-exception.filter';
import type { ShutdownSignal } from './shutdown-signal';

/** Shutdown waits at most this long for clients on kept-alive connections to take their 503. */
const DRAIN_MAX_MS = 2000;
/** Clients count as gone once no request has arrived for this long. */
const QUIET_MS = 250;

/**
 * Shutdown, as HTTP clients see it. From the moment shutdown begins (the signal; Fastify's own
 * close comes only after the delivery pool has let its sends finish, up to 10 s later):
 *
 * - the listener stops taking connections (a new one is refused, which every client retries);
 * - a request not yet started is answered 503 SHUTTING_DOWN, and every answer (those of the
 *   requests already read, which finish normally) carries `connection: close`, so a client on a
 *   kept-alive connection reads its answer and closes, rather than having the connection cut
 *   under a request it is sending when the idle connections are closed;
 * - shutdown goes on once no request has arrived for 250 ms (at most 2 s): the clients that
 *   were sending have had their 503; what is still open then is idle, and Fastify closes it.
 */
export function answerShutdownOverHttp(fastify: FastifyInstance, shutdown: ShutdownSignal): void {
  let closing = false;
  let inFlight = 0;
  let lastRequestAt = 0;
  fastify.server.on('request', (_req, res) => {
    inFlight += 1;
    lastRequestAt = Date.now();
    res.once('close', () => (inFlight -= 1));
  });
  const begin = () => {
    if (closing) return;
    closing = true;
    lastRequestAt = Date.now();
    // net.Server's close, not http.Server's: Node's HTTP close also drops the idle kept-alive
    // connections at once, which is the cut this avoids.
    if (fastify.server.listening) Server.prototype.close.call(fastify.server);
    shutdown.holdUntil(quiet());
  };
  const quiet = async () => {
    const deadline = Date.now() + DRAIN_MAX_MS;
    while (Date.now() < deadline && (inFlight > 0 || Date.now() - lastRequestAt < QUIET_MS)) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  shutdown.closing$.subscribe({ next: begin, complete: begin });
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done();
    const body: ErrorBody = { error: { code: 'SHUTTING_DOWN', message: 'the service is shutting down', status: 503, details: {}, request_id: request.id } };
    void reply.status(503).header('connection', 'close').header('retry-after', '1').header('content-type', 'application/json; charset=utf-8').send(body);
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (closing && !reply.raw.headersSent) void reply.header('connection', 'close');
    done(null, payload);
  });
}
