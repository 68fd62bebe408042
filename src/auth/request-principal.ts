import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Scope } from './api-key-format';

/** Who a request acts as: the API key it authenticated with. */
export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly Scope[];
  /** The user the key belongs to, if it belongs to one: what it does is recorded as them. */
  user?: { id: string; name: string } | null;
}

/**
 * Who a change is recorded as: the key's user when it belongs to one (a name the request claims
 * is not taken then: a key cannot act as someone else), else what the request claims.
 */
export function actorOf(caller: Principal | undefined, claimed: string | undefined): string | undefined {
  return caller?.user?.name ?? claimed;
}

/**
 * The principal of each request in progress rides on its Fastify request (a property declared
 * with decorateRequest, so setting it does not change the request objects' shape) or its gRPC
 * metadata, and reaches handlers as a parameter (@Caller). Not an AsyncLocalStorage: on Node 20
 * one active store puts a hook on every promise the process creates (about 130 ns each,
 * measured). Not a WeakMap either: one entry per request made the garbage collector's ephemeron
 * work show in the ingest benchmark's profile.
 */
const REQUEST_SLOT = 'apiKeyPrincipal';
const METADATA_SLOT = Symbol('principal');
type RequestCarrier = { [REQUEST_SLOT]: Principal | null };
type MetadataCarrier = { [METADATA_SLOT]?: Principal };

export function declarePrincipalSlot(fastify: FastifyInstance): void {
  fastify.decorateRequest(REQUEST_SLOT, null);
}

/** The principal found before the body was read (authenticateBeforeBody); the guard takes it from here. */
export function setRequestPrincipal(request: FastifyRequest, principal: Principal): void {
  (request as unknown as RequestCarrier)[REQUEST_SLOT] = principal;
}

export function attachPrincipal(ctx: ExecutionContext, principal: Principal): void {
  if (ctx.getType() === 'rpc') (ctx.switchToRpc().getContext<Metadata>() as unknown as MetadataCarrier)[METADATA_SLOT] = principal;
  else (ctx.switchToHttp().getRequest<FastifyRequest>() as unknown as RequestCarrier)[REQUEST_SLOT] = principal;
}

export function principalOf(ctx: ExecutionContext): Principal | undefined {
  if (ctx.getType() === 'rpc') return callerOf(ctx.switchToRpc().getContext<Metadata>());
  return (ctx.switchToHttp().getRequest<FastifyRequest>() as unknown as RequestCarrier)[REQUEST_SLOT] ?? undefined;
}

/** The calling key of a gRPC handler, from the metadata argument it is called with. */
export function callerOf(metadata: Metadata): Principal | undefined {
  return (metadata as unknown as MetadataCarrier)[METADATA_SLOT];
}

/** The REST handler parameter holding the calling key; undefined when auth is off. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal | undefined => principalOf(ctx));
