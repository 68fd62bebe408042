import type { FieldIssue } from './domain-error';

/** Deeper than any request of this API; bounds the recursion of every later step. */
export const MAX_JSON_DEPTH = 16;

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Finds what no field may hold, before any DTO sees the request: nesting deeper than
 * MAX_JSON_DEPTH, and the NUL character, which PostgreSQL's text type cannot store (it would
 * fail the write with a 500 instead of refusing the input).
 */
export function jsonShapeIssue(value: unknown, path = '', depth = 0): FieldIssue | null {
  if (typeof value === 'string') {
    return value.includes('\u0000') ? { field: path || 'body', message: 'must not contain the NUL character (\\u0000)' } : null;
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
    const issue = jsonShapeIssue(item, join(path, key), depth + 1);
    if (issue) return issue;
  }
  return null;
}
