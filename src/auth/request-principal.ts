import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import type { FastifyRequest } from 'fastify';
import type { Scope } from './api-key-format';

/** Who a request acts as: the API key it authenticated with. */
export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly Scope[];
}

/**
 * The principal of each request in progress rides on its Fastify request or gRPC metadata, under
 * a symbol, and reaches handlers as a parameter (@Caller). Not an AsyncLocalStorage: on Node 20
 * one active store puts a hook on every promise the process creates (about 130 ns each,
 * measured). Not a WeakMap either: one entry per request made the garbage collector's ephemeron
 * work show in the ingest benchmark's profile.
 */
const PRINCIPAL = Symbol('principal');
type Carrier = { [PRINCIPAL]?: Principal };

function carrierOf(ctx: ExecutionContext): Carrier {
  return (ctx.getType() === 'rpc' ? ctx.switchToRpc().getContext<Metadata>() : ctx.switchToHttp().getRequest<FastifyRequest>()) as unknown as Carrier;
}

export function attachPrincipal(ctx: ExecutionContext, principal: Principal): void {
  carrierOf(ctx)[PRINCIPAL] = principal;
}

export function principalOf(ctx: ExecutionContext): Principal | undefined {
  return carrierOf(ctx)[PRINCIPAL];
}

/** The calling key of a gRPC handler, from the metadata argument it is called with. */
export function callerOf(metadata: Metadata): Principal | undefined {
  return (metadata as unknown as Carrier)[PRINCIPAL];
}

/** The REST handler parameter holding the calling key; undefined when auth is off. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal | undefined => principalOf(ctx));
