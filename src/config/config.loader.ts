import { formatDuration, parseDuration } from '../routing/duration';
import { parseApiKey } from '../auth/api-key-format';
import { parseCidr } from '../common/outbound/address-policy';
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { LOG_FORMATS, LOG_LEVELS } from '../common/logger';
import { AppConfig, CONFIG_SCHEMA, KeySpec, NotificationSecrets } from './config.schema';
import { INCIDENT_TYPES } from '../incidents/domain/incident';
import { parseRouting, ROUTING_SECTIONS } from '../routing/routing-config';
import { phoneAndPushProblems } from './phone-and-push-checks';

export const DEFAULT_CONFIG_PATH = 'config/default.toml';
export const ENV_PREFIX = 'LLM_IM__';

/** One problem with one key; `key` names it as `section.key` (or the env var). */
export interface ConfigProblem {
  key: string;
  message: string;
}

/**
 * Every problem of a configuration at once, one line per key, so that a file with three
 * mistakes takes one restart to fix, not three. `key` is the first problem's key.
 */
export class ConfigError extends Error {
  readonly key: string;

  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map((p) => `invalid configuration: ${p.key}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
    this.key = problems[0].key;
  }

  static of(key: string, message: string): ConfigError {
    return new ConfigError([{ key, message }]);
  }
}

/** A problem found while checking one value; gathered into one ConfigError by the caller. */
class KeyProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** Edit distance, for "did you mean": names are short, so the plain dynamic programme is enough. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known name nearest to `name`, if it is near enough to be a typo of it. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function unknownName(what: string, name: string, known: readonly string[], prefix = ''): string {
  const near = nearestName(name, known);
  return near ? `${what} (did you mean \`${prefix}${near}\`?)` : what;
}

type Env = Record<string, string | undefined>;
type RawSections = Record<string, Record<string, unknown>>;

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

function checkValue(name: string, spec: KeySpec, value: unknown): string | number | boolean | readonly string[] {
  switch (spec.type) {
    case 'list':
      if (!Array.isArray(value)) throw new KeyProblem(name, `expected an array of strings, got ${describeType(value)}`);
      value.forEach((item, i) => {
        if (typeof item !== 'string' || item.trim() === '') throw new KeyProblem(`${name}[${i}]`, 'expected a non-empty string');
      });
      return (value as string[]).map((item) => item.trim());
    case 'boolean':
      if (typeof value !== 'boolean') throw new KeyProblem(name, `expected a boolean, got ${describeType(value)}`);
      return value;
    case 'integer': {
      // smol-toml yields bigint for integers outside the safe range.
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        throw new KeyProblem(name, `expected an integer, got ${describeType(value)}`);
      }
      if (n < spec.min || n > spec.max) {
        throw new KeyProblem(name, `must be between ${spec.min} and ${spec.max}, got ${n}`);
      }
      return n;
    }
    case 'string':
      if (typeof value !== 'string') throw new KeyProblem(name, `expected a string, got ${describeType(value)}`);
      if (spec.nonEmpty && value.trim() === '') throw new KeyProblem(name, 'must not be empty');
      if (spec.oneOf && !spec.oneOf.includes(value)) {
        throw new KeyProblem(name, `must be one of ${spec.oneOf.join(', ')}, got "${value}"`);
      }
      if (spec.duration) {
        const ms = parseDuration(value);
        if (ms === null) throw new KeyProblem(name, `expected a duration such as 90s, 30m or 1h, got "${value}"`);
        if (ms > spec.duration.maxMs) throw new KeyProblem(name, `must be at most ${formatDuration(spec.duration.maxMs)}, got "${value}"`);
      }
      return value;
  }
}

function fromEnvString(envName: string, spec: KeySpec, raw: string): unknown {
  switch (spec.type) {
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new KeyProblem(envName, `expected true or false, got "${raw}"`);
    case 'integer':
      if (!/^-?\d+$/.test(raw.trim())) throw new KeyProblem(envName, `expected an integer, got "${raw}"`);
      return Number(raw.trim());
    case 'string':
      return raw;
    case 'list':
      // Comma-separated in an environment variable: "a@example.com,b@example.com".
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
  }
}

function readToml(path: string): RawSections {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw ConfigError.of('CONFIG_PATH', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseToml(text) as RawSections;
  } catch (err) {
    throw ConfigError.of('CONFIG_PATH', `${path} is not valid TOML: ${(err as Error).message}`);
  }
}

export interface ConfigOptions {
  /**
   * `required` (the service): a variable that a key names for a secret (routing keys, webhook
   * signing secrets, the PostgreSQL URL) and that is not set is a problem. `optional` (the routes
   * CLI, which shows and tests the routing without the secrets): it is listed in `unset` instead.
   */
  secrets?: 'required' | 'optional';
}

/**
 * Validates raw sections (as parsed from TOML) plus env overrides into an AppConfig.
 * Keys absent from the file take the documented defaults of config/default.toml; anything
 * present but unknown or mistyped is an error, never ignored.
 */
export function buildConfig(raw: RawSections, env: Env, options: ConfigOptions = {}): AppConfig {
  return checkConfig(raw, env, options).config;
}

/** buildConfig, and the secrets' variables that are not set (only with secrets: 'optional'). */
function checkConfig(raw: RawSections, env: Env, options: ConfigOptions): { config: AppConfig; unset: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const check = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof KeyProblem)) throw err;
      problems.push({ key: err.key, message: err.message });
      return undefined;
    }
  };
  const sections = Object.keys(CONFIG_SCHEMA);
  for (const [section, value] of Object.entries(raw)) {
    if ((ROUTING_SECTIONS as readonly string[]).includes(section)) continue; // checked by parseRouting
    if (!(section in CONFIG_SCHEMA)) problems.push({ key: section, message: unknownName('unknown section', section, sections) });
    else if (typeof value !== 'object' || value === null || Array.isArray(value)) problems.push({ key: section, message: 'expected a table' });
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, keys] of Object.entries(CONFIG_SCHEMA) as [string, Record<string, KeySpec>][]) {
    const given = typeof raw[section] === 'object' && raw[section] !== null && !Array.isArray(raw[section]) ? raw[section] : {};
    for (const key of Object.keys(given)) {
      if (!(key in keys)) problems.push({ key: `${section}.${key}`, message: unknownName('unknown key', key, Object.keys(keys)) });
    }
    out[section] = {};
    for (const [key, spec] of Object.entries(keys)) {
      const value = key in given ? given[key] : spec.default;
      out[section][key] = check(() => checkValue(`${section}.${key}`, spec, value));
    }
  }

  const envNames = Object.entries(CONFIG_SCHEMA).flatMap(([section, keys]) => Object.keys(keys).map((key) => `${ENV_PREFIX}${section}__${key}`.toUpperCase()));
  for (const [envName, rawValue] of Object.entries(env)) {
    if (!envName.startsWith(ENV_PREFIX) || rawValue === undefined) continue;
    const [section, key, ...rest] = envName.slice(ENV_PREFIX.length).toLowerCase().split('__');
    const spec = (CONFIG_SCHEMA as Record<string, Record<string, KeySpec>>)[section]?.[key ?? ''];
    if (!spec || rest.length > 0) {
      problems.push({ key: envName, message: unknownName('does not name a configuration key (expected LLM_IM__<SECTION>__<KEY>)', envName, envNames) });
      continue;
    }
    out[section][key] = check(() => checkValue(envName, spec, fromEnvString(envName, spec, rawValue)));
  }
  // The logger's own settings are plain environment variables, checked here so that their
  // mistakes are reported with the rest.
  for (const [name, allowed] of [
    ['LOG_FORMAT', LOG_FORMATS],
    ['LOG_LEVEL', LOG_LEVELS],
  ] as const) {
    const value = env[name];
    if (value !== undefined && value !== '' && !(allowed as readonly string[]).includes(value)) {
      problems.push({ key: name, message: `must be one of ${allowed.join(', ')}, got "${value}"` });
    }
  }
  const storage = out.storage as { driver?: string; postgres_url_env?: string };
  const databaseUrl = storage.driver === 'postgres' && storage.postgres_url_env ? env[storage.postgres_url_env] : undefined;
  // A secret's variable that is not set: a problem, or (secrets: 'optional') listed in unset.
  const unset: ConfigProblem[] = [];
  const optional = options.secrets === 'optional' ? unset : undefined;
  if (storage.driver === 'postgres' && storage.postgres_url_env && !databaseUrl) {
    (optional ?? problems).push({
      key: 'storage.postgres_url_env',
      message: `driver is postgres but the environment variable ${storage.postgres_url_env} is not set`,
    });
  }
  problems.push(...crossKeyProblems(out as unknown as AppConfig, env, optional));
  const { notifications, integrations } = out as unknown as AppConfig;
  const routed = parseRouting(raw, env, notifications, { secrets: options.secrets, severity_map: integrations.severity_map });
  problems.push(...routed.problems);
  unset.push(...routed.unset);
  if (problems.length > 0 || !routed.routing) throw new ConfigError(problems);

  const config = { ...(out as unknown as AppConfig), routing: routed.routing, secrets: secretsFrom(out as unknown as AppConfig, env) };
  return { config: databaseUrl ? { ...config, database_url: databaseUrl } : config, unset };
}

function secretsFrom(config: AppConfig, env: Env): NotificationSecrets {
  const n = config.notifications;
  const read = (name: string): string | undefined => (name && env[name]?.trim()) || undefined;
  return {
    slack_webhook_url: read(n.slack_webhook_env),
    slack_bot_token: read(n.slack_bot_token_env),
    slack_signing_secret: read(n.slack_signing_secret_env),
    smtp_username: read(n.smtp_username_env),
    smtp_password: read(n.smtp_password_env),
    pagerduty_integration_key: read(n.pagerduty_integration_key_env),
    webhook_signing_secrets: signingSecretsIn(read(n.webhook_signing_secrets_env)),
    bootstrap_api_key: read(config.auth.bootstrap_key_env),
    link_secret: read(config.server.link_secret_env),
    twilio_auth_token: read(n.twilio_auth_token_env),
    ntfy_token: read(n.ntfy_token_env),
    teams_webhook_url: read(n.teams_webhook_env),
    pagerduty_webhook_secrets: signingSecretsIn(read(config.integrations.pagerduty_webhook_secrets_env)),
  };
}

/** Several secrets may be active at once (rotation): separated by spaces or commas. */
function signingSecretsIn(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((s) => s.length > 0);
}

/** A Standard Webhooks secret: `whsec_` and the base64 of at least 24 random bytes. */
function isSigningSecret(value: string): boolean {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  return m !== null && Buffer.from(m[1], 'base64').length >= 24;
}

/** Rules that span keys, or a key and the variable it names; given `unset`, a secret's variable that is not set goes there. Never echoes a secret's value. */
function crossKeyProblems(config: AppConfig, env: Env, unset?: ConfigProblem[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { server, auth, notifications: n, outbound } = config;
  // The incident's path is appended: no query or fragment, nothing Slack's <url|text> would break on.
  if (server?.public_url && !/^https?:\/\/[^/\s<>|?#]+(\/[^\s<>|?#]*)?$/i.test(server.public_url)) {
    problems.push({ key: 'server.public_url', message: 'must be an http(s) URL without query or fragment, such as https://incidents.example.com' });
  }
  problems.push(...phoneAndPushProblems(config, env, unset));
  if (n?.webhook_enabled && n.default_webhook_url === '') {
    problems.push({ key: 'notifications.default_webhook_url', message: 'webhook_enabled is true but no default_webhook_url is set' });
  }
  if (n?.webhook_enabled && n.default_webhook_url && !/^https?:\/\/[^/]/i.test(n.default_webhook_url)) {
    problems.push({ key: 'notifications.default_webhook_url', message: 'must be an http(s) URL' });
  }
  if (n?.webhook_enabled && n.webhook_signing_secrets_env !== undefined) {
    const secrets = signingSecretsIn(env[n.webhook_signing_secrets_env]);
    if (secrets.length === 0) {
      (unset ?? problems).push({
        key: 'notifications.webhook_signing_secrets_env',
        message: `webhook_enabled is true but the environment variable ${n.webhook_signing_secrets_env} (webhook signing secrets) is not set`,
      });
    } else if (!secrets.every(isSigningSecret)) {
      problems.push({
        key: 'notifications.webhook_signing_secrets_env',
        message: `${n.webhook_signing_secrets_env} must hold Standard Webhooks secrets: whsec_ and the base64 of at least 24 random bytes, separated by spaces`,
      });
    }
  }
  if (auth?.bootstrap_key_env && env[auth.bootstrap_key_env]?.trim() && !parseApiKey(env[auth.bootstrap_key_env]!.trim())) {
    problems.push({
      key: 'auth.bootstrap_key_env',
      message: `${auth.bootstrap_key_env} is not an API key (lim_<16 hex>_<64 hex>; create one with npm run keys -- generate)`,
    });
  }
  if (server && (server.tls_cert_path === '') !== (server.tls_key_path === '')) {
    problems.push({
      key: server.tls_cert_path === '' ? 'server.tls_cert_path' : 'server.tls_key_path',
      message: 'TLS needs both tls_cert_path and tls_key_path',
    });
  }
  (config.integrations?.severity_map ?? []).forEach((entry, i) => {
    if (!/^[^=]+=P[0-4]$/.test(entry)) {
      problems.push({ key: `integrations.severity_map[${i}]`, message: `"${entry}" is not label value=severity, such as critical=P1` });
    }
  });
  (config.integrations?.type_map ?? []).forEach((entry, i) => {
    const at = entry.lastIndexOf('=');
    const type = entry
      .slice(at + 1)
      .trim()
      .toLowerCase();
    if (at <= 0 || !INCIDENT_TYPES.some((t) => t.toLowerCase() === type)) {
      problems.push({
        key: `integrations.type_map[${i}]`,
        message: `"${entry}" is not label value=type, such as node=Infrastructure (types: ${INCIDENT_TYPES.join(', ')})`,
      });
    }
  });
  const metricsPort = config.metrics?.port;
  if (metricsPort && server && (metricsPort === server.http_port || metricsPort === server.grpc_port)) {
    problems.push({
      key: 'metrics.port',
      message: `${metricsPort} is already the ${metricsPort === server.http_port ? 'http_port' : 'grpc_port'} of [server]`,
    });
  }
  for (const cidr of outbound?.allow_cidrs ?? []) {
    if (!parseCidr(cidr)) problems.push({ key: 'outbound.allow_cidrs', message: `"${cidr}" is not a CIDR range such as 10.0.0.0/8 or fd00::/8` });
  }
  return problems;
}

/** Keys the file leaves out and no env var sets: they take the documented defaults. */
export function defaultedKeys(raw: RawSections, env: Env): string[] {
  const keys: string[] = [];
  for (const [section, specs] of Object.entries(CONFIG_SCHEMA)) {
    for (const key of Object.keys(specs)) {
      const envName = `${ENV_PREFIX}${section}__${key}`.toUpperCase();
      if (!(key in (raw[section] ?? {})) && env[envName] === undefined) keys.push(`${section}.${key}`);
    }
  }
  return keys;
}

export interface LoadedConfig {
  config: AppConfig;
  path: string;
  /** Reported at startup, so that no default is taken silently. */
  defaulted: string[];
  /** Secrets' variables that are not set: always empty unless read with secrets: 'optional'. */
  unset: ConfigProblem[];
}

/** Loads CONFIG_PATH (default config/default.toml) and applies LLM_IM__* overrides. */
export function readConfig(given: Env = process.env, options: ConfigOptions = {}): LoadedConfig {
  const env = withFileSecrets(given);
  const path = env.CONFIG_PATH || DEFAULT_CONFIG_PATH;
  const raw = readToml(path);
  const { config, unset } = checkConfig(raw, env, options);
  return { config, path, defaulted: defaultedKeys(raw, env), unset };
}

/**
 * Secrets from files, as container platforms hand them over (Docker and Compose secrets under
 * /run/secrets, Kubernetes secret volumes): when the configuration reads a variable NAME that is
 * not set and NAME_FILE is, NAME is the file's content without its trailing newline. Only the
 * variables the configuration asks for are looked up, so an unrelated *_FILE variable of the
 * environment (TF_CLI_CONFIG_FILE, …) is never read. A variable set directly wins; a file that
 * cannot be read stops startup naming the variable, never the content.
 */
function withFileSecrets(env: Env): Env {
  const fromFiles = new Map<string, string>();
  return new Proxy(env, {
    get(target, name, receiver): unknown {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof name !== 'string' || (value !== undefined && value !== '')) return value;
      const path = target[`${name}_FILE`];
      if (!path) return value;
      if (!fromFiles.has(name)) {
        try {
          fromFiles.set(name, readFileSync(path, 'utf8').replace(/\r?\n$/, ''));
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          throw new ConfigError([{ key: `${name}_FILE`, message: `${name} is to be read from ${path}, which cannot be read (${reason})` }]);
        }
      }
      return fromFiles.get(name);
    },
  });
}

export function loadConfig(env: Env = process.env): AppConfig {
  return readConfig(env).config;
}
