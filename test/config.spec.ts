import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { ConfigService } from '@nestjs/config';
import { APP_CONFIG } from '../src/config/config.module';
import { CONFIG_SCHEMA } from '../src/config/config.schema';
import { startApp, TestStore } from './support/harness';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, ConfigError, loadConfig, nearestName, readConfig } from '../src/config/config.loader';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('loads config/default.toml as shipped, with every documented default', () => {
    const config = loadConfig({});
    expect(config.server).toEqual({
      host: '0.0.0.0',
      http_port: 8080,
      grpc_port: 9000,
      body_limit_bytes: 5242880,
      request_header_timeout_secs: 10,
      request_timeout_secs: 30,
      cors_origins: [],
      tls_cert_path: '',
      tls_key_path: '',
      access_log: true,
      public_url: '',
      link_secret_env: 'LLM_IM_LINK_SECRET',
      ack_link_ttl_secs: 86400,
    });
    expect(config.auth).toEqual({ enabled: true, bootstrap_key_env: 'LLM_IM_BOOTSTRAP_KEY', key_cache_secs: 2, docs_public: true });
    expect(config.outbound).toEqual({ allow_hosts: [], allow_cidrs: [] });
    expect(config.storage).toEqual({ driver: 'sqlite', sqlite_path: './data/incidents.db', postgres_url_env: 'DATABASE_URL' });
    expect(config.processing).toEqual({ deduplication_enabled: true, deduplication_window_secs: 900 });
    expect(config.integrations).toEqual({
      auto_resolve: true,
      severity_label: 'severity',
      severity_map: ['critical=P1', 'high=P2', 'error=P2', 'warning=P3', 'info=P4', 'low=P4'],
      default_severity: 'P3',
      type_label: 'incident_type',
      type_map: [],
      type_from_alertname: true,
      default_type: 'Unknown',
      pagerduty_webhook_secrets_env: 'PAGERDUTY_WEBHOOK_SECRETS',
    });
    expect(config.notifications).toMatchObject({
      slack_webhook_env: 'SLACK_WEBHOOK_URL',
      slack_bot_token_env: 'SLACK_BOT_TOKEN',
      slack_default_channel: '#incidents',
      smtp_server: 'smtp.gmail.com',
      smtp_port: 587,
      smtp_use_tls: true,
      smtp_username_env: 'SMTP_USERNAME',
      smtp_password_env: 'SMTP_PASSWORD',
      email_from: 'incidents@example.com',
      email_from_name: 'LLM Incident Manager',
      pagerduty_integration_key_env: 'PAGERDUTY_INTEGRATION_KEY',
      pagerduty_api_url: 'https://events.pagerduty.com/v2/enqueue',
      default_webhook_url: '',
      webhook_signing_secrets_env: 'WEBHOOK_SIGNING_SECRETS',
      webhook_timeout_secs: 10,
      queue_size: 10000,
      worker_threads: 4,
      max_retries: 3,
      retry_backoff_secs: 5,
      page_retry_horizon: '1h',
      email_to: [],
      smtp_tls_verify: true,
      delivery_timeout_secs: 10,
      slack_api_url: 'https://slack.com/api',
      sms_enabled: false,
      voice_enabled: false,
      twilio_api_url: 'https://api.twilio.com',
      twilio_account_sid: '',
      twilio_auth_token_env: 'TWILIO_AUTH_TOKEN',
      twilio_from_number: '',
      sms_ack_words: ['ACK'],
      sms_resolve_words: ['RES'],
      sms_fold_window_secs: 300,
      ntfy_enabled: false,
      ntfy_server_url: 'https://ntfy.sh',
      ntfy_token_env: 'NTFY_TOKEN',
      teams_enabled: false,
      teams_webhook_env: 'TEAMS_WEBHOOK_URL',
    });
  });

  it('takes email_to as a list in the file and comma-separated in the environment, and reads secrets from the *_env variables', () => {
    expect(buildConfig({ notifications: { email_to: ['a@example.com', ' b@example.com '] } }, {}).notifications.email_to).toEqual([
      'a@example.com',
      'b@example.com',
    ]);
    const config = buildConfig(
      { notifications: { pagerduty_integration_key_env: 'MY_PD' } },
      {
        LLM_IM__NOTIFICATIONS__EMAIL_TO: 'a@example.com, b@example.com',
        MY_PD: 'key',
        SLACK_WEBHOOK_URL: 'https://hooks.example/x',
        SMTP_USERNAME: 'u',
        SMTP_PASSWORD: 'p',
      },
    );
    expect(config.notifications.email_to).toEqual(['a@example.com', 'b@example.com']);
    expect(config.secrets).toEqual({
      pagerduty_integration_key: 'key',
      slack_webhook_url: 'https://hooks.example/x',
      slack_bot_token: undefined,
      smtp_username: 'u',
      smtp_password: 'p',
      webhook_signing_secrets: [],
      bootstrap_api_key: undefined,
      link_secret: undefined,
      twilio_auth_token: undefined,
      ntfy_token: undefined,
      teams_webhook_url: undefined,
      pagerduty_webhook_secrets: [],
    });
  });

  it('checks the rules that span keys, naming each key and never echoing a secret', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const problemsOf = (raw: Record<string, Record<string, unknown>>, env: Record<string, string>) => {
      try {
        buildConfig(raw, env);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problemsOf({ notifications: { webhook_enabled: true } }, {}).map((p) => p.key)).toEqual([
      'notifications.default_webhook_url',
      'notifications.webhook_signing_secrets_env',
    ]);
    expect(problemsOf({ notifications: { webhook_enabled: true, default_webhook_url: 'ftp://x' } }, { WEBHOOK_SIGNING_SECRETS: 'hunter2' })).toEqual([
      { key: 'notifications.default_webhook_url', message: 'must be an http(s) URL' },
      { key: 'notifications.webhook_signing_secrets_env', message: expect.not.stringContaining('hunter2') },
    ]);
    expect(
      problemsOf(
        { notifications: { webhook_enabled: true, default_webhook_url: 'https://hooks.example/x' } },
        { WEBHOOK_SIGNING_SECRETS: `${secret} ${secret}` },
      ),
    ).toEqual([]);
    const badKey = problemsOf({}, { LLM_IM_BOOTSTRAP_KEY: 'lim_short' });
    expect(badKey).toEqual([{ key: 'auth.bootstrap_key_env', message: expect.not.stringContaining('lim_short') }]);
    expect(problemsOf({ server: { tls_cert_path: '/tmp/cert.pem' } }, {}).map((p) => p.key)).toEqual(['server.tls_key_path']);
    expect(problemsOf({ outbound: { allow_cidrs: ['10.0.0.0/8', '10.0.0.0/33', 'fd00::/8', 'nope'] } }, {}).map((p) => p.message)).toEqual([
      expect.stringContaining('"10.0.0.0/33"'),
      expect.stringContaining('"nope"'),
    ]);
    expect(problemsOf({ integrations: { severity_map: ['critical=P1', 'warning', 'info=P9', '=P2'] } }, {})).toEqual([
      { key: 'integrations.severity_map[1]', message: expect.stringContaining('"warning" is not label value=severity') },
      { key: 'integrations.severity_map[2]', message: expect.stringContaining('"info=P9"') },
      { key: 'integrations.severity_map[3]', message: expect.stringContaining('"=P2"') },
    ]);
    expect(problemsOf({ integrations: { default_severity: 'P5', default_type: 'Weird' } }, {}).map((p) => p.key)).toEqual([
      'integrations.default_severity',
      'integrations.default_type',
    ]);
    const config = buildConfig({}, { LLM_IM_BOOTSTRAP_KEY: `lim_0123456789abcdef_${'e'.repeat(64)}`, WEBHOOK_SIGNING_SECRETS: `${secret},${secret}` });
    expect(config.secrets.bootstrap_api_key).toBe(`lim_0123456789abcdef_${'e'.repeat(64)}`);
    expect(config.secrets.webhook_signing_secrets).toEqual([secret, secret]);
  });

  it('texts, calls, push and Teams need a public URL, a link key, and (Twilio) an account, a number and a token; no secret is echoed', () => {
    const problemsOf = (raw: Record<string, Record<string, unknown>>, env: Record<string, string>) => {
      try {
        buildConfig(raw, env);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problemsOf({ notifications: { sms_enabled: true } }, {}).map((p) => p.key)).toEqual([
      'server.public_url',
      'notifications.twilio_account_sid',
      'notifications.twilio_from_number',
      'notifications.twilio_auth_token_env',
    ]);
    const twilio = { sms_enabled: true, voice_enabled: true, twilio_account_sid: `AC${'a'.repeat(32)}`, twilio_from_number: '+14155550100' };
    const env = { TWILIO_AUTH_TOKEN: 'tok', LLM_IM_LINK_SECRET: 'k'.repeat(32) };
    expect(problemsOf({ server: { public_url: 'https://im.example.com' }, notifications: twilio }, env)).toEqual([]);
    // A link key that is too short is named, never shown.
    expect(problemsOf({ server: { public_url: 'https://im.example.com' }, notifications: twilio }, { ...env, LLM_IM_LINK_SECRET: 'short-secret' })).toEqual([
      { key: 'server.link_secret_env', message: expect.not.stringContaining('short-secret') },
    ]);
    expect(
      problemsOf(
        {
          server: { public_url: 'https://im.example.com' },
          notifications: { ...twilio, twilio_from_number: '0155 555', sms_ack_words: ['ACK'], sms_resolve_words: ['ack'] },
        },
        env,
      ).map((p) => p.key),
    ).toEqual(['notifications.twilio_from_number', 'notifications.sms_resolve_words']);
    // Teams alone needs the public URL and its webhook variable, not the link key.
    expect(problemsOf({ notifications: { teams_enabled: true } }, {}).map((p) => p.key)).toEqual(['server.public_url', 'notifications.teams_webhook_env']);
    expect(
      problemsOf({ server: { public_url: 'https://im.example.com' }, notifications: { ntfy_enabled: true, ntfy_server_url: 'ntfy.example.com' } }, env).map(
        (p) => p.key,
      ),
    ).toEqual(['notifications.ntfy_server_url']);
    // Push carries signed acknowledgement links: it needs the key; texts and calls do not.
    expect(problemsOf({ server: { public_url: 'https://im.example.com' }, notifications: { ntfy_enabled: true } }, {}).map((p) => p.key)).toEqual([
      'server.link_secret_env',
    ]);
    expect(problemsOf({ server: { public_url: 'https://im.example.com' }, notifications: twilio }, { TWILIO_AUTH_TOKEN: 'tok' })).toEqual([]);
  });

  it("applies LLM_IM__<SECTION>__<KEY> overrides with the key's type", () => {
    const config = buildConfig(
      {},
      {
        LLM_IM__SERVER__HTTP_PORT: '8081',
        LLM_IM__PROCESSING__DEDUPLICATION_ENABLED: 'false',
        LLM_IM__NOTIFICATIONS__SLACK_DEFAULT_CHANNEL: '#ops',
      },
    );
    expect(config.server.http_port).toBe(8081);
    expect(config.processing.deduplication_enabled).toBe(false);
    expect(config.notifications.slack_default_channel).toBe('#ops');
  });

  it('resolves the PostgreSQL URL from the variable named by postgres_url_env', () => {
    const config = buildConfig({ storage: { driver: 'postgres', postgres_url_env: 'MY_PG' } }, { MY_PG: 'postgres://x@h/db' });
    expect(config.database_url).toBe('postgres://x@h/db');
  });

  it.each([
    ['unknown section', { nonsense: { a: 1 } }, {}, 'nonsense', /unknown section/],
    ['unknown key', { server: { http_prot: 8080 } }, {}, 'server.http_prot', /unknown key/],
    ['wrong type (string for integer)', { server: { http_port: '8080' } }, {}, 'server.http_port', /expected an integer/],
    ['wrong type (integer for boolean)', { processing: { deduplication_enabled: 1 } }, {}, 'processing.deduplication_enabled', /expected a boolean/],
    ['out of range', { server: { http_port: 70000 } }, {}, 'server.http_port', /between 0 and 65535/],
    ['unknown driver', { storage: { driver: 'mysql' } }, {}, 'storage.driver', /one of sqlite, postgres/],
    ['notification key of wrong type', { notifications: { worker_threads: 'four' } }, {}, 'notifications.worker_threads', /expected an integer/],
    ['unknown notification key', { notifications: { slack_enable: true } }, {}, 'notifications.slack_enable', /unknown key/],
    ['a list that is not a list', { notifications: { email_to: 'a@example.com' } }, {}, 'notifications.email_to', /expected an array of strings/],
    ['a list with a non-string', { notifications: { email_to: ['a@example.com', 3] } }, {}, 'notifications.email_to[1]', /non-empty string/],
    ['section that is not a table', { server: 5 }, {}, 'server', /expected a table/],
    ['env override of wrong type', {}, { LLM_IM__SERVER__HTTP_PORT: 'eighty' }, 'LLM_IM__SERVER__HTTP_PORT', /expected an integer/],
    ['env override of unknown key', {}, { LLM_IM__SERVER__NOPE: '1' }, 'LLM_IM__SERVER__NOPE', /does not name a configuration key/],
    ['env boolean not true/false', {}, { LLM_IM__PROCESSING__DEDUPLICATION_ENABLED: 'yes' }, 'LLM_IM__PROCESSING__DEDUPLICATION_ENABLED', /true or false/],
    ['postgres without its URL', { storage: { driver: 'postgres' } }, {}, 'storage.postgres_url_env', /DATABASE_URL is not set/],
  ])('refuses %s, naming the key', (_name, raw, env, key, message) => {
    const err = configError(() => buildConfig(raw as never, env));
    expect(err.key).toBe(key);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(key);
  });

  it('refuses a CONFIG_PATH that does not exist instead of falling back to defaults', () => {
    const err = configError(() => loadConfig({ CONFIG_PATH: '/nonexistent/config.toml' }));
    expect(err.key).toBe('CONFIG_PATH');
  });

  it('refuses a file that is not TOML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.toml'), '[server\nhttp_port = 1');
    const err = configError(() => loadConfig({ CONFIG_PATH: join(dir, 'c.toml') }));
    expect(err.message).toMatch(/not valid TOML/);
  });

  it('reads a secret from the file NAME_FILE names when NAME is not set (container secrets), the variable itself first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const key = `lim_${'a'.repeat(16)}_${'b'.repeat(64)}`;
    writeFileSync(join(dir, 'key'), `${key}\n`);
    writeFileSync(join(dir, 'url'), 'postgres://u@db:5432/x');
    const fromFiles = loadConfig({
      LLM_IM_BOOTSTRAP_KEY_FILE: join(dir, 'key'),
      DATABASE_URL_FILE: join(dir, 'url'),
      LLM_IM__STORAGE__DRIVER: 'postgres',
    });
    expect(fromFiles.secrets.bootstrap_api_key).toBe(key);
    expect(fromFiles.database_url).toBe('postgres://u@db:5432/x');
    const other = `lim_${'c'.repeat(16)}_${'d'.repeat(64)}`;
    expect(loadConfig({ LLM_IM_BOOTSTRAP_KEY: other, LLM_IM_BOOTSTRAP_KEY_FILE: join(dir, 'key') }).secrets.bootstrap_api_key).toBe(other);
    // Only the variables the configuration reads: another program's *_FILE variable is left alone.
    expect(loadConfig({ TF_CLI_CONFIG_FILE: join(dir, 'missing') }).secrets.bootstrap_api_key).toBeUndefined();
    // A file that cannot be read stops startup, naming the variable and the path, never a content.
    const err = configError(() => loadConfig({ SLACK_BOT_TOKEN_FILE: join(dir, 'missing') }));
    expect(err.key).toBe('SLACK_BOT_TOKEN_FILE');
    expect(err.message).toBe(
      `invalid configuration: SLACK_BOT_TOKEN_FILE: SLACK_BOT_TOKEN is to be read from ${join(dir, 'missing')}, which cannot be read (ENOENT)`,
    );
  });

  it('reads a custom file from CONFIG_PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.toml'), '[processing]\ndeduplication_window_secs = 60\n');
    expect(loadConfig({ CONFIG_PATH: join(dir, 'c.toml') }).processing.deduplication_window_secs).toBe(60);
  });
});

describe('keys left to their defaults', () => {
  it('are listed, so that the startup log can name them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.toml'), '[server]\nhttp_port = 8081\n');
    const loaded = readConfig({ CONFIG_PATH: join(dir, 'c.toml'), LLM_IM__SERVER__HOST: '127.0.0.1' });
    expect(loaded.defaulted).toContain('server.grpc_port');
    expect(loaded.defaulted).not.toContain('server.http_port');
    expect(loaded.defaulted).not.toContain('server.host');
    expect(readConfig({}).defaulted).toEqual([]); // default.toml sets every key
  });
});

describe('every configuration problem at once', () => {
  it('reports each mistaken key on its own line, and names the nearest known key of a misspelling', () => {
    const err = configError(() =>
      buildConfig({ server: { http_port: '8080' }, notifications: { worker_threads: 0, slack_enabld: true } }, { LLM_IM__SERVER__GRCP_PORT: '9000' }),
    );
    expect(err.problems.map((p) => p.key)).toEqual([
      'server.http_port',
      'notifications.slack_enabld',
      'notifications.worker_threads',
      'LLM_IM__SERVER__GRCP_PORT',
    ]);
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('invalid configuration: server.http_port: expected an integer, got string');
    expect(lines[1]).toBe('invalid configuration: notifications.slack_enabld: unknown key (did you mean `slack_enabled`?)');
    expect(lines[2]).toBe('invalid configuration: notifications.worker_threads: must be between 1 and 256, got 0');
    expect(lines[3]).toContain('did you mean `LLM_IM__SERVER__GRPC_PORT`?');
  });

  it('suggests a section for a misspelt one, and nothing for a name far from every key', () => {
    const err = configError(() => buildConfig({ notification: {}, server: { zzzzzzzz: 1 } }, {}));
    expect(err.problems).toEqual([
      { key: 'notification', message: 'unknown section (did you mean `notifications`?)' },
      { key: 'server.zzzzzzzz', message: 'unknown key' },
    ]);
  });

  it('checks LOG_FORMAT and LOG_LEVEL with the rest', () => {
    const err = configError(() => buildConfig({ server: { http_port: -1 } }, { LOG_FORMAT: 'fancy', LOG_LEVEL: 'loud' }));
    expect(err.problems.map((p) => p.key)).toEqual(['server.http_port', 'LOG_FORMAT', 'LOG_LEVEL']);
    expect(err.problems[1].message).toBe('must be one of json, pretty, got "fancy"');
    expect(() => buildConfig({}, { LOG_FORMAT: 'pretty', LOG_LEVEL: 'debug' })).not.toThrow();
  });

  it('reports a missing PostgreSQL URL together with the other mistakes', () => {
    const err = configError(() => buildConfig({ storage: { driver: 'postgres', postgres_url_env: 'NO_SUCH_VAR' }, server: { http_port: 'x' } }, {}));
    expect(err.problems.map((p) => p.key)).toEqual(['server.http_port', 'storage.postgres_url_env']);
  });
});

describe('nearestName', () => {
  it.each([
    ['slack_enabld', 'slack_enabled'],
    ['SLACK_ENABLED', 'slack_enabled'],
    ['webhook_timout_secs', 'webhook_timeout_secs'],
    ['retries', undefined],
  ])('%s → %s', (name, expected) => {
    expect(nearestName(name, ['slack_enabled', 'email_enabled', 'webhook_timeout_secs', 'max_retries'])).toBe(expected);
  });
});

describe('the two homes of the defaults', () => {
  it('config.schema.ts and config/default.toml give every key the same default', () => {
    const toml = parseToml(readFileSync(join(__dirname, '..', 'config', 'default.toml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const mismatches: string[] = [];
    for (const [section, keys] of Object.entries(CONFIG_SCHEMA)) {
      for (const [key, spec] of Object.entries(keys)) {
        const inFile = toml[section]?.[key];
        if (JSON.stringify(inFile) !== JSON.stringify(spec.default))
          mismatches.push(`${section}.${key}: schema ${JSON.stringify(spec.default)}, file ${JSON.stringify(inFile)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('the configuration inside the application', () => {
  it('is what @nestjs/config serves, the same object the modules inject', async () => {
    const store = await TestStore.create('sqlite');
    const running = await startApp(store, { overrides: { notifications: { worker_threads: 7 } } });
    try {
      const configService = running.app.get(ConfigService);
      expect(configService.get('app.notifications.worker_threads')).toBe(7);
      expect(running.app.get(APP_CONFIG)).toBe(configService.get('app'));
    } finally {
      await running.close();
      await store.destroy();
    }
  });
});
