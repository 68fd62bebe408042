import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `lim_<id>_<secret>`: a recognisable prefix (so secret scanners and people
 * can tell what leaked), a 16-hex-digit id that is stored in clear and names the key in logs,
 * and 32 random bytes of secret (64 hex digits) of which only a SHA-256 hash is stored. A fast
 * hash is enough here: the secret has 256 bits of entropy, so there is nothing to brute-force.
 */
export const API_KEY_PREFIX = 'lim_';
const API_KEY_PATTERN = /^lim_([0-9a-f]{16})_([0-9a-f]{64})$/;

export interface ParsedApiKey {
  id: string;
  secret: string;
}

export function generateApiKey(): { id: string; secret: string; key: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  return { id, secret, key: `${API_KEY_PREFIX}${id}_${secret}` };
}

/** The id and secret of a well-formed key; undefined for anything else. */
export function parseApiKey(presented: string): ParsedApiKey | undefined {
  const match = API_KEY_PATTERN.exec(presented);
  return match ? { id: match[1], secret: match[2] } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret against the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export const SCOPES = ['alerts:write', 'incidents:read', 'incidents:write', 'notifications:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `admin` holds every scope. */
export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}
