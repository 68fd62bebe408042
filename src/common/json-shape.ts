import type { FieldIssue } from './domain-error';

/** Deeper than any request of this API; bounds the recursion of every later step. */
export const MAX_JSON_DEPTH = 16;

/**
 * Whether raw JSON text nests deeper than `max`, found by one scan of its characters before it
 * is parsed: brackets inside strings (and escaped quotes) do not count, and the scan stops at
 * the first bracket too deep. Parsing 5 MiB of `[` first, and then walking the result, held the
 * event loop for seconds; this refuses it after max + 1 characters.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** A lone UTF-16 surrogate (JSON may escape one, "\ud800"): not text, and validator.js throws on it. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Finds what no field may hold, before any DTO sees the request: nesting deeper than
 * MAX_JSON_DEPTH, the NUL character, which PostgreSQL's text type cannot store (it would
 * fail the write with a 500 instead of refusing the input), and lone surrogates.
 */
export function jsonShapeIssue(value: unknown, path = '', depth = 0): FieldIssue | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { field: path || 'body', message: 'must not contain the NUL character (\\u0000)' };
    return LONE_SURROGATE.test(value) ? { field: path || 'body', message: 'must be valid Unicode (it has a lone surrogate)' } : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_JSON_DEPTH) return { field: path || 'body', message: `nested more than ${MAX_JSON_DEPTH} levels deep` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const issue = jsonShapeIssue(value[i], join(path, i), depth + 1);
      if (issue) return issue;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000'))
      return { field: join(path, key.replaceAll('\u0000', '\\u0000')), message: 'a key must not contain the NUL character (\\u0000)' };
    if (LONE_SURROGATE.test(key))
      return { field: join(path, key.replace(/\p{Cs}/gu, '\ufffd')), message: 'a key must be valid Unicode (it has a lone surrogate)' };
    const issue = jsonShapeIssue(item, join(path, key), depth + 1);
    if (issue) return issue;
  }
  return null;
}
