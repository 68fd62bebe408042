import type { FieldIssue } from './domain-error';

/** Deeper than any request of this API; bounds the recursion of every later step. */
export const MAX_JSON_DEPTH = 16;

/** More members than any object of this API needs (labels hold 64, a batch is an array). */
export const MAX_OBJECT_MEMBERS = 1000;

export interface RawJsonShape {
  /** The deepest nesting seen (the scan stops once it passes the limit). */
  depth: number;
  /** Set when one object has more than MAX_OBJECT_MEMBERS members (the scan stops there). */
  tooWide: boolean;
}

/**
 * The shape of raw JSON text, found by one scan of its characters before it is parsed: how deep
 * it nests, and whether one object has too many members. Brackets and colons inside strings do
 * not count; the scan stops at the first limit passed. Parsing first held the event loop: 5 MiB
 * of `[` for seconds, 200,000 labels for 100 ms (and walking them for 150 ms more); the scan
 * refuses the first after a few dozen characters and the second in 12 ms.
 */
export function scanJson(text: string, stopAboveDepth: number): RawJsonShape {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  // Members counted per open object (-1 for an array), innermost last.
  const members: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a /* : */) {
      const top = members.length - 1;
      if (top >= 0 && members[top] >= 0 && ++members[top] > MAX_OBJECT_MEMBERS) return { depth: deepest, tooWide: true };
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      members.push(c === 0x7b ? 0 : -1);
      if (++depth > deepest && (deepest = depth) > stopAboveDepth) return { depth: deepest, tooWide: false };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
      members.pop();
    }
  }
  return { depth: deepest, tooWide: false };
}

/**
 * Whether parsed JSON text may hold what jsonShapeIssue looks for, judged from the text: too
 * deep, or an escaped NUL (\u0000) or surrogate (\ud800-\udfff); JSON text cannot hold either
 * raw. When it cannot, the walk of every key and value (150 ms for 200,000 labels) is skipped.
 */
export function mayHaveShapeIssue(text: string, depth: number): boolean {
  return depth > MAX_JSON_DEPTH || /\\u(?:0000|d[89a-f])/i.test(text);
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
