import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config/config.schema';
import { errorBodyOf } from '../common/http-exception.filter';
import { ApiKeysService } from './api-keys.service';
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
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request, reply) => {
      if (request.url !== '/docs' && !request.url.startsWith('/docs/') && !request.url.startsWith('/docs?')) return;
      try {
        await keys.authenticate(request.headers.authorization);
      } catch (err) {
        const body = errorBodyOf(err);
        return reply.status(body.error.status).header('www-authenticate', 'Bearer').header('content-type', 'application/json; charset=utf-8').send(body);
      }
    });
}
