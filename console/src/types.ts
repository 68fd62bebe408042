/** The API's shapes, as far as the console reads them (see /docs for the full OpenAPI document). */
export const STATES = ['Detected', 'Triaged', 'Investigating', 'Remediating', 'Resolved', 'Closed'] as const;
export type State = (typeof STATES)[number];
export const SEVERITIES = ['P0', 'P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const RESOLUTION_METHODS = ['Manual', 'Automated', 'AutoAssistedManual'] as const;
export const SCOPES = ['alerts:write', 'incidents:read', 'incidents:write', 'notifications:write', 'metrics:read', 'people:write', 'admin'] as const;
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
  /** The user the key belongs to: who is signed in (null for a key of no user). */
  user_name: string | null;
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

/** People and schedules (GET /v1/users, /v1/teams, /v1/schedules, /v1/on-call). */
export type ContactMethodType = 'slack' | 'email' | 'sms' | 'voice' | 'push';

export interface User {
  id: string;
  name: string;
  email: string;
  slack_user_id: string | null;
  phone: string | null;
  ntfy_topic: string | null;
  time_zone: string;
  contact_methods: { type: ContactMethodType; address: string }[];
  /** As set, sorted by `after`; none set: every method at once. */
  notification_rules: { after: string; methods: ContactMethodType[] }[];
  active: boolean;
  deactivated_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Team {
  id: string;
  name: string;
  member_ids: string[];
  escalation_policy: string | null;
  notify: 'policy' | 'members';
  created_at: string;
  updated_at: string;
}

export interface Layer {
  name: string;
  members: string[];
  rotation: string;
  handoff_time: string;
  start_date: string;
  restrictions: { days: string[]; start: string; end: string }[];
}

export interface Schedule {
  id: string;
  name: string;
  time_zone: string;
  team_id: string | null;
  layers: Layer[];
  created_at: string;
  updated_at: string;
}

export interface PersonRef {
  id: string;
  name: string;
  email: string;
}

export interface Shift {
  start: string;
  end: string;
  user: PersonRef;
  /** The layer's name, or `override`. */
  source: string;
  override_id: string | null;
}

export interface Gap {
  start: string;
  end: string;
  reason: string;
  inactive_user: PersonRef | null;
}

export interface ShiftsView {
  schedule_id: string;
  from: string;
  to: string;
  shifts: Shift[];
  gaps: Gap[];
}

export interface OnCall {
  schedule_id: string;
  schedule_name: string;
  at: string;
  /** null: nobody is on call (see gap). */
  shift: Shift | null;
  gap: Gap | null;
}

export interface Override {
  id: string;
  schedule_id: string;
  user_id: string;
  starts_at: string;
  ends_at: string;
  created_by: string;
  created_at: string;
}
