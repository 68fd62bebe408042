import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `lim_<id>_<secret>`: a recognisable prefix (so secret scanners and people
 * can tell what leaked), a 16-hex-digit id that is stored in clear and names the key in logs,
 * and 32 random bytes of secret (64 hex digits) of which only a SHA-256 hash is stored. A fast
 * hash is enough here: the secret has 256 bits of entropy, so there is nothing to brute-force.
 */
export const API_KEY_PREFIX = 'lim_';
const API_KEY_PATTERN = /^lim_[0-9a-f]{16}_[0-9a-f]{64}$/;

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
  // test() and slices: capture groups cost more than the rest of the check.
  return API_KEY_PATTERN.test(presented) ? { id: presented.slice(4, 20), secret: presented.slice(21) } : undefined;
}

/** SHA-256, hex. The one-shot crypto.hash: a third of createHash's cost, and it runs on every request. */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time comparison of a presented secret against the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'latin1');
  const stored = Buffer.from(storedHash, 'latin1');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export const SCOPES = ['alerts:write', 'incidents:read', 'incidents:write', 'notifications:write', 'metrics:read', 'people:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `admin` holds every scope. */
export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}
