import { createHmac } from 'node:crypto';
import type { Delivery } from '../src/notifications/notification';
import { EscalationService } from '../src/notifications/escalation/escalation.service';
import { FakeSmtp, FakeTarget, slackApiFake } from './support/fakes';
import { alert, authedHttp, drivers, ManualClock, RunningApp, startApp, TestStore, waitUntil } from './support/harness';

/**
 * Escalation that reaches people, end to end: routes and steps that name a schedule, a user or a
 * team; each person's notification rules; Slack direct messages through the Slack fake and email
 * through a real SMTP server; acknowledgement stopping everything; overrides; nobody on call.
 */
const SLACK_TOKEN = 'xoxb-people-bot-token';
const SMTP_USER = 'pager';
const SMTP_PASSWORD = 'pager-pass';

describe.each(drivers())('escalation to people on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let slack: FakeTarget;
  let smtp: FakeSmtp;
  let clock: ManualClock; // 2026-01-15T14:32Z, a Thursday
  const ids: Record<string, string> = {};

  const env = {
    SLACK_BOT_TOKEN: SLACK_TOKEN,
    SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5',
    TEST_SMTP_USER: SMTP_USER,
    TEST_SMTP_PASSWORD: SMTP_PASSWORD,
  };
  const overrides = () => ({
    notifications: {
      slack_enabled: true,
      slack_api_url: `${slack.url}/api`,
      slack_default_channel: '#incidents',
      email_enabled: true,
      smtp_server: '127.0.0.1',
      smtp_port: smtp.port,
      smtp_use_tls: true,
      smtp_tls_verify: false,
      smtp_username_env: 'TEST_SMTP_USER',
      smtp_password_env: 'TEST_SMTP_PASSWORD',
      email_from: 'incidents@example.com',
      email_to: ['everyone@example.com'],
      retry_backoff_secs: 0,
    },
    escalation_policies: [
      {
        name: 'payments',
        steps: [
          { after: '5m', schedule: 'payments-secondary' },
          { after: '10m', user: 'lead@example.com' },
        ],
      },
      {
        name: 'gaps',
        steps: [
          { after: '1m', schedule: 'empty' },
          { after: '10m', user: 'lead@example.com' },
        ],
      },
      { name: 'team-policy', steps: [{ after: '2m', user: 'lead@example.com' }] },
    ],
    route: {
      receiver: 'default',
      routes: [
        { name: 'payments', matchers: ['team="payments"'], receiver: 'schedule:payments-primary', escalation: 'payments' },
        { name: 'gaps', matchers: ['team="gaps"'], receiver: 'schedule:empty', escalation: 'gaps' },
        { name: 'platform', matchers: ['team="platform"'], receiver: 'team:platform' },
        { name: 'storage', matchers: ['team="storage"'], receiver: 'team:storage' },
        { name: 'dee', matchers: ['team="dee"'], receiver: 'user:dee@example.com' },
        // The route runs the same policy as the team's own: it runs once, and the team's members are paged.
        { name: 'storage-twice', matchers: ['team="storage-twice"'], receiver: 'team:storage', escalation: 'team-policy' },
      ],
    },
  });
  const start = () => startApp(store, { overrides: overrides() as never, env, clock });

  async function tick(seconds: number, on = app): Promise<void> {
    clock.advance(seconds);
    await on.app.get(EscalationService).tick();
  }
  async function raise(labels: Record<string, string>, title: string): Promise<string> {
    return (
      await app.http
        .post('/v1/alerts')
        .send(alert({ severity: 'P1', labels, title }))
        .expect(200)
    ).body.incident_id;
  }
  async function timeline(id: string): Promise<{ event_type: string; actor: string; description: string; metadata: any }[]> {
    return (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body;
  }
  async function deliveries(id: string): Promise<Delivery[]> {
    return (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
  }
  const mailsTo = (address: string, title: string) => smtp.received.filter((m) => m.envelopeTo.includes(address) && m.mail.subject?.includes(title));
  const dmsTo = (channel: string, title: string) => slack.received.filter((r) => r.body.channel === channel && JSON.stringify(r.body).includes(title));

  beforeAll(async () => {
    slack = await slackApiFake(SLACK_TOKEN);
    smtp = await new FakeSmtp(SMTP_USER, SMTP_PASSWORD).listen();
    store = await TestStore.create(driver);
    clock = new ManualClock();
    app = await start();
    const user = async (name: string, email: string, extra: Record<string, unknown> = {}) =>
      (ids[name] = (
        await app.http
          .post('/v1/users')
          .send({ name, email, time_zone: 'Europe/Berlin', ...extra })
          .expect(201)
      ).body.id);
    await user('Ana', 'ana@example.com', {
      slack_user_id: 'U0ANA',
      notification_rules: [
        { after: '0s', methods: ['slack', 'email'] },
        { after: '2m', methods: ['email'] },
      ],
    });
    await user('Ben', 'ben@example.com');
    await user('Cy', 'cy@example.com', { slack_user_id: 'U0CY' });
    await user('Lead', 'lead@example.com');
    await user('Gone', 'gone@example.com');
    await user('Dee', 'dee@example.com', { notification_rules: [{ after: '0s', methods: ['slack'] }] });
    const weekly = (members: string[]) => [{ name: 'weekly', members, rotation: 'weekly', handoff_time: '09:00', start_date: '2026-01-12' }];
    for (const [name, members] of [
      ['payments-primary', [ids.Ana]],
      ['payments-secondary', [ids.Ben]],
    ] as const)
      ids[name] = (
        await app.http
          .post('/v1/schedules')
          .send({ name, time_zone: 'Europe/Berlin', layers: weekly([...members]) })
          .expect(201)
      ).body.id;
    // Starts next month: nobody is on call now.
    await app.http
      .post('/v1/schedules')
      .send({
        name: 'empty',
        time_zone: 'UTC',
        layers: [{ name: 'later', members: [ids.Ben], rotation: 'daily', handoff_time: '09:00', start_date: '2026-02-01' }],
      })
      .expect(201);
    await app.http
      .post('/v1/teams')
      .send({ name: 'platform', member_ids: [ids.Ben, ids.Cy, ids.Gone], notify: 'members' })
      .expect(201);
    await app.http
      .post('/v1/teams')
      .send({ name: 'storage', member_ids: [ids.Ben], escalation_policy: 'team-policy' })
      .expect(201);
    await app.http.post(`/v1/users/${ids.Gone}/deactivate`).expect(200);
  });

  afterAll(async () => {
    await app.close();
    await Promise.all([slack.close(), smtp.close()]);
    await store.destroy();
  });

  it('pages whoever is on call by their rules, escalates to the next schedule, and an acknowledgement stops every rule and step', async () => {
    const id = await raise({ team: 'payments' }, 'Checkout failing');
    // Ana is on call: a Slack direct message and an email at once (her first rule).
    await waitUntil(
      () => dmsTo('U0ANA', 'Checkout failing').length === 1 && mailsTo('ana@example.com', 'Checkout failing').length === 1,
      'Ana paged by Slack DM and email',
    );
    expect(mailsTo('everyone@example.com', 'Checkout failing')).toEqual([]); // the route names the schedule, not the default receiver
    // Her second rule: email again after 2 minutes, not acknowledged.
    await tick(120);
    await waitUntil(() => mailsTo('ana@example.com', 'Checkout failing').length === 2, "Ana's second rule");
    // 5 minutes: the policy's first step pages the secondary schedule: Ben, by email (he has no rules: every method at once).
    await tick(180);
    await waitUntil(() => mailsTo('ben@example.com', 'Checkout failing').length === 1, 'Ben paged by the first step');

    // Ben acknowledges with his own key: recorded as Ben.
    const key = (
      await app.http
        .post('/v1/api-keys')
        .send({ name: 'ben-phone', scopes: ['incidents:write', 'incidents:read'], user_id: ids.Ben })
        .expect(201)
    ).body.key;
    await authedHttp(app.app.getHttpServer(), key).post(`/v1/incidents/${id}/acknowledge`).send({}).expect(200);
    // The DM is edited to show it (through the DM channel Slack answered with).
    await waitUntil(() => slack.received.some((r) => r.path === '/api/chat.update' && r.body.channel === 'D0ANA'), 'DM updated on acknowledgement');

    const before = smtp.received.length;
    await tick(600);
    await tick(600);
    await new Promise((r) => setTimeout(r, 300)); // showing that nothing more is sent
    expect(smtp.received.length).toBe(before);
    expect(mailsTo('lead@example.com', 'Checkout failing')).toEqual([]);

    const entries = await timeline(id);
    const people = entries
      .filter((e) => ['person_notified', 'escalated', 'acknowledged'].includes(e.event_type))
      .map((e) => [e.event_type, e.actor, e.description]);
    expect(people).toEqual([
      ['person_notified', 'system', 'Notified Ana by slack and email (on call for schedule payments-primary)'],
      ['person_notified', 'system', 'Notified Ana by email (rule 2, after 2m)'],
      ['escalated', 'system', 'Escalated to schedule:payments-secondary (step 1 of 2): not acknowledged 5m after it was detected'],
      ['person_notified', 'system', 'Notified Ben by email (on call for schedule payments-secondary)'],
      ['acknowledged', 'Ben', 'Acknowledged by Ben'],
    ]);
    const first = entries.find((e) => e.event_type === 'person_notified')!;
    expect(first.metadata).toMatchObject({ user_name: 'Ana', methods: ['slack', 'email'], target: 'schedule:payments-primary', route: 'payments' });
    // The delivery log names who and how: the DM went to Ana's Slack user, the emails to her address.
    const log = await deliveries(id);
    expect(log.filter((d) => d.receiver === 'schedule:payments-primary').map((d) => [d.channel, d.target, d.status])).toEqual(
      expect.arrayContaining([
        ['slack', 'U0ANA', 'sent'],
        ['email', 'ana@example.com', 'sent'],
      ]),
    );
  });

  it('an override in force changes who is paged', async () => {
    const override = await app.http
      .post(`/v1/schedules/${ids['payments-primary']}/overrides`)
      .send({ user_id: ids.Cy, starts_at: clock.now().toISOString(), ends_at: new Date(clock.now().getTime() + 3600_000).toISOString() })
      .expect(201);
    const id = await raise({ team: 'payments' }, 'Override in force');
    await waitUntil(() => dmsTo('U0CY', 'Override in force').length === 1 && mailsTo('cy@example.com', 'Override in force').length === 1, 'Cy paged');
    expect(dmsTo('U0ANA', 'Override in force')).toEqual([]);
    expect(mailsTo('ana@example.com', 'Override in force')).toEqual([]);
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'cy' }).expect(200);
    await app.http.delete(`/v1/schedules/${ids['payments-primary']}/overrides/${override.body.id}`).expect(204);
  });

  it('nobody on call: says so in the timeline, counts it, and falls through to the next step at once', async () => {
    const id = await raise({ team: 'gaps' }, 'Nobody home');
    await waitUntil(async () => (await timeline(id)).some((e) => e.event_type === 'nobody_reached'), 'nobody reached recorded');
    await tick(60); // step 1: the same empty schedule: nobody again, so step 2 is due now
    await tick(0);
    await waitUntil(() => mailsTo('lead@example.com', 'Nobody home').length === 1, 'the lead paged by step 2');
    const entries = (await timeline(id)).filter((e) => ['nobody_reached', 'escalated', 'person_notified'].includes(e.event_type)).map((e) => e.description);
    expect(entries).toEqual([
      'Nobody reached through schedule:empty: nobody is on call in schedule empty (no layer or override covers this time)',
      'Escalated to schedule:empty (step 1 of 2): not acknowledged 1m after it was detected',
      'Nobody reached through schedule:empty: nobody is on call in schedule empty (no layer or override covers this time)',
      'Escalated to user:lead@example.com (step 2 of 2): not acknowledged 1m after it was detected',
      'Notified Lead by email (named by user:lead@example.com)',
    ]);
    const metrics = await app.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^llm_im_escalation_nobody_reached_total\{kind="schedule"\} 2$/m);
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'lead' }).expect(200);
  });

  it('a team: every active member, or its own escalation policy', async () => {
    const members = await raise({ team: 'platform' }, 'Platform down');
    await waitUntil(() => mailsTo('ben@example.com', 'Platform down').length === 1 && dmsTo('U0CY', 'Platform down').length === 1, 'members paged');
    expect(mailsTo('gone@example.com', 'Platform down')).toEqual([]); // deactivated: never notified
    await app.http.post(`/v1/incidents/${members}/acknowledge`).send({ actor: 'ben' }).expect(200);

    const policy = await raise({ team: 'storage' }, 'Storage slow');
    await waitUntil(async () => (await timeline(policy)).some((e) => e.event_type === 'escalation_started'), 'team policy started');
    expect(mailsTo('ben@example.com', 'Storage slow')).toEqual([]);
    await tick(120);
    await waitUntil(() => mailsTo('lead@example.com', 'Storage slow').length === 1, 'the team policy step paged the lead');
    await app.http.post(`/v1/incidents/${policy}/acknowledge`).send({ actor: 'lead' }).expect(200);
  });

  it('a team whose policy already runs for the incident pages its members instead of running it again', async () => {
    const id = await raise({ team: 'storage-twice' }, 'Storage twice');
    await waitUntil(() => mailsTo('ben@example.com', 'Storage twice').length === 1, 'the members paged');
    await tick(120);
    await waitUntil(() => mailsTo('lead@example.com', 'Storage twice').length === 1, 'the policy step');
    await tick(600);
    await new Promise((r) => setTimeout(r, 300)); // showing that no second run follows
    expect(mailsTo('lead@example.com', 'Storage twice')).toHaveLength(1);
    expect((await timeline(id)).filter((e) => e.event_type === 'escalated')).toHaveLength(1);
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'lead' }).expect(200);
  });

  it('a people-only route silenced while nobody is on call: when the silence ends, it says so and the escalation starts', async () => {
    const silence = await app.http
      .post('/v1/silences')
      .send({ matchers: ['team="gaps"', 'alertname="Quiet gap"'], ends_at: new Date(clock.now().getTime() + 3600_000).toISOString(), comment: 'window' })
      .expect(201);
    const id = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ severity: 'P1', labels: { team: 'gaps', alertname: 'Quiet gap' }, title: 'Quiet gap' }))
        .expect(200)
    ).body.incident_id;
    await tick(120);
    expect((await timeline(id)).map((e) => e.event_type).filter((k) => ['people_held', 'nobody_reached', 'escalated'].includes(k))).toEqual(['people_held']);
    await app.http.post(`/v1/silences/${silence.body.id}/expire`).expect(200);
    await tick(1);
    await tick(0);
    await waitUntil(async () => (await timeline(id)).some((e) => e.event_type === 'nobody_reached'), 'nobody reached after the silence');
    await tick(60); // the policy's first step: the empty schedule again, so the lead at once
    await tick(0);
    await waitUntil(() => mailsTo('lead@example.com', 'Quiet gap').length === 1, 'the lead paged');
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'lead' }).expect(200);
  });

  it('a person no method can reach: the timeline says why, and counts as nobody reached', async () => {
    const id = await raise({ team: 'dee' }, 'Unreachable');
    await waitUntil(async () => (await timeline(id)).some((e) => e.event_type === 'nobody_reached'), 'nobody reached');
    const entries = (await timeline(id)).filter((e) => ['person_unreachable', 'nobody_reached'].includes(e.event_type)).map((e) => e.description);
    expect(entries).toEqual([
      'Could not notify Dee (named by user:dee@example.com): slack: no Slack user id',
      'Nobody reached through user:dee@example.com: Dee could not be reached by any contact method',
    ]);
    expect(mailsTo('dee@example.com', 'Unreachable')).toEqual([]);
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'x' }).expect(200);
  });

  it('a silence keeps a person’s page back (recorded, not sent, no later rules), and they are paged when it ends', async () => {
    const silence = await app.http
      .post('/v1/silences')
      .send({
        matchers: ['team="payments"', 'alertname="Silenced page"'],
        ends_at: new Date(clock.now().getTime() + 3600_000).toISOString(),
        comment: 'maintenance',
      })
      .expect(201);
    const id = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ severity: 'P1', labels: { team: 'payments', alertname: 'Silenced page' }, title: 'Silenced page' }))
        .expect(200)
    ).body.incident_id;
    await tick(400); // past Ana's second rule and the policy's first step: neither was scheduled
    await new Promise((r) => setTimeout(r, 300)); // showing that nothing is sent
    expect(mailsTo('ana@example.com', 'Silenced page')).toEqual([]);
    expect(dmsTo('U0ANA', 'Silenced page')).toEqual([]);
    expect((await timeline(id)).map((e) => e.event_type)).not.toContain('escalated');
    await app.http.post(`/v1/silences/${silence.body.id}/expire`).expect(200);
    await tick(1); // the silence's end releases what it held
    await tick(0); // which is paged now
    await waitUntil(() => mailsTo('ana@example.com', 'Silenced page').length === 1, 'Ana paged when the silence ended');
    // Escalation starts from then, once.
    await tick(300);
    await waitUntil(() => mailsTo('ben@example.com', 'Silenced page').length === 1, 'the first step after the silence');
    const kinds = (await timeline(id)).map((e) => e.event_type);
    expect(kinds.filter((k) => k.startsWith('person_') || k === 'escalated' || k === 'people_held')).toEqual([
      'people_held',
      'person_notified',
      'person_notified', // Ana's second rule, 2 minutes on
      'escalated',
      'person_notified',
    ]);
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'ana' }).expect(200);
  });

  it('a Slack direct message carries the buttons, and a click from it acknowledges as the person and stops the escalation', async () => {
    const id = await raise({ team: 'payments' }, 'DM button');
    await waitUntil(() => dmsTo('U0ANA', 'DM button').length === 1 && mailsTo('ana@example.com', 'DM button').length === 1, 'Ana paged by Slack DM and email');
    const dm = dmsTo('U0ANA', 'DM button')[0];
    const buttons = dm.body.blocks.find((b: any) => b.type === 'actions').elements.map((e: any) => [e.action_id, e.value]);
    expect(buttons).toEqual([
      ['incident_acknowledge', id],
      ['incident_resolve', id],
    ]);
    // Slack posts the click signed with the app's secret; the clicking Slack user is Ana.
    const raw = new URLSearchParams({
      payload: JSON.stringify({
        type: 'block_actions',
        user: { id: 'U0ANA', username: 'ana.lima' },
        actions: [{ action_id: 'incident_acknowledge', value: id, type: 'button' }],
      }),
    }).toString();
    const ts = Math.floor(clock.now().getTime() / 1000);
    const signature = `v0=${createHmac('sha256', env.SLACK_SIGNING_SECRET).update(`v0:${ts}:${raw}`).digest('hex')}`;
    const click = await app.anon
      .post('/v1/integrations/slack/interactions')
      .set('content-type', 'application/x-www-form-urlencoded')
      .set('x-slack-request-timestamp', String(ts))
      .set('x-slack-signature', signature)
      .send(raw)
      .expect(200);
    expect(click.body).toMatchObject({ applied: true, text: 'Acknowledged by Ana' });
    expect((await app.http.get(`/v1/incidents/${id}`).expect(200)).body.acknowledged_by).toBe('Ana');
    // Neither her second rule (2 minutes) nor the policy's first step (5 minutes) follows.
    await tick(120);
    await tick(180);
    const written = await deliveries(id);
    expect(written.filter((d) => d.target === 'ana@example.com')).toHaveLength(1);
    expect(written.filter((d) => d.target === 'ben@example.com')).toEqual([]);
  });

  it("a person's later rules survive a restart, and fire once with two instances on PostgreSQL", async () => {
    const id = await raise({ team: 'payments' }, 'Durable rule');
    await waitUntil(() => mailsTo('ana@example.com', 'Durable rule').length === 1, 'Ana paged');
    await app.close();
    app = await start();
    // Several instances share one store on PostgreSQL only (SQLite is one instance's file).
    const second = driver === 'postgres' ? await start() : null;
    try {
      clock.advance(120);
      const instances = second ? [app, second, app, second] : [app];
      await Promise.all(instances.map((a) => a.app.get(EscalationService).tick()));
      await waitUntil(() => mailsTo('ana@example.com', 'Durable rule').length === 2, "Ana's second rule after the restart");
      await new Promise((r) => setTimeout(r, 300)); // showing that no second copy follows
      expect(mailsTo('ana@example.com', 'Durable rule')).toHaveLength(2);
      expect((await timeline(id)).filter((e) => e.event_type === 'person_notified')).toHaveLength(2);
    } finally {
      await second?.close();
    }
  });
});
