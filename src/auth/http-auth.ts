import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config/config.schema';
import { errorBodyOf } from '../common/http-exception.filter';
import { ApiKeysService, AuthenticationFailed } from './api-keys.service';
import { declarePrincipalSlot } from './request-principal';

/**
 * What the access guard needs from Fastify: the request property it puts the caller's key on.
 * And the docs: Swagger UI and the OpenAPI document are served by Fastify routes outside Nest's
 * controllers, so the guard does not see them; with auth.docs_public off they need a valid key of
 * any scope (they describe the API; they change nothing).
 */
export function applyHttpAuth(app: NestFastifyApplication, config: AppConfig): void {
  declarePrincipalSlot(app.getHttpAdapter().getInstance());
  if (!config.auth.enabled || config.auth.docs_public) return;
  const keys = app.get(ApiKeysService);
  const logger = new Logger('Auth');
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request, reply) => {
      // The route Fastify matched, not the raw URL: the router decodes %-escapes (/%64ocs) and
      // drops an absolute-form prefix (http://host/docs) before matching.
      const route = request.routeOptions.url;
      if (route === undefined || (route !== '/docs' && !route.startsWith('/docs/'))) return;
      try {
        await keys.authenticate(request.headers.authorization);
      } catch (err) {
        if (err instanceof AuthenticationFailed)
          logger.warn({
            msg: 'authentication failed',
            reason: err.reason,
            key_id: err.keyId,
            transport: 'http',
            route: `${request.method} ${route}`,
            remote: request.ip,
            request_id: request.id,
          });
        const body = errorBodyOf(err, request.id);
        return reply.status(body.error.status).header('www-authenticate', 'Bearer').header('content-type', 'application/json; charset=utf-8').send(body);
      }
    });
}
