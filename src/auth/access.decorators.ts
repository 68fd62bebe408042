import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorView } from '../common/error.view';
import type { Scope } from './api-key-format';

export const ACCESS_METADATA = 'llm-im:access';

/**
 * What a route or RPC needs. A handler without this metadata needs `admin`: a route added
 * without a thought for access is closed, not open.
 */
export type Access = { public: true } | { public?: false; scope: Scope; stream?: boolean; expensive?: boolean; credential?: CredentialSource };

/**
 * Where the key is presented: the Authorization header (or gRPC metadata), or, for the PagerDuty
 * Events API v2 route, the body's `routing_key`, which is where every PagerDuty sender puts it.
 */
export type CredentialSource = 'authorization' | 'routing_key';

/** Open to anyone who can reach the port (health checks). */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(ACCESS_METADATA, { public: true } satisfies Access);

/**
 * Needs an API key holding `scope` (admin holds all). `stream`: the call stays open (a gRPC
 * stream) and counts against limits.max_streams_per_key instead of the request limit.
 * `expensive`: a read whose answer can be large (a page of up to 500 incidents, a preview over
 * every open incident); it also counts against limits.max_expensive_reads_per_key, so that one
 * key cannot fill the event loop with them.
 */
export function RequireScope(
  scope: Scope,
  options: { stream?: boolean; expensive?: boolean; credential?: CredentialSource } = {},
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(ACCESS_METADATA, {
      scope,
      stream: options.stream === true,
      expensive: options.expensive === true,
      credential: options.credential ?? 'authorization',
    } satisfies Access),
    // OpenAPI has no scheme for a key in the body: the extension says where it goes.
    ...(options.credential === 'routing_key' ? [ApiExtension('x-credential', 'body.routing_key')] : [ApiBearerAuth()]),
    ApiExtension('x-required-scope', scope),
    ApiUnauthorizedResponse({ type: ErrorView, description: 'UNAUTHENTICATED: no API key, or one that is unknown, revoked or expired' }),
    ApiForbiddenResponse({ type: ErrorView, description: `FORBIDDEN: the key lacks the scope ${scope}` }),
    ApiTooManyRequestsResponse({ type: ErrorView, description: 'RATE_LIMITED: over a per-key limit; Retry-After says when to try again' }),
  );
}
