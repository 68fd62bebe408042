import { hash } from 'node:crypto';

/** Display forms of the URLs seen lately: the configured ones are shown once per delivery, and parsing and hashing cost more than the rest of planning one. */
const shown = new Map<string, string>();
const SHOWN_MAX = 256;

/** A URL as it may be shown: scheme, host and a short hash of the rest (paths often hold tokens). */
export function displayUrl(url: string): string {
  let display = shown.get(url);
  if (display === undefined) {
    display = displayOf(url);
    // A bounded memo: URLs from requests (custom webhooks) must not grow it without end.
    if (shown.size >= SHOWN_MAX) shown.delete(shown.keys().next().value as string);
    shown.set(url, display);
  }
  return display;
}

function displayOf(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = `${parsed.pathname}${parsed.search}`;
    return rest === '/' || rest === '' ? parsed.origin : `${parsed.origin}/…#${shortHash(url)}`;
  } catch {
    return `invalid-url#${shortHash(url)}`;
  }
}

export function shortHash(value: string): string {
  return hash('sha256', value, 'hex').slice(0, 12);
}
