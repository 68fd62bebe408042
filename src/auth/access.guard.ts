import { CallHandler, CanActivate, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { FastifyRequest } from 'fastify';
import { finalize, Observable } from 'rxjs';
import { DomainError, ErrorCode } from '../common/domain-error';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { grants } from './api-key-format';
import { Access, ACCESS_METADATA } from './access.decorators';
import { ApiKeysService, AuthenticationFailed } from './api-keys.service';
import { KeyLimits } from './key-limits';
import { Principal, principalContext } from './request-principal';

/** The principal of each request in progress, keyed by its Fastify request or gRPC metadata. */
const principals = new WeakMap<object, Principal>();

function carrierOf(ctx: ExecutionContext): object {
  return ctx.getType() === 'rpc' ? ctx.switchToRpc().getContext<Metadata>() : ctx.switchToHttp().getRequest<FastifyRequest>();
}

/**
 * Authentication and authorisation of every REST route (global) and gRPC call (per controller,
 * see GrpcAccess): `Authorization: Bearer <key>` or the `authorization` metadata entry, checked
 * against the scope the handler declares.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [ctx.getHandler(), ctx.getClass()]);
    if (access?.public || !this.config.auth.enabled) return true;
    const needed = access?.scope ?? 'admin';
    const { authorization, route, remote, transport } = this.describe(ctx);
    let principal: Principal;
    try {
      principal = await this.keys.authenticate(authorization);
    } catch (err) {
      // The presented value is never logged; its id part (not secret) is, when it parsed.
      if (err instanceof AuthenticationFailed)
        this.logger.warn({ msg: 'authentication failed', reason: err.reason, key_id: err.keyId, transport, route, remote });
      throw err;
    }
    if (!grants(principal.scopes, needed)) {
      this.logger.warn({ msg: 'permission denied', key_id: principal.keyId, api_key_name: principal.name, required_scope: needed, transport, route, remote });
      throw new DomainError(ErrorCode.FORBIDDEN, `this API key lacks the scope ${needed}`, { required_scope: needed });
    }
    principals.set(carrierOf(ctx), principal);
    return true;
  }

  private describe(ctx: ExecutionContext): { authorization?: string; route: string; remote?: string; transport: 'http' | 'grpc' } {
    if (ctx.getType() === 'rpc') {
      const metadata = ctx.switchToRpc().getContext<Metadata>();
      const value = metadata.get('authorization')[0];
      const call = ctx.getArgByIndex<ServerUnaryCall<unknown, unknown> | undefined>(2);
      return {
        authorization: typeof value === 'string' ? value : undefined,
        route: `${ctx.getClass().name}.${ctx.getHandler().name}`,
        remote: call?.getPeer?.(),
        transport: 'grpc',
      };
    }
    const request = ctx.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    return {
      authorization: typeof header === 'string' ? header : undefined,
      route: `${request.method} ${request.routeOptions.url ?? '?'}`,
      remote: request.ip,
      transport: 'http',
    };
  }
}

/**
 * Runs each authenticated handler as its key (principalContext, read by the timeline) and
 * within the key's limits on requests and streams in progress.
 */
@Injectable()
export class AccessInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: KeyLimits,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const principal = principals.get(carrierOf(ctx));
    if (!principal) return next.handle();
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [ctx.getHandler(), ctx.getClass()]);
    const release = this.limits.enter(principal.keyId, access && !access.public && access.stream ? 'stream' : 'request');
    return principalContext.run(principal, () => next.handle()).pipe(finalize(release));
  }
}
