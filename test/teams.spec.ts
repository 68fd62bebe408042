import request from 'supertest';
import { buildConfig, ConfigError } from '../src/config/config.loader';
import type { Incident } from '../src/incidents/domain/incident';
import { TEAMS_MESSAGE_MAX_BYTES, teamsMessage } from '../src/notifications/channels/teams/teams.render';
import { alert, drivers, RunningApp, startApp, TestStore, waitUntil } from './support/harness';
import { cardText, TEAMS_FAKE_MAX_BYTES, TeamsFake, teamsFake } from './support/teams-fake';

const PUBLIC_URL = 'https://incidents.example.com';
// Workflows webhook URLs carry their signature (sig=…): a secret that must never be shown.
const DEFAULT_PATH = '/workflows/0a1b2c3d/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=DEFAULTsecretSIGNATURE';
const PAYMENTS_PATH = '/workflows/9f8e7d6c/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=PAYMENTSsecretSIGNATURE';

interface Delivery {
  notification_id: string;
  event: string;
  channel: string;
  action: string;
  target: string;
  status: string;
  attempts: number;
  last_error: string | null;
  route: string | null;
  receiver: string | null;
  payload: any;
}

const settled = (list: Delivery[]) => list.length > 0 && list.every((d) => d.status === 'sent' || d.status === 'failed' || d.status === 'cancelled');

describe.each(drivers())('Microsoft Teams on %s', (driver) => {
  let store: TestStore;
  let teams: TeamsFake;
  let app: RunningApp;

  const start = (notifications: Record<string, unknown> = {}) =>
    startApp(store, {
      overrides: {
        server: { public_url: PUBLIC_URL },
        notifications: { teams_enabled: true, teams_webhook_env: 'TEST_TEAMS_URL', retry_backoff_secs: 0, ...notifications },
        receivers: [{ name: 'payments', teams_webhooks_env: ['PAYMENTS_TEAMS_URL'] }],
        route: { routes: [{ name: 'payments', matchers: ['team="payments"'], receiver: 'payments' }] },
      } as never,
      env: { TEST_TEAMS_URL: `${teams.url}${DEFAULT_PATH}`, PAYMENTS_TEAMS_URL: `${teams.url}${PAYMENTS_PATH}` },
    });

  async function deliveries(id: string): Promise<Delivery[]> {
    return (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
  }

  /** Polls the delivery log until `done` holds (the pool sends in the background). */
  async function until(id: string, done: (list: Delivery[]) => boolean): Promise<Delivery[]> {
    let list: Delivery[] = [];
    await waitUntil(
      async () => done((list = await deliveries(id))),
      `the delivery log of ${id} (last seen: ${JSON.stringify(list.map((d) => [d.event, d.target, d.status, d.attempts]))})`,
      20_000,
    );
    return list;
  }

  async function raise(over: Record<string, unknown>): Promise<string> {
    return (await app.http.post('/v1/alerts').send(alert(over)).expect(200)).body.incident_id;
  }

  beforeEach(async () => {
    store = await TestStore.create(driver);
    teams = await teamsFake();
  });

  afterEach(async () => {
    await app?.close();
    await teams.close();
    await store.destroy();
  });

  it('posts a card for a routed incident, and a new card when it is acknowledged, resolved and reopened', async () => {
    app = await start();
    const id = await raise({
      severity: 'P1',
      title: 'Card payments failing',
      description: 'Checkout answers 502 for **every** order: see [the runbook](https://evil.example.com)',
      labels: { team: 'payments', region: 'eu-west-1' },
      runbook_url: 'https://runbooks.example.com/payments',
    });
    const [first] = await until(id, (l) => l.length === 1 && settled(l));
    expect(first).toMatchObject({
      event: 'incident.detected',
      channel: 'teams',
      action: 'send',
      target: 'env:PAYMENTS_TEAMS_URL',
      status: 'sent',
      attempts: 1,
      route: 'payments',
      receiver: 'payments',
    });
    expect(teams.received).toHaveLength(1);
    const created: string = (await app.http.get(`/v1/incidents/${id}`).expect(200)).body.created_at;
    const posted = teams.received[0];
    expect(posted.path).toBe(PAYMENTS_PATH);
    expect(posted.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(posted.body.type).toBe('message');
    expect(posted.body.attachments).toHaveLength(1);
    expect(posted.body.attachments[0]).toMatchObject({ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null });
    const card = teams.cards[0];
    expect(card).toMatchObject({ $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4' });
    // Severity is written and styled with Adaptive Card words (each client picks the colours).
    expect(card.body[0]).toMatchObject({ type: 'Container', style: 'attention' });
    expect(card.body[0].items[0]).toMatchObject({ type: 'TextBlock', text: '🟠 P1 · New incident', color: 'attention', weight: 'Bolder' });
    expect(cardText(card)).toBe(
      [
        '🟠 P1 · New incident',
        'Card payments failing',
        'New P1 incident detected: Card payments failing',
        'Severity: P1',
        'State: Detected',
        'Type: Application',
        `Created: ${created.slice(0, 10)} ${created.slice(11, 19)} UTC`,
        `Incident ID: ${id}`,
        'Source: prometheus',
        'Labels: team=payments, region=eu-west-1',
        'Checkout answers 502 for **every** order: see [the runbook](https://evil.example.com)',
      ].join('\n'),
    );
    // Text from the alert is a TextRun (shown as written), never Markdown in a TextBlock.
    const description = card.body[card.body.length - 1];
    expect(description).toEqual({
      type: 'RichTextBlock',
      inlines: [{ type: 'TextRun', text: 'Checkout answers 502 for **every** order: see [the runbook](https://evil.example.com)' }],
      separator: true,
    });
    expect(card.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open in the console', url: `${PUBLIC_URL}/incidents/${id}` },
      { type: 'Action.OpenUrl', title: 'Runbook', url: 'https://runbooks.example.com/payments' },
    ]);
    // The delivery log keeps the card, and names the variable, never the URL.
    expect(first.payload).toEqual(posted.body);
    expect(JSON.stringify(await deliveries(id))).not.toContain('secretSIGNATURE');

    // A Workflows webhook cannot edit the card: acknowledging posts a new one.
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'alice' }).expect(200);
    await teams.waitFor(2);
    const acknowledged = teams.cards[1];
    expect(acknowledged.body[0].items[0].text).toBe('🟠 P1 · Acknowledged');
    expect(cardText(acknowledged)).toContain('Acknowledged by alice\n');
    expect(cardText(acknowledged)).toContain('State: Triaged');
    expect(cardText(acknowledged)).toMatch(/\nAcknowledged by: alice at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/);

    await app.http.post(`/v1/incidents/${id}/resolve`).send({ resolved_by: 'bob', method: 'Manual', notes: 'rolled back' }).expect(200);
    await teams.waitFor(3);
    const resolved = teams.cards[2];
    expect(resolved.body[0]).toMatchObject({ type: 'Container', style: 'good' });
    expect(resolved.body[0].items[0]).toMatchObject({ text: '🟠 P1 · Resolved', color: 'good' });
    expect(cardText(resolved)).toContain('Incident resolved: Card payments failing');
    expect(cardText(resolved)).toContain('State: Resolved');
    expect(cardText(resolved)).toContain('Resolved by: bob (Manual)');

    await app.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Investigating', actor: 'carol' }).expect(200);
    await teams.waitFor(4);
    expect(teams.cards[3].body[0].items[0].text).toBe('🟠 P1 · Reopened');
    expect(cardText(teams.cards[3])).toContain('Reopened by carol: now Investigating');

    const log = await until(id, (l) => l.length === 4 && settled(l));
    expect(log.map((d) => [d.event, d.channel, d.target, d.status, d.receiver])).toEqual([
      ['incident.detected', 'teams', 'env:PAYMENTS_TEAMS_URL', 'sent', 'payments'],
      ['incident.triaged', 'teams', 'env:PAYMENTS_TEAMS_URL', 'sent', 'payments'],
      ['incident.resolved', 'teams', 'env:PAYMENTS_TEAMS_URL', 'sent', 'payments'],
      ['incident.investigating', 'teams', 'env:PAYMENTS_TEAMS_URL', 'sent', 'payments'],
    ]);
    expect(teams.received.every((r) => r.path === PAYMENTS_PATH)).toBe(true);
    expect(teams.attempts).toHaveLength(4);
  });

  it("sends an incident no route takes to the default receiver's webhook, and a receiver's own incidents to its own", async () => {
    app = await start();
    const other = await raise({ severity: 'P3', title: 'Search slow', labels: { team: 'search' } });
    const [delivery] = await until(other, (l) => l.length === 1 && settled(l));
    expect(delivery).toMatchObject({ channel: 'teams', target: 'default', status: 'sent', route: 'root', receiver: 'default' });
    expect(teams.received.map((r) => r.path)).toEqual([DEFAULT_PATH]);
    expect(teams.cards[0].body[0]).toMatchObject({ style: 'accent' });
    expect(teams.cards[0].body[0].items[0]).toMatchObject({ text: '🔵 P3 · New incident', color: 'accent' });

    const payments = await raise({ severity: 'P4', title: 'Refund queue growing', labels: { team: 'payments' } });
    await until(payments, (l) => l.length === 1 && settled(l));
    expect(teams.received.map((r) => r.path)).toEqual([DEFAULT_PATH, PAYMENTS_PATH]);
    expect(teams.cards[1].body[0]).toMatchObject({ style: 'emphasis' });
    expect(teams.cards[1].body[0].items[0].text).toBe('⚪ P4 · New incident');

    const explained = await app.http.get('/v1/notifications/stats').expect(200);
    expect(explained.body.teams_enabled).toBe(true);
    expect(explained.body.channels.teams).toMatchObject({ enabled: true, configured: true, problem: null, sent: 2 });
  });

  it('retries after a 429 no sooner than its Retry-After, then delivers', async () => {
    app = await start();
    teams.script.push({ status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"error":{"code":"TooManyRequests"}}' });
    const id = await raise({ severity: 'P2', labels: { team: 'payments' } });
    const [delivery] = await until(id, (l) => l.length === 1 && settled(l));
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2 });
    expect(teams.attempts).toHaveLength(2);
    expect(teams.received).toHaveLength(1);
    expect(teams.attempts[1].at - teams.attempts[0].at).toBeGreaterThanOrEqual(950);
    expect(teams.attempts[1].raw).toBe(teams.attempts[0].raw);
  });

  it("fails a card Teams refuses with 400 at once, with Teams' error in last_error", async () => {
    app = await start();
    const refusal = {
      error: {
        code: 'TriggerInputSchemaMismatch',
        message: "The input body for trigger 'manual' of type 'Request' did not match its schema definition.",
      },
    };
    teams.script.push({ status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify(refusal) });
    const id = await raise({ severity: 'P2', labels: { team: 'payments' } });
    const [delivery] = await until(id, (l) => l.length === 1 && settled(l));
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error:
        "Teams answered HTTP 400: TriggerInputSchemaMismatch: The input body for trigger 'manual' of type 'Request' did not match its schema definition.",
    });
    expect(teams.attempts).toHaveLength(1);
    expect(teams.received).toHaveLength(0);
  });

  it('keeps a card with a huge description and many labels within 28 KB, the description cut with a marker', async () => {
    app = await start();
    // 20,000 UTF-16 units (the field's limit): emoji, quotes and newlines, which JSON and UTF-8 make longer.
    const description = '😀"\n'.repeat(5_000);
    expect(Buffer.byteLength(JSON.stringify(description))).toBeGreaterThan(TEAMS_FAKE_MAX_BYTES);
    const labels: Record<string, string> = { team: 'payments' };
    for (let i = 0; i < 60; i++) labels[`label_${String(i).padStart(2, '0')}`] = 'ü'.repeat(1000);
    const id = await raise({ severity: 'P0', title: 'T'.repeat(500), description, labels });
    const [delivery] = await until(id, (l) => l.length === 1 && settled(l));
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1 });
    const [posted] = teams.received;
    const bytes = Buffer.byteLength(posted.raw, 'utf8');
    expect(bytes).toBeLessThanOrEqual(TEAMS_MESSAGE_MAX_BYTES);
    expect(bytes).toBeGreaterThan(TEAMS_MESSAGE_MAX_BYTES - 100); // cut to fit, not emptied
    const text = cardText(teams.cards[0]);
    expect(text).toMatch(/^😀"\n😀"\n/m);
    expect(text).toMatch(/… \[cut to fit Teams; the whole description is in the console\]$/);
    // The first ten labels, each cut, and how many more.
    expect(text).toContain(`Labels: team=payments, label_00=${'ü'.repeat(199)}…, label_01=`);
    expect(text).toContain('(+51 more)');
    // Over the limit, the fake answers as Teams does.
    const tooBig = JSON.stringify({ ...posted.body, padding: 'x'.repeat(TEAMS_FAKE_MAX_BYTES) });
    const answer = await request(teams.url).post(DEFAULT_PATH).set('content-type', 'application/json; charset=utf-8').send(tooBig);
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('MessageTooLarge');
  });

  it('answers POST /v1/notifications/test with what the Workflows webhook said', async () => {
    app = await start();
    const ok = await app.http.post('/v1/notifications/test').send({ channel: 'teams' }).expect(200);
    expect(ok.body).toEqual({ channel: 'teams', target: 'default', delivered: true, outcome: 'delivered', error: null });
    expect(teams.received.map((r) => r.path)).toEqual([DEFAULT_PATH]);
    expect(teams.cards[0].body[0].items[0].text).toBe('⚪ P4 · Test notification');
    expect(cardText(teams.cards[0])).toContain('Test notification from LLM Incident Manager: this channel works.');

    teams.script.push({
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: '{"error":{"code":"WorkflowNotFound","message":"The workflow was not found."}}',
    });
    const gone = await app.http.post('/v1/notifications/test').send({ channel: 'teams' }).expect(200);
    expect(gone.body).toEqual({
      channel: 'teams',
      target: 'default',
      delivered: false,
      outcome: 'permanent',
      error: 'Teams answered HTTP 404: WorkflowNotFound: The workflow was not found.',
    });
    expect(JSON.stringify(gone.body)).not.toContain('secretSIGNATURE');
  });

  it('refuses the test of a disabled channel', async () => {
    app = await startApp(store, { overrides: { notifications: { webhook_enabled: false } } });
    const refused = await app.http.post('/v1/notifications/test').send({ channel: 'teams' }).expect(400);
    expect(refused.body.error.details.fields[0]).toEqual({
      field: 'channel',
      message: 'teams notifications are disabled (notifications.teams_enabled = false)',
    });
    expect(teams.attempts).toHaveLength(0);
  });
});

describe('Teams configuration', () => {
  const problems = (raw: Record<string, unknown>, env: Record<string, string>) => {
    try {
      buildConfig(raw as never, env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it("refuses to start when the default webhook's variable is not set, or public_url is missing", () => {
    expect(problems({ notifications: { teams_enabled: true } }, {})).toEqual(
      expect.arrayContaining([
        { key: 'server.public_url', message: expect.stringContaining('teams_enabled is on: set public_url') },
        {
          key: 'notifications.teams_webhook_env',
          message: 'teams_enabled is on but the environment variable TEAMS_WEBHOOK_URL (the Workflows webhook URL) is not set',
        },
      ]),
    );
  });

  it("names each receiver's Teams problem by its key, never echoing a URL", () => {
    const base = { server: { public_url: PUBLIC_URL }, notifications: { teams_enabled: true } };
    const env = { TEAMS_WEBHOOK_URL: 'https://prod-01.westeurope.logic.azure.com/workflows/x?sig=SECRET', NOT_A_URL: 'ftp://sig=SECRET' };
    const found = problems({ ...base, receivers: [{ name: 'a', teams_webhooks_env: ['UNSET_TEAMS_URL', 'NOT_A_URL'] }] }, env);
    expect(found).toEqual([
      { key: 'receivers[0].teams_webhooks_env[0]', message: 'the environment variable UNSET_TEAMS_URL is not set' },
      { key: 'receivers[0].teams_webhooks_env[1]', message: 'the environment variable NOT_A_URL must hold an http(s) URL (a Workflows webhook URL)' },
    ]);
    expect(JSON.stringify(found)).not.toContain('SECRET');
    const off = problems({ receivers: [{ name: 'a', teams_webhooks_env: ['X_TEAMS_URL'] }] }, { X_TEAMS_URL: 'https://example.com/hook' });
    expect(off).toEqual([{ key: 'receivers[0].teams_webhooks_env', message: 'notifications.teams_enabled is false' }]);
  });

  it('gives the default receiver the teams_webhook_env webhook and a receiver its own, by variable name', () => {
    const config = buildConfig(
      {
        server: { public_url: PUBLIC_URL },
        notifications: { teams_enabled: true },
        receivers: [{ name: 'a', teams_webhooks_env: ['A_TEAMS_URL', 'TEAMS_WEBHOOK_URL'] }],
      } as never,
      { TEAMS_WEBHOOK_URL: 'https://example.com/default', A_TEAMS_URL: 'https://example.com/a' },
    );
    expect(config.routing.receivers.get('default')!.teams).toEqual([{ target: 'default', env: 'TEAMS_WEBHOOK_URL' }]);
    expect(config.routing.receivers.get('a')!.teams).toEqual([
      { target: 'env:A_TEAMS_URL', env: 'A_TEAMS_URL' },
      { target: 'default', env: 'TEAMS_WEBHOOK_URL' },
    ]);
    expect(config.routing.teams_urls.get('A_TEAMS_URL')).toBe('https://example.com/a');
  });
});

describe('Teams card rendering', () => {
  const incident = (over: Partial<Incident> = {}): Incident => ({
    id: '0190a000-0000-7000-8000-000000000001',
    title: 'Disk full',
    description: '',
    severity: 'P2',
    state: 'Detected',
    incident_type: 'Infrastructure',
    source: 'prometheus',
    created_at: '2026-01-15T14:32:00.000Z',
    updated_at: '2026-01-15T14:32:00.000Z',
    resolved_at: null,
    affected_resources: [],
    assignees: [],
    labels: {},
    fingerprint: 'f',
    alert_count: 1,
    last_seen_at: '2026-01-15T14:32:00.000Z',
    resolution: null,
    acknowledged_at: null,
    acknowledged_by: null,
    runbook_url: null,
    ...over,
  });

  it.each([
    ['P0', '🔴', 'attention', 'attention'],
    ['P1', '🟠', 'attention', 'attention'],
    ['P2', '🟡', 'warning', 'warning'],
    ['P3', '🔵', 'accent', 'accent'],
    ['P4', '⚪', 'emphasis', 'default'],
  ] as const)('writes %s and styles it', (severity, emoji, style, color) => {
    const card = teamsMessage(incident({ severity }), 'new', 'New incident').attachments[0].content;
    expect(card.body[0]).toMatchObject({ type: 'Container', style, items: [{ type: 'TextBlock', text: `${emoji} ${severity} · New incident`, color }, {}] });
    expect(card.actions).toBeUndefined(); // no link without public_url
  });

  it('stays within 28 KB whatever the alert holds: every text at its limit, in the characters JSON makes longest', () => {
    const worst = '\u0001'.repeat(20_000); // each becomes \u0001: six bytes
    const labels: Record<string, string> = {};
    for (let i = 0; i < 64; i++) labels[`${'\u0002'.repeat(250)}${i}`] = '\u0003'.repeat(1024);
    const message = teamsMessage(
      incident({
        title: worst.slice(0, 500),
        description: worst,
        source: worst.slice(0, 255),
        labels,
        acknowledged_at: '2026-01-15T14:33:00.000Z',
        acknowledged_by: worst.slice(0, 255),
        state: 'Resolved',
        resolution: { resolved_by: worst.slice(0, 255), method: 'Manual', notes: '', resolved_at: '2026-01-15T14:34:00.000Z' } as never,
      }),
      'resolved',
      worst.slice(0, 5000),
      { link: `${PUBLIC_URL}/incidents/0190a000-0000-7000-8000-000000000001` },
    );
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(TEAMS_MESSAGE_MAX_BYTES);
    const text = cardText(message.attachments[0].content);
    expect(text).toContain('Severity: P2');
    expect(text).toContain('State: Resolved');
    expect(message.attachments[0].content.actions).toHaveLength(1);
  });
});
