import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Logger } from '@nestjs/common';

/** How often the loop is looked at. */
const INTERVAL_MS = 50;
/** A task that held the loop longer than this is logged. */
export const STALL_THRESHOLD_MS = 200;

/**
 * Says so in the log when one task held the event loop for more than 200 ms (every request, the
 * health checks included, waited that long), naming the HTTP routes in progress at the time, the
 * likely culprit among them. A timer that fires every 50 ms measures how late it fired: the
 * lateness is how long something else held the loop. The loop's delay itself (p50, p99, max) is
 * a metric: llm_im_nodejs_eventloop_lag_p99_seconds and _max_seconds.
 */
export function guardEventLoop(fastify: FastifyInstance, onStall?: (heldMs: number) => void): void {
  const logger = new Logger('EventLoop');
  // The requests in progress, until their connection's answer is done or the client goes.
  const inProgress = new Map<FastifyRequest, string>();
  fastify.addHook('onRequest', (request, reply, done) => {
    inProgress.set(request, `${request.method} ${request.routeOptions.url ?? 'unmatched'}`);
    // The response's close, not the request's: a request without a body may close as soon as
    // its (empty) body is read, while its answer (an event stream) goes on for hours.
    reply.raw.once('close', () => inProgress.delete(request));
    done();
  });
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const held = now - last - INTERVAL_MS;
    last = now;
    if (held <= STALL_THRESHOLD_MS) return;
    onStall?.(held);
    logger.warn({
      msg: 'The event loop was held: every request waited',
      held_ms: Math.round(held),
      routes_in_progress: [...new Set(inProgress.values())].slice(0, 10),
      requests_in_progress: inProgress.size,
    });
  }, INTERVAL_MS);
  timer.unref();
  fastify.addHook('onClose', (_instance, done) => {
    clearInterval(timer);
    done();
  });
}
