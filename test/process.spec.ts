import { spawn, spawnSync } from 'node:child_process';
import { Exit, isRunning, spawnService } from './support/service-process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSmtp, FakeTarget, slackWebhookFake, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, drivers, freePort, TestStore } from './support/harness';

const ROOT = join(__dirname, '..');

/** A request as ADMIN_KEY (the key TestStore bootstraps), unless init names another. */
async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(init.headers as Record<string, string> | undefined) } });
  return { status: res.status, body: await res.json() };
}

const postJson = (url: string, body: unknown, key = ADMIN_KEY) =>
  json(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

/** `npm run keys -- <args>` on the store the env names, as an operator would run it. */
function keysCli(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['-r', './scripts/ts-register.js', 'src/auth/keys.cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the service process', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'llm-im-proc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an unknown key in the file', '[server]\nhttp_prot = 8080\n', {}, 'server.http_prot'],
    ['a value of the wrong type', '[processing]\ndeduplication_window_secs = "15m"\n', {}, 'processing.deduplication_window_secs'],
    ['a bad env override', '', { LLM_IM__SERVER__GRPC_PORT: 'ninety' }, 'LLM_IM__SERVER__GRPC_PORT'],
    ['postgres without its URL', '[storage]\ndriver = "postgres"\npostgres_url_env = "NO_SUCH_VAR"\n', {}, 'storage.postgres_url_env'],
  ])('stops at startup on %s, naming the key', async (_name, toml, env, key) => {
    const path = join(dir, 'config.toml');
    writeFileSync(path, toml);
    const result = await spawnService({ CONFIG_PATH: path, LLM_IM__STORAGE__SQLITE_PATH: join(dir, 'incidents.db'), ...env });
    expect(isRunning(result)).toBe(false);
    const exit = result as Exit;
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain(key);
    expect(existsSync(join(dir, 'incidents.db'))).toBe(false);
  });

  it('reports every mistake of a config file at once, one line per key, before it stops', async () => {
    const path = join(dir, 'config.toml');
    writeFileSync(path, '[server]\nhttp_port = "8080"\n\n[notifications]\nworker_threads = 0\nslack_enabld = true\n');
    const result = await spawnService({ CONFIG_PATH: path, LLM_IM__STORAGE__SQLITE_PATH: join(dir, 'incidents.db'), LOG_LEVEL: 'loud' });
    expect(isRunning(result)).toBe(false);
    const exit = result as Exit;
    expect(exit.code).toBe(2);
    expect(exit.stderr.trim().split('\n')).toEqual([
      'invalid configuration: server.http_port: expected an integer, got string',
      'invalid configuration: notifications.slack_enabld: unknown key (did you mean `slack_enabled`?)',
      'invalid configuration: notifications.worker_threads: must be between 1 and 256, got 0',
      'invalid configuration: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
    expect(existsSync(join(dir, 'incidents.db'))).toBe(false);
  });

  it('prints readable log lines in a terminal (a real pseudo-terminal, through script(1))', async () => {
    const port = await freePort();
    const grpcPort = await freePort();
    // exec: the service is script's own child, the leader of the terminal's session.
    const command = `exec ${process.execPath} -r ./scripts/ts-register.js src/main.ts`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        TERM: 'dumb',
        LLM_IM__SERVER__HOST: '127.0.0.1',
        LLM_IM__SERVER__HTTP_PORT: String(port),
        LLM_IM__SERVER__GRPC_PORT: String(grpcPort),
        LLM_IM__STORAGE__SQLITE_PATH: join(dir, 'incidents.db'),
      },
    });
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line in time: ${out}`)), 60000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('LLM Incident Manager listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      // script(1) runs the service in a session of its own, out of reach of script's process
      // group, and the service takes the terminal's hang-up as a reload (SIGHUP): it is killed
      // by its own group, or it outlives the test.
      const children = existsSync(`/proc/${child.pid}/task/${child.pid}/children`)
        ? readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
        : [];
      for (const pid of children) process.kill(-Number(pid), 'SIGKILL');
      process.kill(-child.pid!, 'SIGKILL');
    }
    const line = out.split(/\r?\n/).find((l) => l.includes('LLM Incident Manager listening'))!;
    expect(line).toMatch(/INFO.*LLM Incident Manager listening/);
    expect(() => JSON.parse(line)).toThrow();
  });

  it('starts on the embedded default, prints its first admin key once, serves with it, and shuts down cleanly on SIGTERM', async () => {
    const db = join(dir, 'data', 'incidents.db');
    const service = await spawnService({ LLM_IM__STORAGE__SQLITE_PATH: db });
    if (!isRunning(service)) throw new Error(`service did not start: ${service.stderr}`);
    expect((await json(`${service.url}/health/ready`)).status).toBe(200);
    const keys = service.stdout().match(/lim_[0-9a-f]{16}_[0-9a-f]{64}/g) ?? [];
    expect(keys).toHaveLength(1);
    expect((await postJson(`${service.url}/v1/alerts`, alert(), 'lim_0000000000000000_' + '0'.repeat(64))).status).toBe(401);
    expect((await postJson(`${service.url}/v1/alerts`, alert(), keys[0])).status).toBe(200);
    service.child.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
    // The SQLite folder was created, and a clean close folds the WAL back into the database file.
    expect(existsSync(db)).toBe(true);
    expect(existsSync(`${db}-wal`)).toBe(false);
    // Every log line is one JSON object.
    for (const line of exit.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe.each(drivers())('npm run keys on %s', (driver) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await TestStore.create(driver);
  });
  afterEach(() => store.destroy());

  it('creates a key the running service accepts with its scope only, lists it without its secret, and revokes it', async () => {
    const env = store.processEnv();
    const service = await spawnService(env);
    if (!isRunning(service)) throw new Error(`service did not start: ${service.stderr}`);
    try {
      const created = keysCli(['create', '--name', 'prometheus', '--scope', 'alerts:write'], env);
      expect(created.status).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^lim_[0-9a-f]{16}_[0-9a-f]{64}$/);
      expect(created.stderr).toContain('shown only now');
      expect((await postJson(`${service.url}/v1/alerts`, alert(), key)).status).toBe(200);
      expect((await json(`${service.url}/v1/incidents`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(403);

      const listed = keysCli(['list'], env);
      expect(listed.status).toBe(0);
      expect(listed.stdout).toMatch(/active\s+prometheus\s+\[alerts:write\]/);
      expect(listed.stdout).not.toContain(key.slice(21));

      const id = key.slice(4, 20);
      expect(keysCli(['revoke', id], env).status).toBe(0);
      let status = 200;
      for (let i = 0; i < 50 && status !== 401; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        status = (await postJson(`${service.url}/v1/alerts`, alert(), key)).status;
      }
      expect(status).toBe(401);

      const bad = keysCli(['create', '--name', 'x', '--scope', 'root'], env);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--scope: must be one of');
      expect(keysCli(['revoke', '0123456789abcdef'], env).status).toBe(1);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  });
});

describe.each(drivers())('a crash (SIGKILL) during ingestion on %s', (driver) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await TestStore.create(driver);
  });
  afterEach(() => store.destroy());

  it('loses no answered alert and leaves no half-written change', async () => {
    const first = await spawnService(store.processEnv());
    if (!isRunning(first)) throw new Error(`service did not start: ${first.stderr}`);
    const answered: Array<{ alert_id: string; incident_id: string }> = [];
    let stop = false;
    const senders = Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; !stop; i++) {
        // Singles and batches, new fingerprints and duplicates.
        const body = i % 3 === 0 ? Array.from({ length: 20 }, (_, j) => alert({ title: `t${(i + j) % 30}` })) : alert({ title: `t${(worker * 7 + i) % 30}` });
        try {
          const res = await postJson(`${first.url}/v1/alerts`, body);
          if (res.status === 200) answered.push(...(Array.isArray(res.body) ? res.body : [res.body]));
        } catch {
          return; // the connection died with the process
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(senders);
    await first.exited;
    expect(answered.length).toBeGreaterThan(20);

    const second = await spawnService(store.processEnv());
    if (!isRunning(second)) throw new Error(`service did not restart: ${second.stderr}`);
    try {
      const incidents = (await json(`${second.url}/v1/incidents?page_size=500`)).body;
      const stored = new Set<string>();
      for (const incident of incidents.items) {
        const alerts = (await json(`${second.url}/v1/incidents/${incident.id}/alerts`)).body;
        // The incident and its alert rows were written together: the count matches the rows.
        expect(alerts).toHaveLength(incident.alert_count);
        for (const a of alerts) stored.add(a.id);
        const timeline = (await json(`${second.url}/v1/incidents/${incident.id}/timeline`)).body;
        expect(timeline.filter((t: { event_type: string }) => t.event_type === 'created' || t.event_type === 'alert_deduplicated')).toHaveLength(
          incident.alert_count,
        );
      }
      // Every alert that was answered before the kill is there.
      for (const a of answered) expect(stored.has(a.alert_id)).toBe(true);
      // And the store takes alerts again, folding them into the surviving incidents.
      const again = await postJson(`${second.url}/v1/alerts`, alert({ title: 't1' }));
      expect(again.body.status).toBe('Duplicate');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe.each(drivers())('a crash (SIGKILL) with deliveries pending and in flight on %s', (driver) => {
  let store: TestStore;
  let sink: FakeTarget;
  let slack: FakeTarget;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    [sink, slack] = await Promise.all([webhookSink(), slackWebhookFake()]);
  });
  afterEach(async () => {
    await Promise.all([sink.close(), slack.close()]);
    await store.destroy();
  });

  it('delivers every notification after a restart, and never logs a secret', async () => {
    const secretPath = '/services/T0/B0/crashTESTsecret';
    const env = {
      ...store.processEnv(),
      LLM_IM__NOTIFICATIONS__WEBHOOK_ENABLED: 'true',
      LLM_IM__NOTIFICATIONS__DEFAULT_WEBHOOK_URL: `${sink.url}/hook`,
      LLM_IM__NOTIFICATIONS__WEBHOOK_TIMEOUT_SECS: '3',
      LLM_IM__NOTIFICATIONS__DELIVERY_TIMEOUT_SECS: '1',
      LLM_IM__NOTIFICATIONS__RETRY_BACKOFF_SECS: '0',
      LLM_IM__NOTIFICATIONS__SLACK_ENABLED: 'true',
      SLACK_WEBHOOK_URL: `${slack.url}${secretPath}`,
      ...WEBHOOK_SIGNING_ENV,
    };
    // The first requests hang: they are in flight when the process dies.
    for (let i = 0; i < 4; i++) sink.script.push('hang');
    const first = await spawnService(env);
    if (!isRunning(first)) throw new Error(`service did not start: ${first.stderr}`);
    let stop = false;
    let answered = 0;
    const senders = Array.from({ length: 4 }, async (_, worker) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await postJson(`${first.url}/v1/alerts`, alert({ title: `crash ${worker}-${i}` }));
          if (res.status === 200) answered += 1;
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(senders);
    const firstExit = await first.exited;
    expect(answered).toBeGreaterThan(20);

    const second = await spawnService(env);
    if (!isRunning(second)) throw new Error(`service did not restart: ${second.stderr}`);
    try {
      const total = (await json(`${second.url}/v1/incidents?page_size=1`)).body.total;
      expect(total).toBeGreaterThanOrEqual(answered);
      // Every incident's webhook and Slack message arrives (a lease left by the dead process
      // expires first on PostgreSQL).
      const deadline = Date.now() + 40_000;
      let stats = (await json(`${second.url}/v1/notifications/stats`)).body;
      while ((stats.channels.webhook.sent < total || stats.channels.slack.sent < total) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        stats = (await json(`${second.url}/v1/notifications/stats`)).body;
      }
      expect(stats.channels.webhook).toMatchObject({ sent: total, failed: 0, pending: 0, sending: 0 });
      expect(stats.channels.slack).toMatchObject({ sent: total, failed: 0, pending: 0, sending: 0 });
      // At least once: a send whose outcome the dead process never recorded goes out again.
      expect(new Set(sink.received.map((r) => r.body.notification_id)).size).toBe(total);
      expect(slack.received.length).toBeGreaterThanOrEqual(total);
      second.child.kill('SIGTERM');
      const secondExit = await second.exited;
      for (const output of [firstExit.stdout, firstExit.stderr, secondExit.stdout, secondExit.stderr]) {
        expect(output).not.toContain('crashTESTsecret');
        // The bootstrap key (given in the environment) and the webhook signing secrets neither.
        expect(output).not.toContain(ADMIN_KEY.slice(21));
        for (const secret of (env.WEBHOOK_SIGNING_SECRETS ?? '').split(/\s+/).filter(Boolean)) expect(output).not.toContain(secret.slice(6));
      }
    } finally {
      second.child.kill('SIGKILL');
    }
  });
});

/** Runs an example the way docs/notifications.md says, with nothing from this environment but PATH. */
async function runExample(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', './scripts/ts-register.js', file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

describe('the gRPC example', () => {
  it('examples/grpc_client.ts runs every kind of call against a service it starts', async () => {
    const { code, stdout, stderr } = await runExample('examples/grpc_client.ts');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const line of [
      'SubmitAlert: ACCEPTED',
      'SubmitAlert (same alert): DUPLICATE',
      'StreamAlerts ack #1: REJECTED',
      'event incident.resolved',
      'GetIncident: RESOLVED',
      'FAILED_PRECONDITION',
    ]) {
      expect(stdout).toContain(line);
    }
  });
});

describe('the notification examples', () => {
  it.each(['webhook', 'slack', 'pagerduty', 'email'])('examples/notifications/%s_example.ts runs and delivers every notification', async (name) => {
    const { code, stdout, stderr } = await runExample(`examples/notifications/${name}_example.ts`);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const rows = stdout.split('\n').filter((line) => /^│ \d/.test(line));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) expect(row).toContain("'sent'");
  });
});

describe.each(drivers())('routing as a process on %s', (driver) => {
  let store: TestStore;
  let sink: FakeTarget;
  let dir: string;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    sink = await webhookSink();
    dir = mkdtempSync(join(tmpdir(), 'llm-im-routing-'));
  });
  afterEach(async () => {
    await sink.close();
    await store.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const configFile = (receiver: string, extra = '') => `
[notifications]
webhook_enabled = true
default_webhook_url = "${sink.url}/default"

[[receivers]]
name = "first"
webhook_urls = ["${sink.url}/first"]

[[receivers]]
name = "second"
webhook_urls = ["${sink.url}/second"]

[[escalation_policies]]
name = "p"
steps = [{ after = "3s", receiver = "second" }]

[route]
receiver = "${receiver}"
escalation = "p"
${extra}
`;

  it('fires an escalation step that came due while it was killed (SIGKILL) at its next start, and reloads its routing on SIGHUP', async () => {
    const path = join(dir, 'config.toml');
    writeFileSync(path, configFile('first'));
    const env = { ...store.processEnv(), ...WEBHOOK_SIGNING_ENV, CONFIG_PATH: path };
    const first = await spawnService(env);
    if (!isRunning(first)) throw new Error(`service did not start: ${first.stderr}`);
    const posted = await postJson(`${first.url}/v1/alerts`, alert({ title: 'killed before its step' }), ADMIN_KEY);
    expect(posted.status).toBe(200);
    const incidentId = posted.body.incident_id as string;
    // Killed once the first notification is recorded as sent (an unrecorded one is sent again: at least once).
    for (let i = 0; i < 100; i++) {
      const log = (await json(`${first.url}/v1/incidents/${incidentId}/notifications`)).body as { status: string }[];
      if (log.length === 1 && log[0].status === 'sent') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((r) => setTimeout(r, 3500)); // the step comes due while nothing runs
    expect(sink.received.map((r) => r.path)).toEqual(['/first']);

    const second = await spawnService(env);
    if (!isRunning(second)) throw new Error(`service did not restart: ${second.stderr}`);
    try {
      await sink.waitFor(2);
      expect(sink.received.map((r) => [r.path, r.body.event_type])).toEqual([
        ['/first', 'incident.detected'],
        ['/second', 'incident.escalated'],
      ]);
      // SIGHUP: a good file is applied...
      writeFileSync(path, configFile('second'));
      second.child.kill('SIGHUP');
      let routing = { status: 0, body: {} as any };
      for (let i = 0; i < 50 && routing.body.version !== 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        routing = await json(`${second.url}/v1/routing`);
      }
      expect(routing.body).toMatchObject({ version: 2, restart_required: [] });
      expect(routing.body.routes[0]).toMatchObject({ route: 'root', receiver: 'second' });
      // ...a bad one is refused, logged with the key, and the running routing stays.
      writeFileSync(path, configFile('nobody'));
      second.child.kill('SIGHUP');
      for (let i = 0; i < 50 && !second.stdout().includes('configuration reload refused'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(second.stdout()).toMatch(/configuration reload refused.*route\.receiver/);
      expect((await json(`${second.url}/v1/routing`)).body).toMatchObject({ version: 2 });
      expect((await json(`${second.url}/health/ready`)).status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it("fires a person's later rule and a step to a schedule that came due while it was killed (SIGKILL), at its next start", async () => {
    const smtp = await new FakeSmtp('pager', 'pager-pass').listen();
    const path = join(dir, 'people.toml');
    writeFileSync(
      path,
      `
[notifications]
email_enabled = true
smtp_server = "127.0.0.1"
smtp_port = ${smtp.port}
smtp_tls_verify = false
smtp_username_env = "TEST_SMTP_USER"
smtp_password_env = "TEST_SMTP_PASSWORD"
email_from = "incidents@example.com"
email_to = ["nobody@example.com"]

[[escalation_policies]]
name = "p"
steps = [{ after = "3s", schedule = "primary" }]

[route]
receiver = "user:ana@example.com"
escalation = "p"
`,
    );
    const env = { ...store.processEnv(), CONFIG_PATH: path, TEST_SMTP_USER: 'pager', TEST_SMTP_PASSWORD: 'pager-pass' };
    const first = await spawnService(env);
    if (!isRunning(first)) throw new Error(`service did not start: ${first.stderr}`);
    try {
      const ana = await postJson(`${first.url}/v1/users`, {
        name: 'Ana',
        email: 'ana@example.com',
        time_zone: 'UTC',
        notification_rules: [
          { after: '0s', methods: ['email'] },
          { after: '3s', methods: ['email'] },
        ],
      });
      const ben = await postJson(`${first.url}/v1/users`, { name: 'Ben', email: 'ben@example.com', time_zone: 'UTC' });
      const layer = { name: 'all', members: [ben.body.id], rotation: 'daily', handoff_time: '00:00', start_date: '2020-01-01' };
      expect((await postJson(`${first.url}/v1/schedules`, { name: 'primary', time_zone: 'UTC', layers: [layer] })).status).toBe(201);
      expect(ana.status).toBe(201);
      expect((await postJson(`${first.url}/v1/alerts`, alert({ title: 'killed before the rule' }))).status).toBe(200);
      await smtp.waitFor(1);
      // Killed once the first email is recorded as sent (an unrecorded one is sent again: at least once).
      for (let i = 0; i < 100; i++) {
        if ((await json(`${first.url}/v1/notifications/stats`)).body.channels.email.sent === 1) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    await new Promise((r) => setTimeout(r, 3500)); // the rule and the step come due while nothing runs
    expect(smtp.received.map((m) => m.envelopeTo)).toEqual([['ana@example.com']]);
    const second = await spawnService(env);
    if (!isRunning(second)) throw new Error(`service did not restart: ${second.stderr}`);
    try {
      await smtp.waitFor(3);
      expect(smtp.received.map((m) => m.envelopeTo[0]).sort()).toEqual(['ana@example.com', 'ana@example.com', 'ben@example.com']);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      await smtp.close();
    }
  });
});
