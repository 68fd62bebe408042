import type { Generated } from 'kysely';

/**
 * Row types of every table. Timestamps are ISO-8601 UTC strings (fixed width, so they sort and
 * compare as text on both SQLite and PostgreSQL); lists and maps are JSON text.
 */
export interface IncidentRow {
  id: string;
  title: string;
  description: string;
  severity: string;
  state: string;
  incident_type: string;
  source: string;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  affected_resources: string;
  assignees: string;
  labels: string;
  fingerprint: string;
  /** Equal to fingerprint while this incident is the one alerts deduplicate into, else NULL. */
  open_fingerprint: string | null;
  alert_count: number;
  last_seen_at: string;
  resolution: string | null;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  runbook_url: string | null;
}

export interface TimelineRow {
  seq: Generated<number>;
  incident_id: string;
  timestamp: string;
  event_type: string;
  actor: string;
  description: string;
  metadata: string;
  /** The name of the API key whose request made the change; NULL for the service's own changes. */
  api_key_name: string | null;
}

export interface NoteRow {
  id: string;
  incident_id: string;
  author: string;
  content: string;
  created_at: string;
}

export interface AlertRow {
  id: string;
  incident_id: string;
  status: string;
  source: string;
  external_id: string | null;
  title: string;
  description: string;
  severity: string;
  alert_type: string;
  dedup_key: string | null;
  labels: string;
  affected_services: string;
  runbook_url: string | null;
  annotations: string;
  fingerprint: string;
  received_at: string;
}

/** One notification to one target: the transactional outbox row and its delivery log. */
export interface DeliveryRow {
  id: string;
  /** Orders the deliveries of one (incident, channel, target): they go out in seq order. */
  seq: Generated<number>;
  incident_id: string;
  event: string;
  channel: string;
  /** What the delivery does on its target: post, update, trigger, acknowledge, resolve, send. */
  action: string;
  /** The target as shown to users: a Slack channel, recipients, a URL without its secret parts. */
  target: string;
  /** The credential-bearing address of a custom target (webhook URL, routing key); never shown. */
  target_ref: string | null;
  /** The message rendered at the event, JSON. */
  payload: string;
  status: string;
  attempts: number;
  max_attempts: number;
  next_attempt_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  last_error: string | null;
  /** What the target answered that later deliveries need (Slack channel and ts), JSON. */
  external_ref: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
  /** 0 goes first: pages and first notifications of urgent incidents (see priorityOf). */
  priority: number;
  /** The route and receiver that called for it (null: a custom or test notification). */
  route: string | null;
  receiver: string | null;
  /** The silence that kept it from being sent (status suppressed). */
  silence_id: string | null;
}

/** An escalation step or a repeat, due at a time: fired once, by one instance, even after a restart. */
export interface ScheduledStepRow {
  id: string;
  incident_id: string;
  kind: string;
  route: string;
  policy: string | null;
  step: number;
  round: number;
  receivers: string;
  due_at: string;
  status: string;
  reason: string | null;
  created_at: string;
  settled_at: string | null;
}

export interface SilenceRow {
  id: string;
  matchers: string;
  starts_at: string;
  ends_at: string;
  comment: string;
  created_by: string;
  api_key_name: string | null;
  created_at: string;
  updated_at: string;
  end_handled_at: string | null;
}

export interface SlackInteractionReceiptRow {
  signature: string;
  received_at: string;
}

/** An inbound callback already taken (a Twilio message or call, a PagerDuty webhook event, an acknowledgement link): each counts once. */
export interface InboundReceiptRow {
  source: string;
  id: string;
  received_at: string;
}

/** The dedup_key of a custom PagerDuty page and the incident it was for (the latest, when a key is reused). */
export interface PagerDutyCustomKeyRow {
  dedup_key: string;
  incident_id: string;
  created_at: string;
}

export interface ApiKeyRow {
  /** The public id part of the key (lim_<id>_<secret>). */
  id: string;
  name: string;
  /** JSON array of scopes. */
  scopes: string;
  /** SHA-256 of the secret part, hex. */
  secret_hash: string;
  created_at: string;
  /** Name of the key that created this one, or "cli" / "bootstrap". */
  created_by: string | null;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** The user the key belongs to: what it does is recorded as that user. */
  user_id: string | null;
}

/**
 * The state upstream of one alert an integration folded into an incident (an Alertmanager or
 * Grafana alert, by its fingerprint): the incident resolves by itself once all of its are resolved.
 */
export interface UpstreamAlertRow {
  incident_id: string;
  /** alertmanager | grafana */
  integration: string;
  /** The sender's fingerprint of the alert (its label set). */
  fingerprint: string;
  /** firing | resolved */
  status: string;
  /** The alertname label, or the title, for the timeline. */
  name: string;
  starts_at: string;
  ends_at: string | null;
  updated_at: string;
}

/** A console session; `id` is the SHA-256 of the cookie's token. */
export interface ConsoleSessionRow {
  id: string;
  key_id: string;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
}

/** The health probe's rows: only its heartbeat stays (its other write is rolled back). */
export interface StoreProbeRow {
  id: string;
  filler: string;
}

export interface UserRow {
  id: string;
  name: string;
  email: string;
  slack_user_id: string | null;
  /** E.164. */
  phone: string | null;
  ntfy_topic: string | null;
  /** IANA. */
  time_zone: string;
  /** JSON array of { after_ms, methods }. */
  notification_rules: string;
  /** SHA-256 of the user's calendar feed token, hex; NULL until one is made. */
  calendar_token_hash: string | null;
  /** Set: never notified, and their time in schedules is a gap. */
  deactivated_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface TeamRow {
  id: string;
  name: string;
  /** An escalation policy of the routing configuration, by name. */
  escalation_policy: string | null;
  /** What a step or route naming the team does: `policy` (runs its escalation policy) or `members` (notifies every member). */
  notify: string;
  created_at: string;
  updated_at: string;
}

export interface TeamMemberRow {
  team_id: string;
  user_id: string;
  position: number;
}

export interface ScheduleRow {
  id: string;
  name: string;
  time_zone: string;
  team_id: string | null;
  /** JSON array of layers, lowest first. */
  layers: string;
  created_at: string;
  updated_at: string;
}

export interface ScheduleOverrideRow {
  id: string;
  schedule_id: string;
  user_id: string;
  starts_at: string;
  ends_at: string;
  created_by: string;
  created_at: string;
}

export interface Database {
  users: UserRow;
  teams: TeamRow;
  team_members: TeamMemberRow;
  schedules: ScheduleRow;
  schedule_overrides: ScheduleOverrideRow;
  store_probe: StoreProbeRow;
  console_sessions: ConsoleSessionRow;
  scheduled_steps: ScheduledStepRow;
  silences: SilenceRow;
  slack_interaction_receipts: SlackInteractionReceiptRow;
  inbound_receipts: InboundReceiptRow;
  pagerduty_custom_keys: PagerDutyCustomKeyRow;
  api_keys: ApiKeyRow;
  upstream_alerts: UpstreamAlertRow;
  incidents: IncidentRow;
  incident_timeline: TimelineRow;
  incident_notes: NoteRow;
  alerts: AlertRow;
  notification_deliveries: DeliveryRow;
}

export type Dialect = 'sqlite' | 'postgres';
