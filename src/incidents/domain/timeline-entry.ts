import { isDeepStrictEqual } from 'node:util';
import type { Incident, TimelineEntry } from './incident';

export function entry(timestamp: string, event_type: string, actor: string, description: string, metadata: Record<string, unknown>): TimelineEntry {
  return { timestamp, event_type, actor, description, metadata };
}

/** Fields whose value differs between two versions of an incident, with both values. */
export function changedFields(before: Incident, after: Incident, fields: readonly (keyof Incident)[]): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of fields) {
    if (!isDeepStrictEqual(before[field], after[field])) changes[field] = { from: before[field], to: after[field] };
  }
  return changes;
}

export function describeChange(field: string, change: { from: unknown; to: unknown }): string {
  const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  return `${field} changed from ${show(change.from)} to ${show(change.to)}`;
}
