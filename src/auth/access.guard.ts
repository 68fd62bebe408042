import { CallHandler, CanActivate, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EMPTY, finalize, Observable } from 'rxjs';
import { DomainError, ErrorCode } from '../common/domain-error';
import { requestIdOfCall } from '../common/request-id';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { grants } from './api-key-format';
import { Access, ACCESS_METADATA, CredentialSource } from './access.decorators';
import { ApiKeysService, AuthenticationFailed } from './api-keys.service';
import { KeyLimits } from './key-limits';
import { attachPrincipal, Principal, principalOf } from './request-principal';
import { ConsoleSessionsService } from './sessions/console-sessions.service';
import { sessionTokenOf } from './sessions/session-cookie';

/**
 * Authentication and authorisation of every REST route (global) and gRPC call (per controller,
 * see GrpcEndpoint): `Authorization: Bearer <key>` or the `authorization` metadata entry, checked
 * against the scope the handler declares. A REST request is also counted against its key's
 * requests in progress until its answer is done.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
    @InjectConfig() private readonly config: AppConfig,
    private readonly limits: KeyLimits,
    private readonly sessions: ConsoleSessionsService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [ctx.getHandler(), ctx.getClass()]);
    if (access?.public) return true;
    const needed = access?.scope ?? 'admin';
    if (!this.config.auth.enabled) {
      // Keys made while nobody is checked would all be valid the day auth is switched back on.
      if (needed === 'admin') throw new DomainError(ErrorCode.FORBIDDEN, 'API keys are managed only while authentication is on ([auth] enabled = true)');
      return true;
    }
    // Authenticated before the body was read (authenticateBeforeBody): only the scope is left.
    const early = ctx.getType() === 'http' && (access?.credential ?? 'authorization') === 'authorization' ? principalOf(ctx) : undefined;
    const principal = early ?? (await this.authenticate(ctx, access));
    if (!grants(principal.scopes, needed)) {
      this.logger.warn({ msg: 'permission denied', key_id: principal.keyId, api_key_name: principal.name, required_scope: needed, ...whereFrom(ctx) });
      throw new DomainError(ErrorCode.FORBIDDEN, `this API key lacks the scope ${needed}`, { required_scope: needed });
    }
    attachPrincipal(ctx, principal);
    if (ctx.getType() === 'http') {
      // Here rather than in an interceptor: any global interceptor puts every REST request
      // through Nest's rxjs chain and two AsyncResource.bind calls, which measured about a
      // third more CPU per alert on the single-alert ingest benchmark.
      const release = enterLimits(this.limits, principal.keyId, access);
      const response = ctx.switchToHttp().getResponse<FastifyReply>().raw;
      // A client that hung up during the key lookup: its 'close' has already been emitted.
      if (response.closed || response.destroyed) release();
      else response.once('close', release);
    }
    return true;
  }

  /** The caller's key (or console session), from where the route takes it; logs a refusal. */
  private async authenticate(ctx: ExecutionContext, access: Access | undefined): Promise<Principal> {
    try {
      const credential = access?.public ? undefined : access?.credential;
      const authorization = authorizationOf(ctx, credential);
      // No key presented over HTTP: the console's session cookie, if there is one, stands in for it.
      const session =
        authorization === undefined && ctx.getType() === 'http' && (credential ?? 'authorization') === 'authorization'
          ? sessionOf(this.config, ctx)
          : undefined;
      return session
        ? await this.sessions.authenticate(session.token, session.request.method, session.request.headers['x-csrf-token'])
        : await this.keys.authenticate(authorization);
    } catch (err) {
      // The presented value is never logged; its id part (not secret) is, when it parsed.
      if (err instanceof AuthenticationFailed) this.logger.warn({ msg: 'authentication failed', reason: err.reason, key_id: err.keyId, ...whereFrom(ctx) });
      throw err;
    }
  }
}

/** Takes the key's slots for the call (a request or a stream, and a large read); the returned function gives them back. */
function enterLimits(limits: KeyLimits, keyId: string, access: Access | undefined): () => void {
  const open = access !== undefined && !access.public;
  const release = limits.enter(keyId, open && access.stream === true ? 'stream' : 'request');
  if (!open || access.expensive !== true) return release;
  let releaseExpensive: () => void;
  try {
    releaseExpensive = limits.enter(keyId, 'expensive');
  } catch (err) {
    release();
    throw err;
  }
  return () => {
    release();
    releaseExpensive();
  };
}

function authorizationOf(ctx: ExecutionContext, source: CredentialSource = 'authorization'): string | undefined {
  if (source === 'routing_key') {
    // Fastify has parsed the body before guards run; anything but a string is no credential.
    const key = (ctx.switchToHttp().getRequest<FastifyRequest>().body as { routing_key?: unknown } | null | undefined)?.routing_key;
    return typeof key === 'string' ? `Bearer ${key}` : undefined;
  }
  const value =
    ctx.getType() === 'rpc'
      ? ctx.switchToRpc().getContext<Metadata>().get('authorization')[0]
      : ctx.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
  return typeof value === 'string' ? value : undefined;
}

function sessionOf(config: AppConfig, ctx: ExecutionContext): { token: string; request: FastifyRequest } | undefined {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  const token = sessionTokenOf(config, request.headers.cookie);
  return token ? { token, request } : undefined;
}

/** Where a refused call came from, for the log line (built only when one is written). */
function whereFrom(ctx: ExecutionContext): { transport: 'http' | 'grpc'; route: string; remote?: string; request_id?: string } {
  if (ctx.getType() === 'rpc') {
    const call = ctx.getArgByIndex<ServerUnaryCall<unknown, unknown> | undefined>(2);
    return {
      transport: 'grpc',
      route: `${ctx.getClass().name}.${ctx.getHandler().name}`,
      remote: call?.getPeer?.(),
      request_id: requestIdOfCall(ctx.switchToRpc().getContext<Metadata>()),
    };
  }
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  return { transport: 'http', route: `${request.method} ${request.routeOptions.url ?? '?'}`, remote: request.ip, request_id: request.id };
}

/** Keeps each authenticated gRPC call within its key's limits on calls and streams in progress. */
@Injectable()
export class AccessInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: KeyLimits,
    private readonly keys: ApiKeysService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const principal = principalOf(ctx);
    if (!principal) return next.handle();
    const call = ctx.getArgByIndex<{ cancelled?: boolean; once?: (event: 'cancelled', listener: () => void) => unknown } | undefined>(2);
    // Cancelled while its key was being looked up: grpc-js will not say so again, and a slot
    // taken now would never be given back.
    if (call?.cancelled) return EMPTY;
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [ctx.getHandler(), ctx.getClass()]);
    const stream = access !== undefined && !access.public && access.stream === true;
    const release = enterLimits(this.limits, principal.keyId, access);
    call?.once?.('cancelled', release);
    const handled = next.handle().pipe(finalize(release));
    return stream ? this.endedWhenKeyStops(handled, principal) : handled;
  }

  /**
   * A stream outlives the check made when it opened: it is checked again every key_cache_secs (at
   * least every second) and ends with UNAUTHENTICATED once its key is revoked or expired.
   */
  private endedWhenKeyStops(stream: Observable<unknown>, principal: Principal): Observable<unknown> {
    return new Observable((subscriber) => {
      const subscription = stream.subscribe(subscriber);
      const timer = setInterval(
        () => {
          this.keys.isUsable(principal.keyId).then(
            (usable) => usable || subscriber.error(new DomainError(ErrorCode.UNAUTHENTICATED, 'the API key of this stream was revoked or has expired')),
            () => undefined, // the store is unreachable: keep the stream, try again next time
          );
        },
        Math.max(1, this.config.auth.key_cache_secs) * 1000,
      );
      timer.unref();
      return () => {
        clearInterval(timer);
        subscription.unsubscribe();
      };
    });
  }
}
