/**
 * The one description of every configuration key: its type, its default and its limits.
 * The loader checks files and env overrides against it, so a typo in a key name or a wrong
 * type stops the service instead of being ignored.
 */
import { INCIDENT_TYPES, SEVERITIES } from '../incidents/domain/incident';
import type { Routing } from '../routing/routing-config';

type KeySpec =
  | { type: 'string'; default: string; oneOf?: readonly string[]; nonEmpty?: boolean; duration?: { maxMs: number } }
  | { type: 'integer'; default: number; min: number; max: number }
  | { type: 'boolean'; default: boolean }
  | { type: 'list'; default: readonly string[] };

export const CONFIG_SCHEMA = {
  server: {
    host: { type: 'string', default: '0.0.0.0', nonEmpty: true },
    http_port: { type: 'integer', default: 8080, min: 0, max: 65535 },
    grpc_port: { type: 'integer', default: 9000, min: 0, max: 65535 },
    body_limit_bytes: { type: 'integer', default: 5_242_880, min: 1024, max: 104_857_600 },
    request_header_timeout_secs: { type: 'integer', default: 10, min: 1, max: 600 },
    request_timeout_secs: { type: 'integer', default: 30, min: 1, max: 3600 },
    cors_origins: { type: 'list', default: [] },
    tls_cert_path: { type: 'string', default: '' },
    tls_key_path: { type: 'string', default: '' },
    access_log: { type: 'boolean', default: true },
    // Where people reach the console (https://incidents.example.com): notifications link to the
    // incident there. Empty: no link.
    public_url: { type: 'string', default: '' },
    // Variable holding the key that signs acknowledgement links (email, ntfy buttons): at least
    // 32 characters, the same on every instance.
    link_secret_env: { type: 'string', default: 'LLM_IM_LINK_SECRET' },
    // How long an acknowledgement link works after it was sent.
    ack_link_ttl_secs: { type: 'integer', default: 86_400, min: 300, max: 2_592_000 },
  },
  auth: {
    enabled: { type: 'boolean', default: true },
    bootstrap_key_env: { type: 'string', default: 'LLM_IM_BOOTSTRAP_KEY' },
    key_cache_secs: { type: 'integer', default: 2, min: 0, max: 10 },
    docs_public: { type: 'boolean', default: true },
  },
  limits: {
    ingest_rate_per_sec: { type: 'integer', default: 200, min: 1, max: 1_000_000 },
    ingest_burst: { type: 'integer', default: 2000, min: 1, max: 10_000_000 },
    max_concurrent_requests_per_key: { type: 'integer', default: 64, min: 1, max: 100_000 },
    max_streams_per_key: { type: 'integer', default: 16, min: 1, max: 10_000 },
    max_expensive_reads_per_key: { type: 'integer', default: 4, min: 1, max: 10_000 },
  },
  outbound: {
    allow_hosts: { type: 'list', default: [] },
    allow_cidrs: { type: 'list', default: [] },
  },
  storage: {
    driver: { type: 'string', default: 'sqlite', oneOf: ['sqlite', 'postgres'] },
    sqlite_path: { type: 'string', default: './data/incidents.db', nonEmpty: true },
    postgres_url_env: { type: 'string', default: 'DATABASE_URL', nonEmpty: true },
  },
  processing: {
    deduplication_enabled: { type: 'boolean', default: true },
    deduplication_window_secs: { type: 'integer', default: 900, min: 0, max: 31_536_000 },
  },
  integrations: {
    auto_resolve: { type: 'boolean', default: true },
    severity_label: { type: 'string', default: 'severity', nonEmpty: true },
    severity_map: { type: 'list', default: ['critical=P1', 'high=P2', 'error=P2', 'warning=P3', 'info=P4', 'low=P4'] },
    default_severity: { type: 'string', default: 'P3', oneOf: SEVERITIES },
    type_label: { type: 'string', default: 'incident_type', nonEmpty: true },
    // Values of the type label that name a type in other words: "node=Infrastructure".
    type_map: { type: 'list', default: [] },
    // Without a type label: the type from words of the alert's name (DiskFull: Infrastructure).
    type_from_alertname: { type: 'boolean', default: true },
    default_type: { type: 'string', default: 'Unknown', oneOf: INCIDENT_TYPES },
    // PagerDuty v3 webhook subscriptions' signing secrets, separated by spaces (rotation).
    pagerduty_webhook_secrets_env: { type: 'string', default: 'PAGERDUTY_WEBHOOK_SECRETS' },
  },
  notifications: {
    slack_enabled: { type: 'boolean', default: false },
    slack_webhook_env: { type: 'string', default: 'SLACK_WEBHOOK_URL' },
    slack_bot_token_env: { type: 'string', default: 'SLACK_BOT_TOKEN' },
    slack_default_channel: { type: 'string', default: '#incidents' },
    slack_api_url: { type: 'string', default: 'https://slack.com/api' },
    slack_signing_secret_env: { type: 'string', default: 'SLACK_SIGNING_SECRET' },
    email_enabled: { type: 'boolean', default: false },
    smtp_server: { type: 'string', default: 'smtp.gmail.com' },
    smtp_port: { type: 'integer', default: 587, min: 1, max: 65535 },
    smtp_use_tls: { type: 'boolean', default: true },
    smtp_username_env: { type: 'string', default: 'SMTP_USERNAME' },
    smtp_password_env: { type: 'string', default: 'SMTP_PASSWORD' },
    email_from: { type: 'string', default: 'incidents@example.com' },
    email_from_name: { type: 'string', default: 'LLM Incident Manager' },
    email_to: { type: 'list', default: [] },
    smtp_tls_verify: { type: 'boolean', default: true },
    pagerduty_enabled: { type: 'boolean', default: false },
    pagerduty_integration_key_env: { type: 'string', default: 'PAGERDUTY_INTEGRATION_KEY' },
    pagerduty_api_url: { type: 'string', default: 'https://events.pagerduty.com/v2/enqueue' },
    webhook_enabled: { type: 'boolean', default: false },
    default_webhook_url: { type: 'string', default: '' },
    webhook_signing_secrets_env: { type: 'string', default: 'WEBHOOK_SIGNING_SECRETS' },
    webhook_timeout_secs: { type: 'integer', default: 10, min: 1, max: 300 },
    delivery_timeout_secs: { type: 'integer', default: 10, min: 1, max: 300 },
    queue_size: { type: 'integer', default: 10_000, min: 1, max: 10_000_000 },
    worker_threads: { type: 'integer', default: 4, min: 1, max: 256 },
    worker_max_in_flight: { type: 'integer', default: 64, min: 1, max: 1024 },
    max_retries: { type: 'integer', default: 3, min: 0, max: 100 },
    retry_backoff_secs: { type: 'integer', default: 5, min: 0, max: 86_400 },
    page_retry_horizon: { type: 'string', default: '1h', duration: { maxMs: 7 * 86_400_000 } },
    // Twilio (or an API that copies it): text messages and voice calls to a person's phone.
    sms_enabled: { type: 'boolean', default: false },
    voice_enabled: { type: 'boolean', default: false },
    twilio_api_url: { type: 'string', default: 'https://api.twilio.com' },
    twilio_account_sid: { type: 'string', default: '' },
    twilio_auth_token_env: { type: 'string', default: 'TWILIO_AUTH_TOKEN' },
    twilio_from_number: { type: 'string', default: '' },
    sms_ack_words: { type: 'list', default: ['ACK'] },
    sms_resolve_words: { type: 'list', default: ['RES'] },
    sms_fold_window_secs: { type: 'integer', default: 300, min: 0, max: 86_400 },
    // ntfy: push to a person's phone through a topic on the operator's ntfy server.
    ntfy_enabled: { type: 'boolean', default: false },
    ntfy_server_url: { type: 'string', default: 'https://ntfy.sh' },
    ntfy_token_env: { type: 'string', default: 'NTFY_TOKEN' },
    // Microsoft Teams through a Workflows webhook (the default receiver's), an Adaptive Card per event.
    teams_enabled: { type: 'boolean', default: false },
    teams_webhook_env: { type: 'string', default: 'TEAMS_WEBHOOK_URL' },
  },
  metrics: {
    enabled: { type: 'boolean', default: true },
    port: { type: 'integer', default: 0, min: 0, max: 65535 },
  },
  console: {
    enabled: { type: 'boolean', default: true },
    session_ttl_secs: { type: 'integer', default: 28_800, min: 60, max: 2_592_000 },
    // "Keep me signed in on this device": the session lasts this long (never past its key's expiry).
    remember_ttl_secs: { type: 'integer', default: 2_592_000, min: 60, max: 31_536_000 },
    secure_cookie: { type: 'boolean', default: false },
  },
} as const satisfies Record<string, Record<string, KeySpec>>;

export type ConfigSchema = typeof CONFIG_SCHEMA;
export type SectionName = keyof ConfigSchema;

type ValueOf<S> = S extends { type: 'string' }
  ? string
  : S extends { type: 'integer' }
    ? number
    : S extends { type: 'boolean' }
      ? boolean
      : S extends { type: 'list' }
        ? readonly string[]
        : never;

/** The validated, typed configuration: one object handed to every module. */
export type AppConfig = {
  readonly [S in SectionName]: { readonly [K in keyof ConfigSchema[S]]: ValueOf<ConfigSchema[S][K]> };
} & {
  /** Resolved from the environment variable named by storage.postgres_url_env (driver postgres). */
  readonly database_url?: string;
  /** Credentials of the notification channels, read from the variables the *_env keys name. */
  readonly secrets: NotificationSecrets;
  /** Receivers, escalation policies and the routing tree ([[receivers]], [[escalation_policies]], [route]). */
  readonly routing: Routing;
};

export interface NotificationSecrets {
  readonly slack_webhook_url?: string;
  readonly slack_bot_token?: string;
  /** Slack's signing secret: interaction requests (buttons) are verified with it. */
  readonly slack_signing_secret?: string;
  readonly smtp_username?: string;
  readonly smtp_password?: string;
  readonly pagerduty_integration_key?: string;
  /** Standard Webhooks secrets (`whsec_<base64>`), newest first; every one signs each delivery. */
  readonly webhook_signing_secrets: readonly string[];
  /** An admin API key taken from the variable auth.bootstrap_key_env names. */
  readonly bootstrap_api_key?: string;
  /** Signs acknowledgement links (server.link_secret_env). */
  readonly link_secret?: string;
  /** Twilio's auth token: basic auth on its API, and the key of X-Twilio-Signature on its callbacks. */
  readonly twilio_auth_token?: string;
  readonly ntfy_token?: string;
  /** The default receiver's Teams Workflows webhook URL (it carries its own signature). */
  readonly teams_webhook_url?: string;
  /** PagerDuty v3 webhook signing secrets, any of which may sign a request (rotation). */
  readonly pagerduty_webhook_secrets: readonly string[];
}

export type { KeySpec };
