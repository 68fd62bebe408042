import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { AppConfig, CONFIG_SCHEMA, KeySpec, NotificationSecrets } from './config.schema';

export const DEFAULT_CONFIG_PATH = 'config/default.toml';
export const ENV_PREFIX = 'LLM_IM__';

/** A configuration problem; `key` names the offending key as `section.key` (or the env var). */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`invalid configuration: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
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
      if (!Array.isArray(value)) throw new ConfigError(name, `expected an array of strings, got ${describeType(value)}`);
      value.forEach((item, i) => {
        if (typeof item !== 'string' || item.trim() === '') throw new ConfigError(`${name}[${i}]`, 'expected a non-empty string');
      });
      return (value as string[]).map((item) => item.trim());
    case 'boolean':
      if (typeof value !== 'boolean') throw new ConfigError(name, `expected a boolean, got ${describeType(value)}`);
      return value;
    case 'integer': {
      // smol-toml yields bigint for integers outside the safe range.
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        throw new ConfigError(name, `expected an integer, got ${describeType(value)}`);
      }
      if (n < spec.min || n > spec.max) {
        throw new ConfigError(name, `must be between ${spec.min} and ${spec.max}, got ${n}`);
      }
      return n;
    }
    case 'string':
      if (typeof value !== 'string') throw new ConfigError(name, `expected a string, got ${describeType(value)}`);
      if (spec.nonEmpty && value.trim() === '') throw new ConfigError(name, 'must not be empty');
      if (spec.oneOf && !spec.oneOf.includes(value)) {
        throw new ConfigError(name, `must be one of ${spec.oneOf.join(', ')}, got "${value}"`);
      }
      return value;
  }
}

function fromEnvString(envName: string, spec: KeySpec, raw: string): unknown {
  switch (spec.type) {
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new ConfigError(envName, `expected true or false, got "${raw}"`);
    case 'integer':
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(envName, `expected an integer, got "${raw}"`);
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
    throw new ConfigError('CONFIG_PATH', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseToml(text) as RawSections;
  } catch (err) {
    throw new ConfigError('CONFIG_PATH', `${path} is not valid TOML: ${(err as Error).message}`);
  }
}

/**
 * Validates raw sections (as parsed from TOML) plus env overrides into an AppConfig.
 * Keys absent from the file take the documented defaults of config/default.toml; anything
 * present but unknown or mistyped is an error, never ignored.
 */
export function buildConfig(raw: RawSections, env: Env): AppConfig {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, value] of Object.entries(raw)) {
    if (!(section in CONFIG_SCHEMA)) throw new ConfigError(section, 'unknown section');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(section, 'expected a table');
    }
  }
  for (const [section, keys] of Object.entries(CONFIG_SCHEMA) as [string, Record<string, KeySpec>][]) {
    const given = raw[section] ?? {};
    for (const key of Object.keys(given)) {
      if (!(key in keys)) throw new ConfigError(`${section}.${key}`, 'unknown key');
    }
    out[section] = {};
    for (const [key, spec] of Object.entries(keys)) {
      const value = key in given ? given[key] : spec.default;
      out[section][key] = checkValue(`${section}.${key}`, spec, value);
    }
  }

  for (const [envName, rawValue] of Object.entries(env)) {
    if (!envName.startsWith(ENV_PREFIX) || rawValue === undefined) continue;
    const [section, key, ...rest] = envName.slice(ENV_PREFIX.length).toLowerCase().split('__');
    const spec = (CONFIG_SCHEMA as Record<string, Record<string, KeySpec>>)[section]?.[key ?? ''];
    if (!spec || rest.length > 0) {
      throw new ConfigError(envName, 'does not name a configuration key (expected LLM_IM__<SECTION>__<KEY>)');
    }
    out[section][key] = checkValue(envName, spec, fromEnvString(envName, spec, rawValue));
  }

  const config = { ...(out as unknown as AppConfig), secrets: secretsFrom(out as unknown as AppConfig, env) };
  if (config.storage.driver === 'postgres') {
    const envName = config.storage.postgres_url_env;
    const url = env[envName];
    if (!url) {
      throw new ConfigError('storage.postgres_url_env', `driver is postgres but the environment variable ${envName} is not set`);
    }
    return { ...config, database_url: url };
  }
  return config;
}

function secretsFrom(config: AppConfig, env: Env): NotificationSecrets {
  const n = config.notifications;
  const read = (name: string): string | undefined => (name && env[name]?.trim()) || undefined;
  return {
    slack_webhook_url: read(n.slack_webhook_env),
    slack_bot_token: read(n.slack_bot_token_env),
    smtp_username: read(n.smtp_username_env),
    smtp_password: read(n.smtp_password_env),
    pagerduty_integration_key: read(n.pagerduty_integration_key_env),
  };
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
}

/** Loads CONFIG_PATH (default config/default.toml) and applies LLM_IM__* overrides. */
export function readConfig(env: Env = process.env): LoadedConfig {
  const path = env.CONFIG_PATH || DEFAULT_CONFIG_PATH;
  const raw = readToml(path);
  return { config: buildConfig(raw, env), path, defaulted: defaultedKeys(raw, env) };
}

export function loadConfig(env: Env = process.env): AppConfig {
  return readConfig(env).config;
}
