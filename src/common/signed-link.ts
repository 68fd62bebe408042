import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens for links that act without an API key (acknowledge from an email or a push
 * notification): what the link does, for whom and until when, signed with HMAC-SHA256 under a
 * key every instance shares. The signature makes them unforgeable; `nonce` lets the receiver make
 * each one count once.
 */
export interface LinkClaims {
  /** What the link does. */
  action: 'ack';
  incident_id: string;
  user_id: string;
  /** The channel that carried it, for the timeline. */
  via: string;
  /** Expiry, seconds since the epoch. */
  expires: number;
  nonce: string;
}

const VERSION = 'l1';
/** A token is short (about 190 characters); anything far longer is refused before any work. */
export const MAX_TOKEN_LENGTH = 512;

function sign(key: string, body: string): string {
  return createHmac('sha256', key).update(`${VERSION}.${body}`).digest('base64url');
}

export function signLink(key: string, claims: Omit<LinkClaims, 'nonce'> & { nonce?: string }): string {
  const full: LinkClaims = { ...claims, nonce: claims.nonce ?? randomBytes(12).toString('base64url') };
  const body = Buffer.from(JSON.stringify([full.action, full.incident_id, full.user_id, full.via, full.expires, full.nonce])).toString('base64url');
  return `${VERSION}.${body}.${sign(key, body)}`;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired'; claims?: LinkClaims };

/** Verifies a token's signature (in constant time) and its expiry at `nowMs`. */
export function verifyLink(key: string, token: string, nowMs: number): LinkCheck {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^[A-Za-z0-9_-]+$/.test(parts[1]) || !/^[A-Za-z0-9_-]{43}$/.test(parts[2])) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = Buffer.from(sign(key, parts[1]));
  if (!timingSafeEqual(expected, Buffer.from(parts[2]))) return { ok: false, reason: 'signature' };
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!Array.isArray(fields) || fields.length !== 6 || fields[0] !== 'ack' || typeof fields[4] !== 'number') return { ok: false, reason: 'malformed' };
  const [action, incident_id, user_id, via, expires, nonce] = fields as [LinkClaims['action'], string, string, string, number, string];
  const claims: LinkClaims = { action, incident_id, user_id, via, expires, nonce };
  if (expires * 1000 <= nowMs) return { ok: false, reason: 'expired', claims };
  return { ok: true, claims };
}
