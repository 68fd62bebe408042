import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AppLogger } from '../src/common/logger';
import { buildConfig, ConfigError } from '../src/config/config.loader';
import { EscalationService } from '../src/notifications/escalation/escalation.service';
import { matches, parseMatchers, MatchSubject } from '../src/routing/matchers';
import { matchRoutes } from '../src/routing/route-matching';
import { alert, drivers, ManualClock, RunningApp, startApp, TestStore } from './support/harness';
import { FakeTarget, PAGERDUTY_KEY, pagerDutyFake, slackApiFake, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';

const SLACK_TOKEN = 'xoxb-routing-bot-token';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const PAYMENTS_KEY = 'PAYMENTSKEY0123456789ABCDEFGHIJK';
const MANAGERS_KEY = 'MANAGERSKEY0123456789ABCDEFGHIJK';
const CUSTOM_KEY = 'CUSTOMSERVICEKEY0123456789ABCDEF';

const subject = (over: Partial<MatchSubject> = {}): MatchSubject => ({
  severity: 'P2',
  source: 'prometheus',
  incident_type: 'Application',
  affected_resources: ['api', 'db-main'],
  labels: { team: 'payments', env: 'prod' },
  ...over,
});

describe('matchers', () => {
  it.each([
    ['team="payments"', true],
    ['team="search"', false],
    ['team!="search"', true],
    ['team!="payments"', false],
    ['team=~"pay.*"', true],
    ['team=~"pay"', false], // anchored, as in Alertmanager
    ['team!~"pay.*"', false],
    ['team!~"search|ads"', true],
    ['severity=~"P[0-2]"', true],
    ['source="prometheus"', true],
    ['incident_type!="Security"', true],
    ['affected_resources="db-main"', true],
    ['affected_resources=~"db-.*"', true],
    ['affected_resources!="db-main"', false],
    ['affected_resources!~"cache.*"', true],
    ['missing=""', true], // an absent label is the empty string
    ['missing!=""', false],
    ['{team="payments", env=~"prod|staging"}', true],
    ['team=payments', true],
  ])('%s → %s', (text, expected) => {
    expect(parseMatchers(text).every((m) => matches(m, subject()))).toBe(expected);
  });

  it('refuses bad syntax and bad regexes with the reason', () => {
    expect(() => parseMatchers('team')).toThrow(/operator/);
    expect(() => parseMatchers('team=~"("')).toThrow(/not a regular expression RE2 accepts/);
    expect(() => parseMatchers('team="unterminated')).toThrow(/unterminated/);
  });
});

describe('routing configuration', () => {
  const base = { notifications: { slack_enabled: true, pagerduty_enabled: true } };
  const routes = (route: object, extra: object = {}) =>
    buildConfig(
      {
        ...base,
        receivers: [
          { name: 'a', slack_channels: ['#a'] },
          { name: 'b', slack_channels: ['#b'] },
          { name: 'c', slack_channels: ['#c'] },
        ],
        route,
        ...extra,
      } as never,
      {},
    );

  it('walks the tree as Alertmanager does: first match, continue, nested, and the default receiver', () => {
    const config = routes({
      routes: [
        { name: 'a', matchers: ['severity=~"P0|P1"'], receiver: 'a', continue: true },
        { name: 'b', matchers: ['team="payments"'], receiver: 'b', routes: [{ name: 'b-db', matchers: ['affected_resources=~"db-.*"'], receiver: 'c' }] },
        { name: 'never', matchers: ['team="payments"'], receiver: 'c' },
      ],
    });
    const reach = (s: MatchSubject) => matchRoutes(config.routing, s).matches.map((m) => `${m.route.id}:${m.receiver}`);
    expect(reach(subject({ severity: 'P1' }))).toEqual(['a:a', 'b-db:c']);
    expect(reach(subject({ affected_resources: ['api'] }))).toEqual(['b:b']); // nested route did not match: the parent takes it
    expect(reach(subject({ labels: { team: 'search' } }))).toEqual(['root:default']);
    // As in Alertmanager, a parent is its own match only when no child matched, continue or not.
    expect(reach(subject({ severity: 'P0', labels: {} }))).toEqual(['a:a']);
  });

  it('keeps the [notifications] single-target keys as the default receiver when there is no [route]', () => {
    const config = buildConfig({ notifications: { slack_enabled: true, slack_default_channel: '#ops' } }, {});
    expect(config.routing.root.receiver).toBe('default');
    expect(config.routing.receivers.get('default')).toMatchObject({ slack_channels: ['#ops'], pagerduty: [], email_to: [], webhook_urls: [] });
  });

  it('names each bad key: an unknown receiver, a bad regex, a missing env var, an unknown policy and key', () => {
    let error: ConfigError | undefined;
    try {
      buildConfig(
        {
          ...base,
          receivers: [{ name: 'team', pagerduty_keys_env: ['NOT_SET_ANYWHERE'], slack_channels: ['#t'], colour: 'red' }],
          escalation_policies: [{ name: 'p', steps: [{ after: 'soon', receiver: 'ghost' }] }],
          route: { routes: [{ matchers: ['team=~"("'], receiver: 'nobody', escalation: 'missing', repeat_interval: '10s' }] },
        } as never,
        {},
      );
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = error!.problems.map((p) => p.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        'receivers[0].pagerduty_keys_env[0]',
        'receivers[0].colour',
        'escalation_policies[0].steps[0].after',
        'escalation_policies[0].steps[0].receiver',
        'route.routes[0].matchers[0]',
        'route.routes[0].receiver',
        'route.routes[0].escalation',
        'route.routes[0].repeat_interval',
      ]),
    );
    expect(error!.message).toMatch(/NOT_SET_ANYWHERE is not set/);
    expect(error!.message).toMatch(/unknown receiver "nobody"/);
    expect(error!.message).toMatch(/not a regular expression RE2 accepts/);
  });

  it('names people wherever it names a receiver: user:, schedule: and team: targets, in routes and steps', () => {
    const config = buildConfig(
      {
        ...base,
        escalation_policies: [
          {
            name: 'p',
            steps: [
              { after: '5m', schedule: 'payments-secondary' },
              { after: '10m', user: 'lead@example.com' },
              { after: '20m', receiver: 'team:payments' },
            ],
          },
        ],
        route: { routes: [{ matchers: ['team="payments"'], receiver: 'schedule:payments-primary', escalation: 'p' }] },
      } as never,
      {},
    );
    expect(config.routing.root.routes[0].receiver).toBe('schedule:payments-primary');
    expect(config.routing.policies.get('p')!.steps.map((s) => s.receiver)).toEqual(['schedule:payments-secondary', 'user:lead@example.com', 'team:payments']);
    expect(config.routing.receivers.get('schedule:payments-primary')).toMatchObject({
      person: { kind: 'schedule', ref: 'payments-primary' },
      slack_channels: [],
    });
    expect(config.routing.receivers.get('user:lead@example.com')?.person).toEqual({ kind: 'user', ref: 'lead@example.com' });
  });

  it('refuses a step with no target or two, and a receiver named like a people target', () => {
    let error: ConfigError | undefined;
    try {
      buildConfig(
        {
          ...base,
          receivers: [{ name: 'schedule:x', slack_channels: ['#x'] }],
          escalation_policies: [{ name: 'p', steps: [{ after: '5m' }, { after: '5m', user: 'a@example.com', schedule: 's' }] }],
        } as never,
        {},
      );
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error!.problems.map((p) => [p.key, p.message])).toEqual(
      expect.arrayContaining([
        ['receivers[0].name', '"user:", "schedule:" and "team:" name people targets; choose another name'],
        ['escalation_policies[0].steps[0]', 'every step needs one target: receiver, user, schedule or team'],
        ['escalation_policies[0].steps[1]', 'every step needs one target: receiver, user, schedule or team'],
      ]),
    );
  });
});

function sign(raw: string, timestamp: number, secret = SIGNING_SECRET): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${raw}`).digest('hex')}`;
}

function clickBody(action: 'incident_acknowledge' | 'incident_resolve', incidentId: string, user = 'carol'): string {
  const payload = { type: 'block_actions', user: { id: 'U123', username: user }, actions: [{ action_id: action, value: incidentId, type: 'button' }] };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

interface Delivery {
  notification_id: string;
  event: string;
  channel: string;
  action: string;
  target: string;
  status: string;
  route: string | null;
  receiver: string | null;
  silence_id: string | null;
  payload: any;
}

describe.each(drivers())('routing, escalation, acknowledgement and silences on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let slack: FakeTarget;
  let pagerduty: FakeTarget;
  let hook: FakeTarget;
  let clock: ManualClock;
  let routing: Record<string, unknown>;

  const env = {
    SLACK_BOT_TOKEN: SLACK_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    PAGERDUTY_INTEGRATION_KEY: PAGERDUTY_KEY,
    PAYMENTS_PD_KEY: PAYMENTS_KEY,
    MANAGERS_PD_KEY: MANAGERS_KEY,
    ...WEBHOOK_SIGNING_ENV,
  };

  const overrides = () => ({
    notifications: {
      slack_enabled: true,
      slack_api_url: `${slack.url}/api`,
      pagerduty_enabled: true,
      pagerduty_api_url: pagerduty.url,
      webhook_enabled: true,
      default_webhook_url: `${hook.url}/default`,
      retry_backoff_secs: 0,
    },
    ...routing,
  });

  const start = () => startApp(store, { overrides: overrides(), env, clock, grpc: false });

  async function deliveries(id: string): Promise<Delivery[]> {
    return (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
  }

  async function settled(id: string, count: number): Promise<Delivery[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await deliveries(id);
      if (list.length >= count && list.every((d) => d.status !== 'pending' && d.status !== 'sending')) return list;
      if (Date.now() > deadline) throw new Error(`deliveries never settled: ${JSON.stringify(list.map((d) => [d.channel, d.action, d.target, d.status]))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function raise(over: Record<string, unknown>): Promise<string> {
    const res = await app.http.post('/v1/alerts').send(alert(over)).expect(200);
    return res.body.incident_id;
  }

  async function tick(seconds: number): Promise<void> {
    clock.advance(seconds);
    await app.app.get(EscalationService).tick();
  }

  beforeAll(async () => {
    [slack, pagerduty, hook] = await Promise.all([slackApiFake(SLACK_TOKEN), pagerDutyFake(), webhookSink()]);
  });

  afterAll(async () => {
    await Promise.all([slack.close(), pagerduty.close(), hook.close()]);
  });

  beforeEach(async () => {
    store = await TestStore.create(driver);
    clock = new ManualClock();
    routing = {
      receivers: [
        { name: 'payments', slack_channels: ['#payments'], pagerduty_keys_env: ['PAYMENTS_PD_KEY'] },
        { name: 'payments-secondary', slack_channels: ['#payments-secondary'], webhook_urls: [`${hook.url}/secondary`] },
        { name: 'managers', pagerduty_keys_env: ['MANAGERS_PD_KEY'] },
        { name: 'audit', webhook_urls: [`${hook.url}/audit`] },
      ],
      escalation_policies: [
        {
          name: 'payments',
          steps: [
            { after: '5m', receiver: 'payments-secondary' },
            { after: '10m', receiver: 'managers' },
          ],
        },
      ],
      route: {
        routes: [
          { name: 'audit', matchers: ['severity=~"P0|P1"'], receiver: 'audit', continue: true },
          { name: 'payments', matchers: ['team="payments"'], receiver: 'payments', escalation: 'payments', repeat_interval: '1h' },
        ],
      },
    };
    app = await start();
    slack.received.length = 0;
    pagerduty.received.length = 0;
    hook.received.length = 0;
  });

  afterEach(async () => {
    await app.close();
    await store.destroy();
  });

  it('sends each incident to the receivers its routes reach, and records the route and receiver', async () => {
    const paymentsId = await raise({ severity: 'P1', labels: { team: 'payments' }, title: 'Card payments failing' });
    const otherId = await raise({ severity: 'P3', labels: { team: 'search' }, title: 'Search slow' });
    const payments = await settled(paymentsId, 3);
    expect(payments.map((d) => [d.channel, d.action, d.target, d.route, d.receiver, d.status])).toEqual([
      ['webhook', 'send', expect.stringContaining('127.0.0.1'), 'audit', 'audit', 'sent'],
      ['slack', 'post', '#payments', 'payments', 'payments', 'sent'],
      ['pagerduty', 'trigger', 'env:PAYMENTS_PD_KEY', 'payments', 'payments', 'sent'],
    ]);
    const other = await settled(otherId, 2);
    expect(other.map((d) => [d.channel, d.target, d.route, d.receiver])).toEqual([
      ['slack', '#incidents', 'root', 'default'],
      ['webhook', expect.any(String), 'root', 'default'],
    ]);
    expect(pagerduty.received.map((r) => r.body.routing_key)).toEqual([PAYMENTS_KEY]);
    expect(hook.received.map((r) => r.path).sort()).toEqual(['/audit', '/default']);
    // The post carries the buttons (bot token and signing secret are set).
    const post = slack.received.find((r) => r.body.channel === '#payments')!;
    expect(post.body.blocks.find((b: any) => b.type === 'actions').elements.map((e: any) => e.action_id)).toEqual(['incident_acknowledge', 'incident_resolve']);

    const explained = await app.http.post('/v1/routing/explain').send({ incident_id: paymentsId }).expect(200);
    expect(explained.body.routes.map((r: any) => [r.route, r.receiver.name])).toEqual([
      ['audit', 'audit'],
      ['payments', 'payments'],
    ]);
    expect(explained.body.routes[1].escalation.steps.map((s: any) => [s.after, s.receiver.name])).toEqual([
      ['5m', 'payments-secondary'],
      ['10m', 'managers'],
    ]);
    expect(JSON.stringify(explained.body)).not.toContain(PAYMENTS_KEY);
    const byLabels = await app.http
      .post('/v1/routing/explain')
      .send({ severity: 'P4', labels: { team: 'ads' } })
      .expect(200);
    expect(byLabels.body.routes.map((r: any) => r.receiver.name)).toEqual(['default']);
    expect(byLabels.body.visits.find((v: any) => v.route === 'payments').matchers[0]).toMatchObject({ matched: false, values: ['ads'] });
  });

  it('escalates through every step until someone acknowledges, and the acknowledgement stops it and acknowledges every page', async () => {
    const id = await raise({ severity: 'P1', labels: { team: 'payments' } });
    await settled(id, 3);
    await tick(299);
    expect((await deliveries(id)).filter((d) => d.event === 'incident.escalated')).toHaveLength(0);
    await tick(1);
    let log = await settled(id, 5);
    expect(log.filter((d) => d.event === 'incident.escalated').map((d) => [d.channel, d.target, d.receiver])).toEqual([
      ['slack', '#payments-secondary', 'payments-secondary'],
      ['webhook', expect.any(String), 'payments-secondary'],
    ]);
    await tick(600);
    log = await settled(id, 6);
    expect(log.filter((d) => d.event === 'incident.escalated').map((d) => [d.channel, d.target])).toContainEqual(['pagerduty', 'env:MANAGERS_PD_KEY']);
    // A custom page with its own service key follows the incident too.
    await app.http
      .post(`/v1/incidents/${id}/notifications`)
      .send({ channels: [{ type: 'pagerduty', service_key: CUSTOM_KEY }], message: 'database team, please look' })
      .expect(202);
    await settled(id, 7);

    const acked = await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'alice' }).expect(200);
    expect(acked.body).toMatchObject({ state: 'Triaged', acknowledged_by: 'alice', acknowledged_at: clock.now().toISOString() });
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'bob' }).expect(409);
    log = await settled(id, 11);
    const acks = log
      .filter((d) => d.channel === 'pagerduty' && d.action === 'acknowledge')
      .map((d) => d.target)
      .sort();
    expect(acks).toEqual(['env:MANAGERS_PD_KEY', 'env:PAYMENTS_PD_KEY', expect.stringMatching(/^service-key#/)]);
    expect(
      pagerduty.received
        .filter((r) => r.body.event_action === 'acknowledge')
        .map((r) => r.body.routing_key)
        .sort(),
    ).toEqual([CUSTOM_KEY, MANAGERS_KEY, PAYMENTS_KEY].sort());
    // The Slack messages show who acknowledged.
    const update = slack.received.find((r) => r.path === '/api/chat.update');
    expect(JSON.stringify(update?.body)).toContain('Acknowledged by alice');

    // Resolving resolves every page, the custom one with its own key and dedup_key.
    await app.http.post(`/v1/incidents/${id}/resolve`).send({ resolved_by: 'alice', method: 'Manual', notes: 'fixed' }).expect(200);
    log = await settled(id, 14);
    expect(
      pagerduty.received
        .filter((r) => r.body.event_action === 'resolve')
        .map((r) => r.body.routing_key)
        .sort(),
    ).toEqual([CUSTOM_KEY, MANAGERS_KEY, PAYMENTS_KEY].sort());
    const before = log.length;
    await tick(3600 * 3);
    expect((await deliveries(id)).length).toBe(before); // no more steps, no repeats
    const timeline = (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body.map((e: any) => e.event_type);
    expect(timeline.filter((t: string) => t === 'escalated')).toHaveLength(2);
  });

  it('fires no escalation step after an acknowledgement, with the escalation ticks run past every step', async () => {
    const id = await raise({ severity: 'P1', labels: { team: 'payments' }, title: 'acknowledged before the first step' });
    await settled(id, 3);
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'alice' }).expect(200);
    const before = (await settled(id, 4)).length;
    // Past the first step (300 s) and the second (900 s), before the hourly repeat: each tick runs what is due.
    await tick(300);
    await tick(600);
    await tick(60);
    const log = await deliveries(id);
    expect(log.filter((d) => d.event === 'incident.escalated')).toEqual([]);
    expect(log.length).toBe(before);
    const timeline = (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body.map((e: any) => e.event_type);
    expect(timeline).not.toContain('escalated');
  });

  it('stops escalation when the incident is resolved, and repeats an open one at repeat_interval without PagerDuty', async () => {
    const resolved = await raise({ severity: 'P1', labels: { team: 'payments' }, title: 'resolved soon' });
    const open = await raise({ severity: 'P2', labels: { team: 'payments' }, title: 'stays open' });
    await app.http.post(`/v1/incidents/${resolved}/resolve`).send({ resolved_by: 'x', method: 'Manual', notes: 'n' }).expect(200);
    await app.http.post(`/v1/incidents/${open}/acknowledge`).send({}).expect(200);
    await tick(3600);
    const resolvedLog = await settled(resolved, 1);
    expect(resolvedLog.filter((d) => d.event === 'incident.escalated' || d.event === 'incident.reminder')).toHaveLength(0);
    const openLog = await settled(open, 1);
    const reminders = openLog.filter((d) => d.event === 'incident.reminder');
    expect(reminders.map((d) => [d.channel, d.target])).toEqual([['slack', '#payments']]);
    expect(openLog.filter((d) => d.event === 'incident.escalated')).toHaveLength(0); // acknowledged
    await tick(3600);
    expect((await settled(open, 1)).filter((d) => d.event === 'incident.reminder')).toHaveLength(2);
  });

  it('keeps its schedule across a restart: a step due while the service was down fires at startup', async () => {
    const id = await raise({ severity: 'P1', labels: { team: 'payments' } });
    await settled(id, 3);
    await app.close();
    clock.advance(400);
    app = await start();
    const deadline = Date.now() + 10_000;
    while ((await deliveries(id)).filter((d) => d.event === 'incident.escalated').length === 0) {
      if (Date.now() > deadline) throw new Error('the overdue step did not fire at startup');
      await new Promise((r) => setTimeout(r, 50));
    }
    await app.app.get(EscalationService).tick();
    expect((await deliveries(id)).filter((d) => d.event === 'incident.escalated' && d.channel === 'slack')).toHaveLength(1);
  });

  it('takes Slack button clicks signed as Slack signs them, and refuses forged, old and replayed ones', async () => {
    const id = await raise({ severity: 'P1', labels: { team: 'payments' } });
    await settled(id, 3);
    const now = Math.floor(clock.now().getTime() / 1000);
    const body = clickBody('incident_acknowledge', id);
    const post = (raw: string, ts: number, signature: string) =>
      app.anon
        .post('/v1/integrations/slack/interactions')
        .set('content-type', 'application/x-www-form-urlencoded')
        .set('x-slack-request-timestamp', String(ts))
        .set('x-slack-signature', signature)
        .send(raw);
    expect((await post(body, now, sign(body, now, 'not-the-secret'))).status).toBe(401);
    expect((await post(body, now - 301, sign(body, now - 301))).status).toBe(401);
    const good = sign(body, now);
    expect((await post(body, now, good.slice(0, -1) + (good.endsWith('0') ? '1' : '0'))).status).toBe(401);
    const ok = await post(body, now, sign(body, now));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ applied: true, text: 'Acknowledged by carol' });
    const replay = await post(body, now, sign(body, now));
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/replay/);
    const incident = (await app.http.get(`/v1/incidents/${id}`).expect(200)).body;
    expect(incident).toMatchObject({ state: 'Triaged', acknowledged_by: 'slack:carol' });
    // Escalation stopped by the button.
    await tick(3600);
    expect((await deliveries(id)).filter((d) => d.event === 'incident.escalated')).toHaveLength(0);
    // The message is updated to show who did it, with the Resolve button left.
    await settled(id, 5);
    const update = slack.received.find((r) => r.path === '/api/chat.update')!;
    expect(JSON.stringify(update.body)).toContain('slack:carol');
    expect(update.body.blocks.find((b: any) => b.type === 'actions').elements.map((e: any) => e.action_id)).toEqual(['incident_resolve']);
    // Resolve from Slack.
    const resolveBody = clickBody('incident_resolve', id, 'dave');
    const t2 = Math.floor(clock.now().getTime() / 1000);
    expect((await post(resolveBody, t2, sign(resolveBody, t2))).body).toMatchObject({ applied: true });
    expect((await app.http.get(`/v1/incidents/${id}`).expect(200)).body.resolution).toMatchObject({ resolved_by: 'slack:dave', method: 'Manual' });
    // Any other media type on another route is still refused.
    await app.http.post('/v1/alerts').set('content-type', 'application/x-www-form-urlencoded').send('a=b').expect(415);
  });

  it('pages PagerDuty again when a resolved incident is reopened, with the same dedup_key, and says so in Slack', async () => {
    const id = await raise({ severity: 'P1', labels: { team: 'payments' } });
    await settled(id, 3);
    await app.http.post(`/v1/incidents/${id}/resolve`).send({ resolved_by: 'x', method: 'Manual', notes: 'n' }).expect(200);
    await settled(id, 6);
    await app.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Investigating', actor: 'erin' }).expect(200);
    await settled(id, 9);
    const events = pagerduty.received.map((r) => [r.body.event_action, r.body.dedup_key]);
    expect(events).toEqual([
      ['trigger', id],
      ['resolve', id],
      ['trigger', id],
    ]);
    expect(JSON.stringify(slack.received.at(-1)?.body)).toContain('Reopened by erin');
  });

  it('silences matching incidents: ingested and recorded, not sent; notified when the silence ends', async () => {
    const silence = await app.http
      .post('/v1/silences')
      .send({ matchers: ['team="payments"'], ends_at: new Date(clock.now().getTime() + 3600_000).toISOString(), comment: 'payments deploy' })
      .expect(201);
    expect(silence.body).toMatchObject({ state: 'active', created_by: expect.any(String) });
    const quiet = await raise({ severity: 'P1', labels: { team: 'payments' }, title: 'during the silence' });
    await raise({ severity: 'P1', labels: { team: 'payments' }, title: 'during the silence' }); // deduplicated still
    const loud = await raise({ severity: 'P3', labels: { team: 'search' }, title: 'not silenced' });
    const resolvedQuiet = await raise({ severity: 'P3', labels: { team: 'payments' }, title: 'resolved during the silence' });
    await app.http.post(`/v1/incidents/${resolvedQuiet}/resolve`).send({ resolved_by: 'x', method: 'Manual', notes: 'n' }).expect(200);
    expect((await app.http.get(`/v1/incidents/${quiet}`).expect(200)).body.alert_count).toBe(2);
    const quietLog = await deliveries(quiet);
    expect(quietLog.length).toBeGreaterThan(0);
    expect(quietLog.every((d) => d.status === 'suppressed' && d.silence_id === silence.body.id)).toBe(true);
    await settled(loud, 2);
    expect(slack.received.map((r) => r.body.channel)).toEqual(['#incidents']);
    const timeline = (await app.http.get(`/v1/incidents/${quiet}/timeline`).expect(200)).body;
    expect(timeline.some((e: any) => e.event_type === 'notifications_suppressed' && e.metadata.silence_id === silence.body.id)).toBe(true);
    const stats = (await app.http.get('/v1/notifications/stats').expect(200)).body;
    expect(stats.channels.slack.suppressed).toBeGreaterThan(0);
    const metrics = await app.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/llm_im_deliveries_total\{channel="slack",outcome="suppressed"\} [1-9]/);

    // Escalation did not run while it was quiet.
    await tick(600);
    expect((await deliveries(quiet)).some((d) => d.event === 'incident.escalated')).toBe(false);
    // Expired early: the open, unacknowledged incident is notified now; the resolved one sends nothing.
    const before = (await deliveries(resolvedQuiet)).length;
    await app.http.post(`/v1/silences/${silence.body.id}/expire`).expect(200);
    await tick(1);
    const after = await settled(quiet, quietLog.length + 3);
    expect(after.filter((d) => d.status === 'sent' && d.event === 'incident.detected').map((d) => d.target)).toEqual(
      expect.arrayContaining(['#payments', 'env:PAYMENTS_PD_KEY']),
    );
    expect((await deliveries(resolvedQuiet)).length).toBe(before);
    expect((await app.http.get(`/v1/silences?state=expired`).expect(200)).body.map((s: any) => s.id)).toEqual([silence.body.id]);
    // And its escalation starts from then.
    await tick(300);
    expect((await deliveries(quiet)).some((d) => d.event === 'incident.escalated')).toBe(true);
  });

  it('keeps a maintenance window pending until it starts, then silences only what it matches', async () => {
    const startsAt = new Date(clock.now().getTime() + 3600_000).toISOString();
    const window = await app.http
      .post('/v1/silences')
      .send({
        matchers: ['affected_resources=~"db-.*"'],
        starts_at: startsAt,
        ends_at: new Date(clock.now().getTime() + 7200_000).toISOString(),
        comment: 'db maintenance',
      })
      .expect(201);
    expect(window.body.state).toBe('pending');
    expect((await app.http.get('/v1/silences?state=pending').expect(200)).body).toHaveLength(1);
    const before = await raise({ affected_services: ['db-main'], title: 'before the window' });
    expect((await settled(before, 2)).every((d) => d.status === 'sent')).toBe(true);
    clock.advance(3600);
    const during = await raise({ affected_services: ['db-main'], title: 'during the window' });
    const unrelated = await raise({ affected_services: ['api'], title: 'not in the window' });
    expect((await deliveries(during)).every((d) => d.status === 'suppressed' && d.silence_id === window.body.id)).toBe(true);
    expect((await settled(unrelated, 2)).every((d) => d.status === 'sent')).toBe(true);
    expect((await app.http.get(`/v1/silences/${window.body.id}`).expect(200)).body.state).toBe('active');
    await app.http
      .post('/v1/silences')
      .send({ matchers: ['team=~"("'], ends_at: startsAt, comment: 'x' })
      .expect(400);
    const bad = await app.http
      .post('/v1/silences')
      .send({ matchers: ['team="a"'], ends_at: '2020-01-01T00:00:00Z', comment: 'x' })
      .expect(400);
    expect(bad.body.error.details.fields[0].field).toBe('ends_at');
  });

  it('reloads the routing without a restart, and refuses a bad configuration keeping the running one', async () => {
    await app.close();
    let next: Record<string, unknown> = routing;
    app = await startApp(store, {
      overrides: overrides(),
      env,
      clock,
      configSource: () => store.config({ ...(overrides() as object), ...next } as never, env),
    });
    next = { ...routing, route: { routes: [{ name: 'all-to-audit', matchers: ['severity=~".+"'], receiver: 'audit' }] } };
    const reloaded = await app.http.post('/v1/admin/config/reload').expect(200);
    expect(reloaded.body).toMatchObject({ version: 2, routes: 2, restart_required: [] });
    const id = await raise({ severity: 'P3', labels: { team: 'payments' } });
    expect((await settled(id, 1)).map((d) => d.receiver)).toEqual(['audit']);
    next = { ...routing, route: { routes: [{ matchers: ['team=~"("'], receiver: 'ghost' }] } };
    const refused = await app.http.post('/v1/admin/config/reload').expect(422);
    expect(refused.body.error.code).toBe('CONFIG_INVALID');
    expect(refused.body.error.details.problems.map((p: any) => p.key)).toEqual(['route.routes[0].matchers[0]', 'route.routes[0].receiver']);
    expect((await app.http.get('/v1/routing').expect(200)).body).toMatchObject({ version: 2 });
    const second = await raise({ severity: 'P3', labels: { team: 'payments' }, title: 'after the refused reload' });
    expect((await settled(second, 1)).map((d) => d.receiver)).toEqual(['audit']);
  });
});

describe('the routes CLI and the worked example', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['-r', './scripts/ts-register.js', 'src/routing/routes.cli.ts', ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        CONFIG_PATH: 'examples/routing/teams.toml',
        PAYMENTS_PAGERDUTY_KEY: 'a'.repeat(32),
        PLATFORM_PAGERDUTY_KEY: 'b'.repeat(32),
        MANAGERS_PAGERDUTY_KEY: 'c'.repeat(32),
      },
    });

  it('prints the tree of examples/routing/teams.toml', () => {
    const shown = run(['show']);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/^root {2}\(every incident\) {2}receiver: default {2}repeat: 4h$/m);
    expect(shown.stdout).toMatch(/^ {4}payments-database {2}\{affected_resources=~"db-\.\*"\} {2}receiver: platform-oncall {2}escalation: payments/m);
    // A matcher list written in braces is shown in one pair of them, not two.
    expect(shown.stdout).toContain('{team=~"platform|infra", env!="staging"}  receiver: platform-oncall');
    expect(shown.stdout).not.toContain('{{');
  });

  it('answers which receivers a set of labels reaches, and why', () => {
    const tested = run(['test', 'severity=P1', 'team=payments', 'affected_resources=api,db-main']);
    expect(tested.status).toBe(0);
    expect(tested.stdout.trim().split('\n').at(-1)).toBe('platform-oncall');
    expect(run(['test', 'severity=P3', 'team=search']).stdout.trim().split('\n').at(-1)).toBe('default');
    expect(run(['test', 'team=infra', 'env=prod']).stdout.trim().split('\n').at(-1)).toBe('platform-oncall');
  });

  // As a person runs it from docs/routing.md: the routing keys are the service's, not theirs.
  const withoutKeys = (args: string[], configPath = 'examples/routing/teams.toml') => {
    const env: Record<string, string | undefined> = { ...process.env, CONFIG_PATH: configPath };
    for (const name of ['PAYMENTS_PAGERDUTY_KEY', 'PLATFORM_PAGERDUTY_KEY', 'MANAGERS_PAGERDUTY_KEY', 'PAGERDUTY_INTEGRATION_KEY']) delete env[name];
    return spawnSync(process.execPath, ['-r', './scripts/ts-register.js', 'src/routing/routes.cli.ts', ...args], { encoding: 'utf8', env });
  };

  it('shows the example without its keys, naming each variable and marking it unset', () => {
    const shown = withoutKeys(['show']);
    expect(shown.stderr).not.toMatch(/invalid configuration/);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/^root {2}\(every incident\) {2}receiver: default {2}repeat: 4h$/m);
    expect(shown.stdout).toContain('  payments-oncall  slack #payments-oncall  pagerduty env:PAYMENTS_PAGERDUTY_KEY (unset)\n');
    expect(shown.stdout).toContain('  engineering-managers  email eng-managers@example.com  pagerduty env:MANAGERS_PAGERDUTY_KEY (unset)\n');
    expect(shown.stderr).toContain(
      'unset: receivers[0].pagerduty_keys_env[0]: the environment variable PAYMENTS_PAGERDUTY_KEY is not set (the service does not start without it)\n',
    );
    // With the keys set, nothing is marked.
    const keyed = run(['show']);
    expect(keyed.stdout).toContain('  payments-oncall  slack #payments-oncall  pagerduty env:PAYMENTS_PAGERDUTY_KEY\n');
    expect(keyed.stderr).toBe('');
  });

  it('tests the example without its keys', () => {
    const tested = withoutKeys(['test', 'severity=P0', 'team=payments']);
    expect(tested.stderr).not.toMatch(/invalid configuration/);
    expect(tested.status).toBe(0);
    expect(tested.stdout).toContain('match  payments: team="payments" holds (saw ["payments"])\n');
    expect(tested.stdout).toContain('payments → payments-oncall  slack #payments-oncall  pagerduty env:PAYMENTS_PAGERDUTY_KEY (unset)\n');
    expect(tested.stdout).toContain('  escalation payments: after 10m payments-leads, after 20m engineering-managers, repeated 1×\n');
    expect(tested.stdout.trim().split('\n').at(-1)).toBe('payments-oncall');
  });

  it("warns of a severity matcher in Alertmanager's words, naming its key, and still answers", () => {
    const dir = mkdtempSync(join(tmpdir(), 'routes-cli-'));
    try {
      const path = join(dir, 'config.toml');
      writeFileSync(
        path,
        [
          '[notifications]',
          'slack_enabled = true',
          '[[receivers]]',
          'name = "oncall"',
          'slack_channels = ["#oncall"]',
          '[route]',
          '[[route.routes]]',
          'matchers = [\'team="payments"\', \'severity="critical"\']',
          'receiver = "oncall"',
          '[[route.routes]]',
          'matchers = [\'severity=~"P[01]"\']',
          'receiver = "oncall"',
        ].join('\n'),
      );
      const tested = withoutKeys(['test', 'severity=P1', 'team=payments'], path);
      expect(tested.status).toBe(0);
      expect(tested.stderr).toBe(
        'warning: route.routes[0].matchers[1]: severity="critical" matches no incident: severity is the incident\'s severity, one of P0 to P4, ' +
          "not Alertmanager's severity label, which integrations.severity_map turns into P0–P4 " +
          "(critical→P1, high→P2, error→P2, warning→P3, info→P4, low→P4); the label is kept among the incident's labels, " +
          'but a matcher named severity reads the incident\'s severity. Use severity="P1"\n',
      );
      expect(tested.stdout.trim().split('\n').at(-1)).toBe('oncall');
      expect(withoutKeys(['show'], path).stderr).toMatch(/^warning: route\.routes\[0\]\.matchers\[1\]: severity="critical" matches no incident/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('severity matchers in the configuration', () => {
  const withMatchers = (matchers: string[], extra: object = {}) =>
    buildConfig(
      {
        notifications: { slack_enabled: true },
        receivers: [{ name: 'a', slack_channels: ['#a'] }],
        route: { routes: [{ matchers, receiver: 'a' }] },
        ...extra,
      } as never,
      {},
    ).routing.warnings;

  it('warns (and does not refuse) when severity is compared with a word of Alertmanager, naming the key, the value and what to write', () => {
    expect(withMatchers(['team="payments"', 'severity="critical"'])).toEqual([
      {
        key: 'route.routes[0].matchers[1]',
        message:
          'severity="critical" matches no incident: severity is the incident\'s severity, one of P0 to P4, ' +
          "not Alertmanager's severity label, which integrations.severity_map turns into P0–P4 " +
          "(critical→P1, high→P2, error→P2, warning→P3, info→P4, low→P4); the label is kept among the incident's labels, " +
          'but a matcher named severity reads the incident\'s severity. Use severity="P1"',
      },
    ]);
  });

  it.each([
    ['severity="warning"', 'severity="warning" matches no incident', 'Use severity="P3"'],
    ['severity="info"', 'severity="info" matches no incident', 'Use severity="P4"'],
    ['severity!="critical"', 'severity!="critical" holds for every incident', 'Use severity!="P1"'],
    ['severity=~"crit.*"', 'severity=~"crit.*" matches no incident', 'Use severity=~"P1"'],
    ['severity=~"critical|warning"', 'severity=~"critical|warning" matches no incident', 'Use severity=~"P1|P3"'],
    ['{severity="p1"}', 'severity="p1" matches no incident', 'Use severity="P1"'],
    ['severity="sev1"', 'severity="sev1" matches no incident', 'Compare it with P0 to P4, such as severity="P1"'],
  ])('%s warns: %s', (matcher, start, advice) => {
    const warnings = withMatchers([matcher]);
    expect(warnings.map((w) => w.key)).toEqual(['route.routes[0].matchers[0]']);
    expect(warnings[0].message.startsWith(`${start}: severity is the incident's severity, one of P0 to P4`)).toBe(true);
    expect(warnings[0].message.endsWith(advice)).toBe(true);
  });

  it.each(['severity="P1"', 'severity=~"P[01]"', 'severity!~"P3|P4"', 'severity=~"P.*|critical"', 'team="critical"'])('%s: no warning', (matcher) => {
    expect(withMatchers([matcher])).toEqual([]);
  });

  it('names the mapping the configuration has, and nested routes by their key', () => {
    const warnings = buildConfig(
      {
        integrations: { severity_map: ['page=P0', 'ticket=P3'] },
        notifications: { slack_enabled: true },
        receivers: [{ name: 'a', slack_channels: ['#a'] }],
        route: { routes: [{ matchers: ['team="x"'], receiver: 'a', routes: [{ matchers: ['severity="page"'] }] }] },
      } as never,
      {},
    ).routing.warnings;
    expect(warnings.map((w) => w.key)).toEqual(['route.routes[0].routes[0].matchers[0]']);
    expect(warnings[0].message).toContain('turns into P0–P4 (page→P0, ticket→P3);');
    expect(warnings[0].message.endsWith('Use severity="P0"')).toBe(true);
  });

  it('still refuses, for the service, a routing key whose variable is not set', () => {
    const build = () =>
      buildConfig({ notifications: { pagerduty_enabled: true }, receivers: [{ name: 'a', pagerduty_keys_env: ['UNSET_FOR_THIS_TEST'] }] } as never, {});
    expect(build).toThrow('invalid configuration: receivers[0].pagerduty_keys_env[0]: the environment variable UNSET_FOR_THIS_TEST is not set');
  });

  it('is logged at startup, with the key', async () => {
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const store = await TestStore.create('sqlite');
    const app = await startApp(store, {
      overrides: {
        notifications: { slack_enabled: true },
        receivers: [{ name: 'a', slack_channels: ['#a'] }],
        route: { routes: [{ matchers: ['severity="critical"'], receiver: 'a' }] },
      } as never,
      logger: new AppLogger('info', sink, 'json'),
    });
    try {
      const lines = text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const warned = lines.filter((l) => l.context === 'Config' && l.level === 40);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ key: 'route.routes[0].matchers[0]' });
      expect(warned[0].msg).toMatch(
        /^configuration warning: route\.routes\[0\]\.matchers\[0\]: severity="critical" matches no incident: .* Use severity="P1"$/,
      );
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});

// Several instances on one PostgreSQL store: each due step is claimed by one of them (FOR UPDATE SKIP LOCKED).
for (const driver of drivers().filter((d) => d === 'postgres')) {
  describe(`escalation with two instances on ${driver}`, () => {
    it('fires each step once however many instances tick at the same moment', async () => {
      const store = await TestStore.create(driver);
      const hook = await webhookSink();
      const clock = new ManualClock();
      const overrides = {
        notifications: { webhook_enabled: true, default_webhook_url: `${hook.url}/default` },
        receivers: [{ name: 'second', webhook_urls: [`${hook.url}/second`] }],
        escalation_policies: [{ name: 'p', repeat: 2, steps: [{ after: '1m', receiver: 'second' }] }],
        route: { escalation: 'p' },
      };
      const apps = [
        await startApp(store, { overrides: overrides as never, env: WEBHOOK_SIGNING_ENV, clock }),
        await startApp(store, { overrides: overrides as never, env: WEBHOOK_SIGNING_ENV, clock }),
      ];
      try {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++)
          ids.push(
            (
              await apps[0].http
                .post('/v1/alerts')
                .send(alert({ title: `two instances ${i}` }))
                .expect(200)
            ).body.incident_id,
          );
        for (let round = 0; round < 3; round++) {
          clock.advance(60);
          await Promise.all(apps.flatMap((a) => [a.app.get(EscalationService).tick(), a.app.get(EscalationService).tick()]));
        }
        await hook.waitFor(5 + 15);
        for (const id of ids) {
          const log = (await apps[1].http.get(`/v1/incidents/${id}/notifications`).expect(200)).body as Delivery[];
          expect(log.filter((d) => d.event === 'incident.escalated')).toHaveLength(3); // the step and its two repeats, once each
        }
        // The 20 above count /default too, which once (CI, PostgreSQL) had more than its five, so
        // the count came before the last escalations: wait for those, then a little for a duplicate.
        const second = () => hook.received.filter((r) => r.path === '/second');
        for (let i = 0; i < 100 && second().length < 15; i++) await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 300));
        expect(second()).toHaveLength(15);
      } finally {
        for (const a of apps) await a.close();
        await hook.close();
        await store.destroy();
      }
    });
  });
}
