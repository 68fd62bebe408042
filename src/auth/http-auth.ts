import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ConsoleSessionsService } from './sessions/console-sessions.service';
import { sessionTokenOf } from './sessions/session-cookie';
import type { AppConfig } from '../config/config.schema';
import { errorBodyOf, sendError } from '../common/http-exception.filter';
import { ApiKeysService, AuthenticationFailed } from './api-keys.service';
import { declarePrincipalSlot, setRequestPrincipal } from './request-principal';

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
        refuse(logger, request, reply, err);
        return reply;
      }
    });
}

/**
 * Answers a credential refused in an onRequest hook, as the access guard would: the log line
 * (never the presented value) and the error envelope with its status, Retry-After (a store
 * outage) and WWW-Authenticate (401).
 */
function refuse(logger: Logger, request: FastifyRequest, reply: FastifyReply, err: unknown): void {
  if (err instanceof AuthenticationFailed)
    logger.warn({
      msg: 'authentication failed',
      reason: err.reason,
      key_id: err.keyId,
      transport: 'http',
      route: `${request.method} ${request.routeOptions.url}`,
      remote: request.ip,
      request_id: request.id,
    });
  const body = errorBodyOf(err, request.id);
  sendError(reply, body.error, body);
}

/** Bodies of the routes that take their credential in the body (read before anyone is known). */
const CREDENTIAL_IN_BODY_LIMITS: Record<string, number> = {
  '/v1/session': 4096, // {"api_key": "lim_…"}
  '/v2/enqueue': 524_288, // PagerDuty's own limit for an event: 512 KB
  '/v1/integrations/pagerduty/enqueue': 524_288,
  // Signed by their senders: nothing is known of the sender until the body is read and checked.
  '/v1/integrations/slack/interactions': 1_048_576, // a click carries the message's blocks: tens of KB
  '/v1/integrations/pagerduty/webhooks': 524_288, // PagerDuty drops webhooks over 256 KB
  '/v1/integrations/twilio/sms': 65_536, // Twilio's forms are a few KB (a text is at most 1,600 characters)
  '/v1/integrations/twilio/voice/gather': 65_536,
  '/v1/integrations/twilio/voice/status': 65_536,
  '/v1/ack/:token': 4096, // an empty form or none
  '/v1/ack/*': 4096, // the same route for tokens past the router's 100-character parameter limit
};

/**
 * Small body limits for the routes whose credential is in the body: nobody is known until their
 * body is read, so it must be small. Call before the routes are registered (before app.init()).
 */
export function limitCredentialBodies(fastify: FastifyInstance): void {
  fastify.addHook('onRoute', (route) => {
    const limit = CREDENTIAL_IN_BODY_LIMITS[route.url];
    if (limit !== undefined && route.method === 'POST') route.bodyLimit = Math.min(route.bodyLimit ?? limit, limit);
  });
}

/**
 * Authentication before the body. For every route whose key comes in the Authorization header
 * (or the console's session cookie), the credential is checked in an onRequest hook, before a
 * byte of the body is read or parsed: a request without a valid one is answered 401 (403 for a
 * session write without its CSRF token) and its body is discarded unread. The access guard then
 * takes the principal found here and checks the scope. The routes are those the OpenAPI
 * document gives a scope without another credential (x-credential: the PagerDuty routing key
 * in the body, Slack's signature, the session routes); the rest (health, docs, the console's
 * pages, unknown paths) are left to their own checks.
 */
export function authenticateBeforeBody(app: NestFastifyApplication, config: AppConfig, document: OpenAPIObject): void {
  if (!config.auth.enabled) return;
  const guarded = new Set<string>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations as Record<string, Record<string, unknown>>)) {
      if (typeof operation?.['x-required-scope'] !== 'string' || operation['x-credential'] !== undefined) continue;
      guarded.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
    }
  }
  const keys = app.get(ApiKeysService);
  const sessions = app.get(ConsoleSessionsService);
  const logger = new Logger('Auth');
  // A callback hook on the guarded routes only: no lookup, and no extra promise, on the others.
  const authenticate: onRequestHookHandler = (request, reply, done) => {
    const authorization = request.headers.authorization;
    // No key presented: the console's session cookie, if there is one, stands in for it.
    const token = authorization === undefined ? sessionTokenOf(config, request.headers.cookie) : undefined;
    const found = token ? sessions.authenticate(token, request.method, request.headers['x-csrf-token']) : keys.authenticate(authorization);
    found.then(
      (principal) => {
        setRequestPrincipal(request, principal);
        done();
      },
      (err: unknown) => {
        // The body is not read: the connection closes after the answer rather than draining it.
        void reply.header('connection', 'close');
        refuse(logger, request, reply, err);
      },
    );
  };
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (!methods.some((method) => guarded.has(`${method} ${route.url}`))) return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, authenticate];
    });
}
