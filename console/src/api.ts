/**
 * The console's one way to the API: same-origin fetch with the session cookie (HttpOnly, so
 * never readable here), the CSRF token on every write, and API errors turned into words.
 */
export interface FieldIssue {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldIssue[] = [],
  ) {
    super(message);
  }

  /** What the page shows: the message, and each offending field. */
  describe(): string {
    const fields = this.fields.map((f) => `${f.field}: ${f.message}`).join('; ');
    return fields ? `${this.message} (${fields})` : this.message;
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => undefined;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called when the API answers 401: the session has ended (expired, signed out, key revoked). */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const write = method !== 'GET';
  if (write) headers['x-csrf-token'] = csrfToken;
  // Every POST carries a JSON body, {} when the route takes none: the API takes JSON only.
  const payload = body !== undefined ? body : method === 'POST' ? {} : undefined;
  if (payload !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, credentials: 'same-origin', body: payload === undefined ? undefined : JSON.stringify(payload) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the service could not be reached; check the connection and try again');
  }
  if (response.status === 204) return undefined as T;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string; details?: { fields?: FieldIssue[] } } } | null)?.error;
    if (response.status === 401 && path !== '/v1/session') onSignedOut();
    throw new ApiError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? `the service answered ${response.status}`,
      error?.details?.fields ?? [],
    );
  }
  return data as T;
}

export function messageOf(err: unknown): string {
  return err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err);
}
