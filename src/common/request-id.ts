import { randomUUID } from 'node:crypto';
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import type { FastifyRequest } from 'fastify';

/** The header (REST) and metadata entry (gRPC) a request id arrives in and is answered in. */
export const REQUEST_ID_HEADER = 'x-request-id';

const ACCEPTED = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id of a request: the caller's own when it sent one in a harmless form (so that a proxy's
 * or a client's id can be followed through the logs), otherwise a new UUID. Anything else the
 * caller sent is dropped rather than cleaned: it reaches log lines and answer headers, and a
 * half-kept value would be neither the caller's id nor a unique one.
 */
export function requestIdOf(given: unknown): string {
  return typeof given === 'string' && ACCEPTED.test(given) ? given : randomUUID();
}

/**
 * The handler parameter holding the request's id (REST: Fastify's request.id; gRPC: the metadata
 * entry the request-id interceptor has set), for the log lines a service writes on the request's
 * behalf.
 */
export const RequestId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string | undefined =>
  ctx.getType() === 'rpc' ? requestIdOfCall(ctx.switchToRpc().getContext<Metadata>()) : ctx.switchToHttp().getRequest<FastifyRequest>().id,
);

/** The id of the gRPC call whose metadata this is (set by requestIdInterceptor). */
export function requestIdOfCall(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get?.(REQUEST_ID_HEADER)[0];
  return typeof value === 'string' ? value : undefined;
}
