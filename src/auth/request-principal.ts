import { AsyncLocalStorage } from 'node:async_hooks';
import type { Scope } from './api-key-format';

/** Who a request acts as: the API key it authenticated with. */
export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly Scope[];
}

/**
 * The principal of the request being handled, for code far from the controller that records who
 * did something (the timeline). Set around each handler by AccessInterceptor; a gRPC stream
 * handler re-enters it for each message, since stream events arrive outside the handler's call.
 */
export const principalContext = new AsyncLocalStorage<Principal>();

export function currentPrincipal(): Principal | undefined {
  return principalContext.getStore();
}
