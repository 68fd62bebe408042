import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { FakeTarget, Scripted } from './fakes';

/**
 * A real HTTP server standing in for an ntfy server, enforcing what ntfy enforces on a message
 * published as JSON (https://docs.ntfy.sh/publish/#publish-as-json): a POST to the root URL whose
 * body is a JSON object; a topic of 1–64 letters, digits, `_` or `-`; a priority from 1 to 5; at
 * most three actions, each `view` or `http` (or `broadcast`) with a label and, for view and http,
 * an absolute http(s) URL; `click` an absolute http(s) URL; a message of at most 4,096 bytes (ntfy
 * would turn a longer one into an attachment). With a token configured, access needs it: no
 * Authorization is 403 (anonymous has no access), another token 401. Errors come in ntfy's own
 * shape, `{"code":40009,"http":400,"error":"invalid request: topic invalid","link":"…"}`.
 * Scripted answers (429 with Retry-After, 500, 400) go through FakeTarget's `script`.
 */

/** An access token as `ntfy token add` prints it. */
export const NTFY_TOKEN = 'tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2';

/** ntfy's error body. */
export function ntfyErrorBody(http: number, code: number, error: string): string {
  return JSON.stringify({ code, http, error, link: 'https://ntfy.sh/docs/publish/' });
}

/** A scripted ntfy error (for FakeTarget.script): 429 with Retry-After, 500, or a 400 with ntfy's JSON. */
export function ntfyAnswer(status: number, code: number, error: string, headers: Record<string, string> = {}): Scripted {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: ntfyErrorBody(status, code, error) };
}

const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;
const ACTIONS = ['view', 'http', 'broadcast'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

function absoluteHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.host !== '';
  } catch {
    return false;
  }
}

function actionsProblem(actions: unknown): string | null {
  if (actions === undefined) return null;
  if (!Array.isArray(actions)) return 'actions must be a JSON array';
  if (actions.length > 3) return 'only 3 actions allowed';
  for (const a of actions as Record<string, unknown>[]) {
    if (typeof a !== 'object' || a === null) return 'an action must be an object';
    if (typeof a.action !== 'string' || !ACTIONS.includes(a.action.toLowerCase()))
      return `parameter 'action' cannot be '${String(a.action)}', valid values are 'view', 'broadcast' and 'http'`;
    if (typeof a.label !== 'string' || a.label === '') return "parameter 'label' is required";
    const action = a.action.toLowerCase();
    if ((action === 'view' || action === 'http') && !absoluteHttpUrl(a.url))
      return `parameter 'url' is required for action '${action}' (an absolute http(s) URL)`;
    if (a.clear !== undefined && typeof a.clear !== 'boolean') return "parameter 'clear' must be a boolean";
    if (action === 'http') {
      const method = a.method === undefined ? 'POST' : a.method;
      if (typeof method !== 'string' || !METHODS.includes(method.toUpperCase())) return `parameter 'method' cannot be '${String(a.method)}'`;
      if (a.headers !== undefined && (typeof a.headers !== 'object' || a.headers === null || Object.values(a.headers).some((v) => typeof v !== 'string'))) {
        return "parameter 'headers' must be a map of strings";
      }
      if (a.body !== undefined && typeof a.body !== 'string') return "parameter 'body' must be a string";
      if (['GET', 'HEAD'].includes(method.toUpperCase()) && a.body) return `parameter 'body' cannot be set if method is ${method}`;
    }
  }
  return null;
}

/** The fake ntfy server. `token`: the access token publishing needs (none: anonymous may publish). */
export function ntfyFake(options: { token?: string } = {}): Promise<FakeTarget> {
  return new FakeTarget((path: string, body: any, headers: http.IncomingHttpHeaders) => {
    const error = (status: number, code: number, message: string) => ({
      status,
      headers: { 'content-type': 'application/json' },
      body: ntfyErrorBody(status, code, message),
    });
    if (options.token !== undefined) {
      const auth = headers.authorization;
      if (auth === undefined) return error(403, 40301, 'forbidden');
      if (auth !== `Bearer ${options.token}`) return error(401, 40101, 'unauthorized');
    }
    // JSON goes to the root URL; a POST to /<topic> would publish the JSON text as the message.
    if (path !== '/') return error(400, 40017, 'invalid request: request body must be message JSON (publish JSON to the root URL)');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return error(400, 40024, 'invalid request: request body must be valid JSON');
    if (typeof body.topic !== 'string' || !TOPIC.test(body.topic)) return error(400, 40009, 'invalid request: topic invalid');
    if (body.priority !== undefined && !(Number.isInteger(body.priority) && body.priority >= 1 && body.priority <= 5)) {
      return error(400, 40007, 'invalid priority parameter');
    }
    for (const field of ['title', 'message', 'click']) {
      if (body[field] !== undefined && typeof body[field] !== 'string') return error(400, 40024, `invalid request: ${field} must be a string`);
    }
    if (body.tags !== undefined && (!Array.isArray(body.tags) || body.tags.some((t: unknown) => typeof t !== 'string'))) {
      return error(400, 40024, 'invalid request: tags must be a string array');
    }
    if (body.click !== undefined && !absoluteHttpUrl(body.click)) return error(400, 40024, 'invalid request: click must be an absolute http(s) URL');
    const problem = actionsProblem(body.actions);
    if (problem) return error(400, 40018, `invalid request: actions invalid, ${problem}`);
    if (Buffer.byteLength(body.message ?? '', 'utf8') > 4096) return error(413, 41303, 'message too large (over 4,096 bytes it would become an attachment)');
    const id = randomBytes(6).toString('base64url');
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, time: Math.floor(Date.now() / 1000), event: 'message', ...body }),
    };
  }).listen();
}
