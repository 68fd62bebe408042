import type { Delivery } from '../src/notifications/notification';
import { EscalationService } from '../src/notifications/escalation/escalation.service';
import type { FakeTarget } from './support/fakes';
import { alert, drivers, ManualClock, RunningApp, startApp, TestStore, waitUntil } from './support/harness';
import { NTFY_TOKEN, ntfyAnswer, ntfyFake } from './support/ntfy-fake';

/**
 * Push to a person's phone through ntfy, end to end against a fake ntfy server that enforces the
 * publish contract: a user with a topic routed by `user:<email>` gets a push with the priority of
 * the severity and an Acknowledge button; pressing it (the POST the ntfy app sends) acknowledges
 * as that user and stops the escalation; 429 is retried after Retry-After, 400 is permanent.
 */
const PUBLIC_URL = 'https://incidents.example.com';
const LINK_SECRET = 'ack-link-secret-for-tests-0123456789abcdef';
const ANA_TOPIC = 'oncall-ana-7f3k2xq9';
const LEAD_TOPIC = 'oncall-lead-p2m8vz4k';

function settings(ntfy: FakeTarget) {
  return {
    server: { public_url: PUBLIC_URL },
    notifications: { ntfy_enabled: true, ntfy_server_url: ntfy.url, retry_backoff_secs: 0, max_retries: 2 },
    escalation_policies: [{ name: 'pay', steps: [{ after: '5m', user: 'lead@example.com' }] }],
    route: {
      receiver: 'default',
      routes: [
        { name: 'pay', matchers: ['team="pay"'], receiver: 'user:ana@example.com', escalation: 'pay' },
        { name: 'sev', matchers: ['team="sev"'], receiver: 'user:ana@example.com' },
        { name: 'nobody', matchers: ['team="no-topic"'], receiver: 'user:ben@example.com' },
      ],
    },
  };
}
const env = { LLM_IM_LINK_SECRET: LINK_SECRET, NTFY_TOKEN };

async function createUsers(app: RunningApp): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const user = async (key: string, body: Record<string, unknown>) =>
    (ids[key] = (
      await app.http
        .post('/v1/users')
        .send({ time_zone: 'Europe/Berlin', ...body })
        .expect(201)
    ).body.id);
  await user('ana', { name: 'Ana Lima', email: 'ana@example.com', ntfy_topic: ANA_TOPIC, notification_rules: [{ after: '0s', methods: ['push'] }] });
  await user('lead', { name: 'Lea Brandt', email: 'lead@example.com', ntfy_topic: LEAD_TOPIC, notification_rules: [{ after: '0s', methods: ['push'] }] });
  await user('ben', { name: 'Ben Okafor', email: 'ben@example.com', notification_rules: [{ after: '0s', methods: ['push'] }] });
  return ids;
}

async function raise(app: RunningApp, labels: Record<string, string>, title: string, severity = 'P1'): Promise<string> {
  return (await app.http.post('/v1/alerts').send(alert({ severity, labels, title })).expect(200)).body.incident_id;
}

async function deliveries(app: RunningApp, id: string): Promise<Delivery[]> {
  return (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
}

describe.each(drivers())('ntfy push on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let ntfy: FakeTarget;
  let clock: ManualClock;
  let ids: Record<string, string>;
  const pushesAbout = (topic: string, title: string) => ntfy.received.filter((r) => r.body.topic === topic && String(r.body.title).includes(title));

  beforeAll(async () => {
    ntfy = await ntfyFake({ token: NTFY_TOKEN });
    store = await TestStore.create(driver);
    clock = new ManualClock();
    app = await startApp(store, { overrides: settings(ntfy) as never, env, clock });
    ids = await createUsers(app);
  });

  afterAll(async () => {
    await app.close();
    await ntfy.close();
    await store.destroy();
  });

  it('pushes to the topic with the severity’s priority and an Acknowledge button that acknowledges as the user and stops the escalation', async () => {
    const id = await raise(app, { team: 'pay' }, 'Checkout failing');
    await waitUntil(() => pushesAbout(ANA_TOPIC, 'Checkout failing').length === 1, 'the push to Ana');
    const push = pushesAbout(ANA_TOPIC, 'Checkout failing')[0];
    expect(push.path).toBe('/');
    expect(push.headers.authorization).toBe(`Bearer ${NTFY_TOKEN}`);
    expect(push.headers['content-type']).toBe('application/json; charset=utf-8');
    const link = `${PUBLIC_URL}/incidents/${id}`;
    expect(push.body).toEqual({
      topic: ANA_TOPIC,
      title: '[P1] Checkout failing',
      message: `New P1 incident detected: Checkout failing\n\nState: Detected · Source: prometheus\nAffected: api-gateway\nLabels: team=pay\nID: ${id}`,
      priority: 5,
      tags: ['orange_circle'],
      click: link,
      actions: [
        {
          action: 'http',
          label: 'Acknowledge',
          url: expect.stringMatching(/^https:\/\/incidents\.example\.com\/v1\/ack\/l1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/),
          method: 'POST',
          headers: { Accept: 'application/json' },
          clear: true,
        },
        { action: 'view', label: 'Open', url: link },
      ],
    });

    // The delivery log names the topic and shows where the button points, never its token.
    let row: Delivery | undefined;
    await waitUntil(async () => {
      row = (await deliveries(app, id)).find((d) => d.channel === 'ntfy');
      return row?.status === 'sent';
    }, 'the push recorded as sent');
    // The log shows the topic cut, as the user's record does: on an open ntfy server, knowing a topic is reading it.
    expect(row).toMatchObject({ channel: 'ntfy', action: 'send', target: 'onca…', status: 'sent', attempts: 1, receiver: 'user:ana@example.com' });
    expect((row as any).payload.topic).toBe('onca…');
    expect((row as any).payload.actions[0].url).toBe(`${PUBLIC_URL}/v1/ack/(token hidden)`);
    const entries = (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body as {
      event_type: string;
      actor: string;
      description: string;
      metadata: any;
    }[];
    expect(entries.find((e) => e.event_type === 'person_notified')).toMatchObject({
      description: 'Notified Ana Lima by push (named by user:ana@example.com)',
      metadata: { user_id: ids.ana, methods: ['push'] },
    });

    // The button: the ntfy app POSTs the URL with the action's headers and an empty body.
    const path = new URL(push.body.actions[0].url).pathname;
    const pressed = await app.anon.post(path).set('accept', 'application/json').expect(200);
    expect(pressed.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(pressed.body).toEqual({ incident_id: id, applied: true, text: 'Acknowledged by Ana Lima' });
    const incident = (await app.http.get(`/v1/incidents/${id}`).expect(200)).body;
    expect(incident).toMatchObject({ state: 'Triaged', acknowledged_by: 'Ana Lima' });
    const acknowledged = (
      (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body as { event_type: string; actor: string; metadata: any }[]
    ).filter((e) => e.event_type === 'acknowledged');
    expect(acknowledged).toEqual([expect.objectContaining({ actor: 'Ana Lima', description: 'Acknowledged by Ana Lima', metadata: { note: 'from ntfy' } })]);

    // The escalation step to the lead was due after 5 minutes: cancelled by the acknowledgement.
    clock.advance(301);
    await app.app.get(EscalationService).tick();
    clock.advance(600);
    await app.app.get(EscalationService).tick();
    // The tick writes what it sends in its own transaction: no push stored beyond Ana's means none goes.
    const written = (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body as { channel: string }[];
    expect(written.filter((d) => d.channel === 'ntfy')).toHaveLength(1);
    expect(pushesAbout(LEAD_TOPIC, 'Checkout failing')).toEqual([]);
    const after = (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body as { event_type: string }[];
    expect(after.filter((e) => e.event_type === 'escalated')).toEqual([]);

    // Pressed again (a replay of the same request): refused, nothing changes.
    const again = await app.anon.post(path).set('accept', 'application/json').expect(410);
    expect(again.body.error).toMatchObject({ code: 'LINK_GONE', message: 'This link was already used' });
    expect((await app.http.get(`/v1/incidents/${id}`).expect(200)).body.acknowledged_by).toBe('Ana Lima');
  });

  it('maps severity to priority: P0 max, P2 high, P3 default, P4 low (P1 max: above)', async () => {
    const titles: Record<string, string> = { P0: 'Sev zero', P2: 'Sev two', P3: 'Sev three', P4: 'Sev four' };
    for (const [severity, title] of Object.entries(titles)) await raise(app, { team: 'sev' }, title, severity);
    await waitUntil(() => Object.values(titles).every((t) => pushesAbout(ANA_TOPIC, t).length === 1), 'four pushes');
    expect(
      Object.entries(titles).map(([severity, title]) => [severity, pushesAbout(ANA_TOPIC, title)[0].body.priority, pushesAbout(ANA_TOPIC, title)[0].body.tags]),
    ).toEqual([
      ['P0', 5, ['red_circle']],
      ['P2', 4, ['yellow_circle']],
      ['P3', 3, ['large_blue_circle']],
      ['P4', 2, ['white_circle']],
    ]);
  });

  it('skips push for a user without a topic, naming why', async () => {
    const id = await raise(app, { team: 'no-topic' }, 'Nobody to push to');
    const entries = (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body as { event_type: string; description: string }[];
    expect(entries.find((e) => e.event_type === 'person_unreachable')?.description).toBe(
      'Could not notify Ben Okafor (named by user:ben@example.com): push: no ntfy topic',
    );
    expect((await deliveries(app, id)).filter((d) => d.channel === 'ntfy')).toEqual([]);
  });
});

describe.each(drivers())('ntfy answers on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let ntfy: FakeTarget;

  beforeAll(async () => {
    ntfy = await ntfyFake({ token: NTFY_TOKEN });
    store = await TestStore.create(driver);
    app = await startApp(store, { overrides: settings(ntfy) as never, env });
    await createUsers(app);
  });

  afterAll(async () => {
    await app.close();
    await ntfy.close();
    await store.destroy();
  });

  const settled = async (id: string): Promise<Delivery> => {
    let row: Delivery | undefined;
    await waitUntil(
      async () => {
        row = (await deliveries(app, id)).find((d) => d.channel === 'ntfy');
        return row !== undefined && (row.status === 'sent' || row.status === 'failed');
      },
      'the push settled',
      15_000,
    );
    return row!;
  };

  it('retries a 429 after its Retry-After, then delivers', async () => {
    ntfy.script.push(ntfyAnswer(429, 42901, 'limit reached: too many requests', { 'retry-after': '1' }));
    const before = ntfy.attempts.length;
    const id = await raise(app, { team: 'sev' }, 'Rate limited push', 'P3');
    expect(await settled(id)).toMatchObject({ status: 'sent', attempts: 2 });
    const attempts = ntfy.attempts.slice(before);
    expect(attempts).toHaveLength(2);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(950);
    expect(ntfy.received.at(-1)!.body.title).toBe('[P3] Rate limited push');
  });

  it('retries a 500 and gives up on a 400 at once, keeping ntfy’s error', async () => {
    ntfy.script.push(ntfyAnswer(500, 50001, 'internal server error'));
    const flaky = await raise(app, { team: 'sev' }, 'Server hiccup', 'P3');
    expect(await settled(flaky)).toMatchObject({ status: 'sent', attempts: 2 });

    ntfy.script.push(ntfyAnswer(400, 40018, 'invalid request: actions invalid'));
    const before = ntfy.attempts.length;
    const refused = await raise(app, { team: 'sev' }, 'Refused push', 'P3');
    expect(await settled(refused)).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: 'ntfy answered HTTP 400: invalid request: actions invalid (code 40018)',
    });
    expect(ntfy.attempts.length - before).toBe(1);
  });
});
