import type { IncidentState, IncidentType, ResolutionMethod, Severity } from '../incidents/domain/incident';

/**
 * What every feature's proto mapping shares: the enums of the contract, timestamps, and helpers
 * for messages as @grpc/proto-loader gives them (enums as names, unset fields absent). Each
 * feature maps its own messages next to its gRPC controller (incident.proto-mapping.ts,
 * alert.proto-mapping.ts); requests become the plain objects the REST DTOs validate, so both
 * transports share one set of rules.
 */

function invert<K extends string, V extends string>(map: Record<K, V>): Record<V, K> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [v, k])) as Record<V, K>;
}

const SEVERITY_TO_PROTO: Record<Severity, string> = { P0: 'P0', P1: 'P1', P2: 'P2', P3: 'P3', P4: 'P4' };
const STATE_TO_PROTO: Record<IncidentState, string> = {
  Detected: 'DETECTED',
  Triaged: 'TRIAGED',
  Investigating: 'INVESTIGATING',
  Remediating: 'REMEDIATING',
  Resolved: 'RESOLVED',
  Closed: 'CLOSED',
};
const TYPE_TO_PROTO: Record<IncidentType, string> = {
  Infrastructure: 'INFRASTRUCTURE',
  Application: 'APPLICATION',
  Security: 'SECURITY',
  Data: 'DATA',
  Performance: 'PERFORMANCE',
  Availability: 'AVAILABILITY',
  Compliance: 'COMPLIANCE',
  Unknown: 'UNKNOWN',
};
const METHOD_TO_PROTO: Record<ResolutionMethod, string> = { Automated: 'AUTOMATED', Manual: 'MANUAL', AutoAssistedManual: 'AUTO_ASSISTED_MANUAL' };

const SEVERITY_FROM_PROTO = invert(SEVERITY_TO_PROTO);
const STATE_FROM_PROTO = invert(STATE_TO_PROTO);
const TYPE_FROM_PROTO = invert(TYPE_TO_PROTO);
const METHOD_FROM_PROTO = invert(METHOD_TO_PROTO);

/**
 * A proto enum name as the REST value. The UNSPECIFIED zero value becomes absent (so a required
 * field is reported missing); a value outside the enum stays as it came, to be refused by the
 * DTO's rule with the field's name.
 */
function fromProtoEnum(map: Record<string, string>, value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.endsWith('_UNSPECIFIED')) return undefined;
  if (typeof value === 'string' && value in map) return map[value];
  return value;
}

export const protoEnum = {
  severity: (v: unknown) => fromProtoEnum(SEVERITY_FROM_PROTO, v),
  state: (v: unknown) => fromProtoEnum(STATE_FROM_PROTO, v),
  incidentType: (v: unknown) => fromProtoEnum(TYPE_FROM_PROTO, v),
  method: (v: unknown) => fromProtoEnum(METHOD_FROM_PROTO, v),
  /** A repeated enum filter; absent when empty. */
  list: (convert: (v: unknown) => unknown, values: unknown): unknown[] | undefined => {
    if (!Array.isArray(values) || values.length === 0) return undefined;
    return values.map((v: unknown) => convert(v) ?? v);
  },
};

/**
 * Validation messages list the allowed REST values ("one of the following values: Detected,
 * Triaged, ..."); a gRPC client sends the proto names, so those are what it is told.
 */
export function inProtoWords(message: string): string {
  let out = message;
  for (const map of [STATE_TO_PROTO, TYPE_TO_PROTO, METHOD_TO_PROTO] as Record<string, string>[]) {
    out = out.replace(Object.keys(map).join(', '), Object.values(map).join(', '));
  }
  return out;
}

export const toProtoEnum = {
  severity: (s: Severity) => SEVERITY_TO_PROTO[s],
  state: (s: IncidentState) => STATE_TO_PROTO[s],
  incidentType: (t: IncidentType) => TYPE_TO_PROTO[t],
  method: (m: ResolutionMethod) => METHOD_TO_PROTO[m],
};

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function timestampOf(iso: string): Timestamp {
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export function maybeTimestamp(iso: string | null): Timestamp | undefined {
  return iso ? timestampOf(iso) : undefined;
}

/** A request message as @grpc/proto-loader decodes it: plain fields, checked by the DTOs. */
export type ProtoMessage = Record<string, unknown>;

/** The contents of a wrapper message (`{ values }`), used for "set this list/map" fields; absent when the wrapper is. */
export function wrapped(wrapper: unknown, empty: unknown): unknown {
  if (typeof wrapper !== 'object' || wrapper === null) return undefined;
  return (wrapper as { values?: unknown }).values ?? empty;
}

/** Drops the keys whose value is undefined (proto-loader leaves absent fields out). */
export function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (value !== undefined) out[key] = value;
  return out as Partial<T>;
}
