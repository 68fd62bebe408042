/** The API's shapes, as far as the console reads them (see /docs for the full OpenAPI document). */
export const STATES = ['Detected', 'Triaged', 'Investigating', 'Remediating', 'Resolved', 'Closed'] as const;
export type State = (typeof STATES)[number];
export const SEVERITIES = ['P0', 'P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const RESOLUTION_METHODS = ['Manual', 'Automated', 'AutoAssistedManual'] as const;
export const SCOPES = ['alerts:write', 'incidents:read', 'incidents:write', 'notifications:write', 'metrics:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Incident {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  state: State;
  incident_type: string;
  source: string;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  affected_resources: string[];
  assignees: string[];
  labels: Record<string, string>;
  alert_count: number;
  last_seen_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  /** The runbook of the first alert that named one. */
  runbook_url?: string | null;
  resolution: { resolved_by: string; method: string; notes: string; root_cause: string | null } | null;
}

export interface TimelineEntry {
  timestamp: string;
  event_type: string;
  actor: string;
  description: string;
  api_key_name?: string | null;
}

export interface Note {
  id: string;
  author: string;
  content: string;
  created_at: string;
}

export interface IncidentDetail extends Incident {
  /** The newest entries (500 at most), oldest first. */
  timeline: TimelineEntry[];
  timeline_total: number;
  notes: Note[];
}

export interface Alert {
  id: string;
  status: string;
  source: string;
  title: string;
  severity: string;
  received_at: string;
  labels: Record<string, string>;
  /** Alertmanager's and Grafana's: `<fingerprint>@<startsAt>`. */
  external_id?: string | null;
  runbook_url?: string | null;
  /** Alertmanager's and Grafana's, with the links back: generatorURL (the rule's graph), externalURL. */
  annotations?: Record<string, string>;
}

/** An Alertmanager or Grafana alert of an incident, with its state upstream. */
export interface UpstreamAlert {
  integration: string;
  fingerprint: string;
  status: 'firing' | 'resolved';
  name: string;
  starts_at: string;
  ends_at: string | null;
  updated_at: string;
}

export interface Delivery {
  notification_id: string;
  incident_id: string;
  event: string;
  channel: string;
  action: string;
  target: string;
  status: string;
  attempts: number;
  last_error: string | null;
  updated_at: string;
  route?: string | null;
  receiver?: string | null;
  silence_id?: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export interface Session {
  authentication: 'session' | 'off';
  key_id: string;
  key_name: string;
  scopes: string[];
  expires_at: string;
  csrf_token: string;
}

export interface Silence {
  id: string;
  matchers: string[];
  starts_at: string;
  ends_at: string;
  comment: string;
  created_by: string;
  state: 'pending' | 'active' | 'expired';
}

export interface LiveEvent {
  event_type: string;
  occurred_at: string;
  actor: string;
  incident: Incident;
  previous_state?: State;
}
