import type { AppConfig } from '../../config/config.schema';

/**
 * The session cookie. Over TLS it takes the __Host- prefix, which browsers accept only with
 * Secure, Path=/ and no Domain: no subdomain, and no plain-HTTP page, can set or shadow it.
 */
const PLAIN_NAME = 'lim_session';
const HOST_NAME = '__Host-lim_session';

export function isSecureCookie(config: AppConfig): boolean {
  return config.server.tls_cert_path !== '' || config.console.secure_cookie;
}

export function sessionCookie(config: AppConfig, token: string, maxAgeSecs: number): string {
  const secure = isSecureCookie(config);
  return `${secure ? HOST_NAME : PLAIN_NAME}=${token}; Path=/; Max-Age=${maxAgeSecs}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(config: AppConfig): string {
  const secure = isSecureCookie(config);
  return `${secure ? HOST_NAME : PLAIN_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * The session token of a Cookie header, if it carries one of a well-formed shape, under the one
 * name of the configured mode: with a Secure cookie only `__Host-lim_session`. A plain
 * `lim_session` can be set by any subdomain or plain-HTTP page; read as well, it could swap a
 * victim into the setter's session.
 */
export function sessionTokenOf(config: AppConfig, cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader || !cookieHeader.includes('lim_session=')) return undefined;
  const wanted = isSecureCookie(config) ? HOST_NAME : PLAIN_NAME;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== wanted) continue;
    const value = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{43}$/.test(value)) return value;
  }
  return undefined;
}
