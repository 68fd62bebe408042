import { createHash } from 'node:crypto';

/** A URL as it may be shown: scheme, host and a short hash of the rest (paths often hold tokens). */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = `${parsed.pathname}${parsed.search}`;
    return rest === '/' || rest === '' ? parsed.origin : `${parsed.origin}/…#${shortHash(url)}`;
  } catch {
    return `invalid-url#${shortHash(url)}`;
  }
}

export function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}
