import type { FieldIssue } from '../common/domain-error';

/**
 * Hand-checked shapes for the senders' own payloads. Unlike this service's DTOs, these accept
 * fields they do not know: Grafana adds its own to Alertmanager's, and senders grow fields
 * across versions. What is checked is what the mapping reads, and nothing else: a sender whose
 * request is refused for a field nobody uses would drop the alert.
 */
export class PayloadChecks {
  readonly issues: FieldIssue[] = [];

  fail(field: string, message: string): void {
    this.issues.push({ field, message });
  }

  isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  }

  /** A string (or absent, when optional) of at most `max` characters. */
  string(value: unknown, field: string, opts: { required?: boolean; max: number; nonEmpty?: boolean }): string | undefined {
    if (value === undefined || value === null) {
      if (opts.required) this.fail(field, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') return void this.fail(field, `must be a string, got ${kindOf(value)}`);
    if (opts.nonEmpty && value.trim() === '') return void this.fail(field, 'must not be empty');
    if (value.length > opts.max) return void this.fail(field, `must be at most ${opts.max} characters, got ${value.length}`);
    return value;
  }

  /** An object of string values: labels, annotations. */
  stringMap(value: unknown, field: string, opts: { maxKeys: number; maxLength: number }): Record<string, string> {
    if (value === undefined || value === null) return {};
    if (!this.isObject(value)) {
      this.fail(field, `must be an object of strings, got ${kindOf(value)}`);
      return {};
    }
    const entries = Object.entries(value);
    if (entries.length > opts.maxKeys) this.fail(field, `must have at most ${opts.maxKeys} entries, got ${entries.length}`);
    const out: Record<string, string> = {};
    for (const [key, item] of entries) {
      if (key.length === 0 || key.length > 256) this.fail(field, 'keys must be 1 to 256 characters');
      else if (typeof item !== 'string') this.fail(`${field}.${key}`, `must be a string, got ${kindOf(item)}`);
      else if (item.length > opts.maxLength) this.fail(`${field}.${key}`, `must be at most ${opts.maxLength} characters, got ${item.length}`);
      else out[key] = item;
    }
    return out;
  }

  /** An RFC 3339 time, as the senders write them (Alertmanager with nanoseconds); the text is kept as it came. */
  time(value: unknown, field: string, required: boolean): string | undefined {
    const text = this.string(value, field, { required, max: 64 });
    if (text !== undefined && (!RFC3339.test(text) || Number.isNaN(Date.parse(text)))) {
      return void this.fail(field, `must be an RFC 3339 time such as 2026-01-15T14:30:00Z, got "${text}"`);
    }
    return text;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** A checked RFC 3339 time in the store's one form (ISO 8601 UTC, milliseconds), so that times compare as text. */
export function storedTime(text: string): string {
  return new Date(text).toISOString();
}

export function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

/** Cuts text to `max` characters, marking the cut, for fields whose limits the senders do not share. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
