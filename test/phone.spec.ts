import { incidentCode } from '../src/incidents/domain/short-code';
import { EscalationService } from '../src/notifications/escalation/escalation.service';
import type { Delivery } from '../src/notifications/notification';
import { createHmac } from 'node:crypto';
import { FakeSmtp, FakeTarget, PAGERDUTY_KEY, pagerDutyFake } from './support/fakes';
import { alert, drivers, ManualClock, RunningApp, startApp, TestStore, waitUntil } from './support/harness';
import { PlacedCall, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, TwilioFake } from './support/twilio-fake';

/**
 * Texts and calls through Twilio, end to end against a fake that enforces Twilio's API and
 * signs its callbacks as Twilio does: a P1 routed to a schedule texts the person on call, then
 * calls them; replies and keys acknowledge, resolve or escalate; unanswered calls count as failed
 * attempts; a storm is folded into one text; forged and replayed callbacks change nothing.
 */
const PUBLIC = 'https://incidents.example.test';
const ANA = '+4915100000001';
const BEN = '+4915100000002';
const LEAD = '+4915100000009';
const STRANGER = '+4915100000666';
const INVALID = '+15005550001';
const PD_WEBHOOK_SECRET = 'pd-webhook-secret-for-the-phone-test-0123456789';

describe.each(drivers())('phone paging on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let twilio: TwilioFake;
  let smtp: FakeSmtp;
  let pagerduty: FakeTarget;
  let clock: ManualClock;
  let base: string;
  const ids: Record<string, string> = {};

  const start = () =>
    startApp(store, {
      clock,
      env: {
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        LLM_IM_LINK_SECRET: 'a-link-signing-key-of-at-least-32-characters',
        TEST_SMTP_USER: 'pager',
        TEST_SMTP_PASSWORD: 'pager-pass',
        TEST_PD_KEY: PAGERDUTY_KEY,
        PAGERDUTY_WEBHOOK_SECRETS: PD_WEBHOOK_SECRET,
      },
      overrides: {
        server: { public_url: PUBLIC },
        notifications: {
          sms_enabled: true,
          voice_enabled: true,
          twilio_api_url: twilio.url,
          twilio_account_sid: TWILIO_SID,
          twilio_from_number: TWILIO_FROM,
          sms_fold_window_secs: 300,
          retry_backoff_secs: 0,
          email_enabled: true,
          smtp_server: '127.0.0.1',
          smtp_port: smtp.port,
          smtp_use_tls: true,
          smtp_tls_verify: false,
          smtp_username_env: 'TEST_SMTP_USER',
          smtp_password_env: 'TEST_SMTP_PASSWORD',
          pagerduty_enabled: true,
          pagerduty_integration_key_env: 'TEST_PD_KEY',
          pagerduty_api_url: `${pagerduty.url}/v2/enqueue`,
        },
        escalation_policies: [{ name: 'payments', steps: [{ after: '10m', user: 'lead@example.com' }] }],
        route: {
          receiver: 'default',
          routes: [
            { name: 'payments', matchers: ['team="payments"'], receiver: 'schedule:payments', escalation: 'payments' },
            { name: 'storage', matchers: ['team="storage"'], receiver: 'user:ben@example.com' },
            { name: 'zed', matchers: ['team="zed"'], receiver: 'user:zed@example.com' },
            // The night shift: paged in PagerDuty too (the default receiver), and the schedule by email.
            { name: 'night-pagerduty', matchers: ['team="night"'], receiver: 'default', continue: true },
            { name: 'night', matchers: ['team="night"'], receiver: 'schedule:night', escalation: 'payments' },
          ],
        },
      } as never,
    });

  async function raise(labels: Record<string, string>, title: string, severity = 'P1'): Promise<string> {
    return (await app.http.post('/v1/alerts').send(alert({ severity, labels, title })).expect(200)).body.incident_id;
  }
  async function tick(seconds: number): Promise<void> {
    clock.advance(seconds);
    await app.app.get(EscalationService).tick();
  }
  const incident = async (id: string) => (await app.http.get(`/v1/incidents/${id}`).expect(200)).body;
  const timeline = async (id: string): Promise<{ event_type: string; actor: string; description: string; metadata: any }[]> =>
    (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body;
  const deliveries = async (id: string): Promise<Delivery[]> => (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
  const textsTo = (phone: string, title?: string) => twilio.texts.filter((t) => t.to === phone && (!title || t.body.includes(title)));
  const callsTo = (phone: string) => twilio.calls.filter((c) => c.to === phone);

  beforeAll(async () => {
    twilio = await new TwilioFake().listen();
    smtp = await new FakeSmtp('pager', 'pager-pass').listen();
    pagerduty = await pagerDutyFake();
    store = await TestStore.create(driver);
    clock = new ManualClock();
    app = await start();
    const address = app.app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
    const user = async (name: string, email: string, extra: Record<string, unknown>) =>
      (ids[name] = (
        await app.http
          .post('/v1/users')
          .send({ name, email, time_zone: 'Europe/Berlin', ...extra })
          .expect(201)
      ).body.id);
    await user('Ana', 'ana@example.com', {
      phone: ANA,
      notification_rules: [
        { after: '0s', methods: ['sms'] },
        { after: '2m', methods: ['voice'] },
      ],
    });
    await user('Ben', 'ben@example.com', { phone: BEN, notification_rules: [{ after: '0s', methods: ['sms', 'voice'] }] });
    await user('Lead', 'lead@example.com', { phone: LEAD, notification_rules: [{ after: '0s', methods: ['sms'] }] });
    // A number Twilio refuses (its own test number for an invalid To).
    await user('Zed', 'zed@example.com', { phone: INVALID, notification_rules: [{ after: '0s', methods: ['sms'] }] });
    await user('Cy', 'cy@example.com', { notification_rules: [{ after: '0s', methods: ['email'] }] });
    await app.http
      .post('/v1/schedules')
      .send({
        name: 'payments',
        time_zone: 'Europe/Berlin',
        layers: [{ name: 'weekly', members: [ids.Ana], rotation: 'weekly', handoff_time: '09:00', start_date: '2026-01-12' }],
      })
      .expect(201);
    await app.http
      .post('/v1/schedules')
      .send({
        name: 'night',
        time_zone: 'Europe/Berlin',
        layers: [{ name: 'weekly', members: [ids.Cy], rotation: 'weekly', handoff_time: '09:00', start_date: '2026-01-12' }],
      })
      .expect(201);
  });

  afterAll(async () => {
    await app.close();
    await Promise.all([smtp.close(), pagerduty.close()]);
    await twilio.close();
    await store.destroy();
  });

  it('texts the person on call, then calls them; an unanswered call fails its delivery; ACK by text stops the escalation', async () => {
    const id = await raise({ team: 'payments' }, 'Checkout failing');
    const code = incidentCode(id);
    await waitUntil(() => textsTo(ANA, 'Checkout failing').length === 1, 'the text to Ana');
    const text = textsTo(ANA, 'Checkout failing')[0];
    expect(text.from).toBe(TWILIO_FROM);
    expect(text.body).toBe(`P1 #${code} Checkout failing. Reply ACK ${code} or RES ${code}. ${PUBLIC}/incidents/${id}`);
    expect(text.segments).toBe(1);
    expect(text.body.length).toBeLessThanOrEqual(160);
    expect(callsTo(ANA)).toEqual([]);

    // Her second rule, 2 minutes later: a call that reads the incident and takes a key.
    await tick(120);
    await waitUntil(() => callsTo(ANA).length === 1, 'the call to Ana');
    const call = callsTo(ANA)[0];
    expect(call.said[0]).toContain('Checkout failing');
    expect(call.said[0]).toContain('Press 1 to acknowledge. Press 2 to escalate.');
    expect(call.gatherUrl.startsWith(`${PUBLIC}/v1/integrations/twilio/voice/gather?`)).toBe(true);
    expect(call.statusCallback.startsWith(`${PUBLIC}/v1/integrations/twilio/voice/status?delivery=`)).toBe(true);
    expect(call.machineDetection).toBe('Enable');
    expect(call.timeout).toBe('30');

    // Nobody picks up: the delivery fails, and the timeline says so.
    expect((await twilio.end(call, base, 'no-answer')).status).toBe(200);
    const voice = (await deliveries(id)).find((d) => d.channel === 'voice')!;
    expect(voice.status).toBe('failed');
    expect(voice.last_error).toContain('call no-answer');
    expect((await timeline(id)).some((e) => e.event_type === 'person_call_unanswered')).toBe(true);

    // Ana answers the text: acknowledged as her, and told so.
    const answer = await twilio.reply(PUBLIC, base, ANA, `ack ${code}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain(`<Message>Acknowledged #${code}. Thank you, Ana.</Message>`);
    const acked = await incident(id);
    expect(acked.acknowledged_by).toBe('Ana');
    // The escalation step (10 minutes) does not reach the lead: it was cancelled with the acknowledgement.
    await tick(600);
    await tick(60);
    expect((await deliveries(id)).filter((d) => d.target === LEAD)).toEqual([]);
    expect((await timeline(id)).filter((e) => e.event_type === 'escalated')).toEqual([]);
  });

  // Each test starts past the fold window of the one before: its first text goes at once.
  beforeEach(() => tick(600));

  it('RES resolves; a stranger, a wrong code, a replay and a forged signature change nothing', async () => {
    const id = await raise({ team: 'payments' }, 'Ledger drift');
    const code = incidentCode(id);
    await waitUntil(() => textsTo(ANA, 'Ledger drift').length === 1, 'the text to Ana');

    const stranger = await twilio.reply(PUBLIC, base, STRANGER, `ACK ${code}`);
    // Nobody's number: nothing changes, and no text goes back (each costs money).
    expect(stranger.status).toBe(200);
    expect(stranger.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    const wrong = await twilio.reply(PUBLIC, base, ANA, `ACK ${code === '1000' ? '1001' : '1000'}`);
    expect(wrong.body).toContain('Refused: no incident #');
    const gibberish = await twilio.reply(PUBLIC, base, ANA, 'on my way');
    expect(gibberish.body).toContain('Not understood. Reply ACK &lt;code&gt; to acknowledge or RES &lt;code&gt; to resolve.');
    // Signed with another token, or no signature: 401.
    const forged = await twilio.callback(
      `${PUBLIC}/v1/integrations/twilio/sms`,
      base,
      { MessageSid: 'SMforged', AccountSid: TWILIO_SID, From: ANA, Body: `ACK ${code}` },
      { token: 'not-the-token' },
    );
    expect(forged.status).toBe(401);
    const unsigned = await twilio.callback(
      `${PUBLIC}/v1/integrations/twilio/sms`,
      base,
      { MessageSid: 'SMnosig', AccountSid: TWILIO_SID, From: ANA, Body: `ACK ${code}` },
      { signature: '' },
    );
    expect(unsigned.status).toBe(401);
    // Signed for another URL (a callback meant for elsewhere, replayed here): 401.
    const elsewhere = await twilio.callback(
      `${PUBLIC}/v1/integrations/twilio/sms`,
      base,
      { MessageSid: 'SMother', AccountSid: TWILIO_SID, From: ANA, Body: `ACK ${code}` },
      {
        signature: (await import('../src/integrations/twilio/twilio-signature')).twilioSignature(
          TWILIO_TOKEN,
          'https://elsewhere.example/sms',
          new URLSearchParams({ MessageSid: 'SMother', AccountSid: TWILIO_SID, From: ANA, Body: `ACK ${code}` }),
        ),
      },
    );
    expect(elsewhere.status).toBe(401);
    // Another account's callback, correctly signed with this token: 401.
    const foreign = await twilio.reply(PUBLIC, base, ANA, `ACK ${code}`, { AccountSid: 'AC' + 'f'.repeat(32) });
    expect(foreign.status).toBe(401);
    expect((await incident(id)).state).toBe('Detected');

    const resolved = await twilio.reply(PUBLIC, base, ANA, `RES #${code}`, { MessageSid: 'SMresolve0001' });
    expect(resolved.body).toContain(`Resolved #${code}.`);
    const after = await incident(id);
    expect(after.state).toBe('Resolved');
    expect(after.resolution.resolved_by).toBe('Ana');
    // The same message again (a replay): refused, and nothing happens twice.
    const replay = await twilio.reply(PUBLIC, base, ANA, `RES #${code}`, { MessageSid: 'SMresolve0001' });
    expect(replay.status).toBe(401);
    expect((await timeline(id)).filter((e) => e.actor === 'Ana' && /resolv/i.test(e.event_type))).toHaveLength(1);
  });

  it('a call takes keys: 2 escalates at once, 1 acknowledges; a key for another call or a replay is refused', async () => {
    const id = await raise({ team: 'payments' }, 'Card auth slow');
    await waitUntil(() => textsTo(ANA, 'Card auth slow').length === 1, 'the text');
    await tick(120);
    let call: PlacedCall | undefined;
    await waitUntil(() => (call = callsTo(ANA).find((c) => c.said[0].includes('Card auth slow'))) !== undefined, 'the call');
    expect((await twilio.end(call!, base, 'in-progress')).status).toBe(200);

    // 2: the policy's next step (the lead, due at 10 minutes) runs now.
    const two = await twilio.press(call!, base, '2');
    expect(two.status).toBe(200);
    expect(two.body).toContain('<Say>Escalating now. Goodbye.</Say>');
    await waitUntil(() => textsTo(LEAD, 'Card auth slow').length === 1, 'the lead texted at once');
    expect((await timeline(id)).some((e) => e.event_type === 'escalation_requested' && e.actor === 'Ana')).toBe(true);
    // The same key press again is a replay.
    expect((await twilio.press(call!, base, '2')).status).toBe(401);
    // Signed with another token: refused, on the key route and the status route alike.
    const forgedKey = { CallSid: 'CAforged', AccountSid: TWILIO_SID, From: call!.from, To: call!.to, Digits: '1' };
    expect((await twilio.callback(call!.gatherUrl, base, forgedKey, { token: 'not-the-token' })).status).toBe(401);
    const forgedEnd = { CallSid: call!.sid, AccountSid: TWILIO_SID, From: call!.from, To: call!.to, CallStatus: 'busy' };
    expect((await twilio.callback(call!.statusCallback, base, forgedEnd, { token: 'not-the-token' })).status).toBe(401);
    // The same status again: a replay.
    expect((await twilio.end(call!, base, 'in-progress')).status).toBe(401);
    // A key press naming another delivery than the call's: refused.
    const tampered = { ...call!, gatherUrl: call!.gatherUrl.replace(/delivery=[^&]+/, 'delivery=00000000-0000-4000-8000-000000000000'), sid: 'CAother' };
    expect((await twilio.press(tampered, base, '1')).status).toBe(401);
    expect((await incident(id)).acknowledged_at).toBeNull();

    // Ben is called for a storage incident and presses 1.
    const other = await raise({ team: 'storage' }, 'Disk latency');
    await waitUntil(() => callsTo(BEN).length === 1, 'the call to Ben');
    const one = await twilio.press(callsTo(BEN)[0], base, '1');
    expect(one.body).toContain('Acknowledged');
    expect((await incident(other)).acknowledged_by).toBe('Ben');
    expect((await twilio.end(callsTo(BEN)[0], base, 'completed')).status).toBe(200);
    const entries = await timeline(other);
    expect(entries.some((e) => e.event_type === 'person_call_answered')).toBe(true);
    expect((await deliveries(other)).find((d) => d.channel === 'voice')!.status).toBe('sent');
  });

  it('folds a storm: texts to one phone within the window become one text when it ends, and each code still works', async () => {
    // Lead's phone has been quiet; five incidents for Ben arrive together.
    const before = textsTo(BEN).length;
    const callsBefore = callsTo(BEN).length;
    const storm: string[] = [];
    for (let i = 1; i <= 5; i++) storm.push(await raise({ team: 'storage', n: String(i) }, `Shard ${i} down`, 'P2'));
    await waitUntil(() => textsTo(BEN).length === before + 1, 'one text at once');
    expect(textsTo(BEN).at(-1)!.body).toContain('Shard 1 down');
    // One call wakes him; the other four incidents do not ring again within the window.
    await waitUntil(() => callsTo(BEN).length === callsBefore + 1, 'one call');
    // Texts wait for the window.
    await tick(60);
    // The folded text waits in the outbox, due when the window ends; no second call was written.
    const digests = (await Promise.all(storm.map(deliveries))).flat().filter((d) => d.action === 'digest');
    expect(digests.map((d) => [d.status, d.target])).toEqual([['pending', BEN]]);
    expect(Date.parse(digests[0].next_attempt_at)).toBeGreaterThan(clock.now().getTime());
    expect((await Promise.all(storm.map(deliveries))).flat().filter((d) => d.channel === 'voice')).toHaveLength(1);
    expect(textsTo(BEN).length).toBe(before + 1);
    await tick(300);
    await waitUntil(() => textsTo(BEN).length === before + 2, 'the folded text');
    const folded = textsTo(BEN).at(-1)!;
    expect(folded.body.startsWith('4 new incidents:')).toBe(true);
    expect(folded.body).toContain(`#${incidentCode(storm[1])}`);
    expect(folded.segments).toBe(1);
    // Each incident's timeline says it went in the folded text.
    const entry = (await timeline(storm[3])).find((e) => e.event_type === 'person_notified')!;
    // …and that the call already made to his phone carries it: two deliveries, none of its own.
    expect(entry.metadata.methods).toEqual(['sms', 'voice']);
    expect(entry.metadata.folded_into).toHaveLength(2);
    expect(entry.metadata.deliveries).toEqual(entry.metadata.folded_into);
    // A code from the folded text acknowledges that incident.
    const answer = await twilio.reply(PUBLIC, base, BEN, `ACK ${incidentCode(storm[4])}`);
    expect(answer.body).toContain('Acknowledged');
    expect((await incident(storm[4])).acknowledged_by).toBe('Ben');
  });

  it("retries Twilio's 429 and 5xx, and keeps a 4xx as permanent with Twilio's error code", async () => {
    twilio.target.script.push(
      {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '0' },
        body: JSON.stringify({ code: 20429, message: 'Too Many Requests', status: 429 }),
      },
      { status: 503, body: '' },
    );
    const id = await raise({ team: 'payments' }, 'Refunds stuck');
    // The pool probes a failing target on the service's clock: move it on until the retries are due.
    await waitUntil(
      () => {
        clock.advance(5);
        return textsTo(ANA, 'Refunds stuck').length === 1;
      },
      'the text after two retries',
      30_000,
    );
    const sms = (await deliveries(id)).find((d) => d.channel === 'sms')!;
    expect(sms.attempts).toBeGreaterThanOrEqual(2);

    // A number Twilio refuses: permanent, with 21211 in the log.
    const other = await raise({ team: 'zed' }, 'Bucket gone', 'P1');
    await waitUntil(async () => (await deliveries(other)).some((d) => d.channel === 'sms' && d.status === 'failed'), 'the refused text');
    const failed = (await deliveries(other)).find((d) => d.channel === 'sms')!;
    expect(failed.last_error).toContain('error 21211');
    expect(failed.attempts).toBe(1);
  });

  it('the person on call acknowledges from the email link, another incident from PagerDuty’s app, and each escalation stops', async () => {
    // By the email link: GET shows a page and changes nothing; POST acknowledges as Cy.
    const byMail = await raise({ team: 'night' }, 'Nightly export stuck');
    let path = '';
    await waitUntil(() => {
      const mail = smtp.received.find((m) => m.envelopeTo.includes('cy@example.com') && m.mail.subject?.includes('Nightly export stuck'));
      path = (mail && new RegExp(`${PUBLIC.replace(/\./g, '\\.')}(/v1/ack/[A-Za-z0-9._-]+)`).exec(mail.mail.text ?? '')?.[1]) ?? '';
      return path !== '';
    }, 'the email to Cy with its link');
    const browser = 'text/html,application/xhtml+xml,*/*;q=0.8';
    expect((await app.anon.get(path).set('accept', browser).expect(200)).text).toContain('Acknowledge as Cy');
    expect((await incident(byMail)).acknowledged_at).toBeNull();
    await app.anon.post(path).type('form').set('accept', browser).send('').expect(200);
    expect((await incident(byMail)).acknowledged_by).toBe('Cy');

    // From PagerDuty: the page carried the incident's id as its dedup_key; PagerDuty's webhook names it back.
    const byPagerDuty = await raise({ team: 'night' }, 'Warehouse sync lagging');
    await waitUntil(() => pagerduty.received.some((r) => r.body.dedup_key === byPagerDuty && r.body.event_action === 'trigger'), 'the page');
    const raw = JSON.stringify({
      event: {
        id: '01PHONETESTACK0000000000001',
        event_type: 'incident.acknowledged',
        resource_type: 'incident',
        occurred_at: clock.now().toISOString(),
        agent: { id: 'PXPGF42', type: 'user_reference', summary: 'Jane Doe' },
        client: null,
        data: { id: 'Q1W2E3R4T5', type: 'incident', status: 'acknowledged', incident_key: byPagerDuty, title: 'Warehouse sync lagging' },
      },
    });
    const signature = `v1=${createHmac('sha256', PD_WEBHOOK_SECRET).update(raw).digest('hex')}`;
    const answer = await app.anon
      .post('/v1/integrations/pagerduty/webhooks')
      .set('content-type', 'application/json')
      .set('x-pagerduty-signature', signature)
      .send(raw)
      .expect(200);
    expect(answer.body).toMatchObject({ incident_id: byPagerDuty, applied: true });
    expect((await incident(byPagerDuty)).acknowledged_by).toBe('pagerduty:Jane Doe');

    // The policy's step to the lead (10 minutes) was cancelled for both: nothing is written to his phone.
    await tick(600);
    await tick(60);
    for (const id of [byMail, byPagerDuty]) {
      expect((await deliveries(id)).filter((d) => d.target === LEAD)).toEqual([]);
      expect((await timeline(id)).filter((e) => e.event_type === 'escalated')).toEqual([]);
    }
  });

  it('an acknowledgement cancels the texts still waiting to be retried', async () => {
    twilio.target.always = { status: 503, body: '' };
    try {
      const id = await raise({ team: 'payments' }, 'Queue jam');
      await waitUntil(
        async () => (await deliveries(id)).some((d) => d.channel === 'sms' && d.status === 'pending' && d.attempts >= 1),
        'the text waiting to retry',
      );
      await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'ana' }).expect(200);
      const sms = (await deliveries(id)).find((d) => d.channel === 'sms')!;
      expect(sms.status).toBe('cancelled');
      expect(sms.last_error).toContain('acknowledged by');
    } finally {
      twilio.target.always = undefined;
    }
    // A form far larger than any Twilio sends is refused before it is read.
    const big = await twilio.callback(`${PUBLIC}/v1/integrations/twilio/sms`, base, {
      MessageSid: 'SMbig',
      AccountSid: TWILIO_SID,
      From: ANA,
      Body: 'x'.repeat(70_000),
    });
    expect(big.status).toBe(413);
  });

  it('refuses a call callback once the call is older than the reply window (Twilio signs no time)', async () => {
    const call = twilio.calls[0];
    clock.advance(8 * 86_400);
    const late = await twilio.end(call, base, 'busy');
    expect(late.status).toBe(401);
    expect(late.body).toContain('the call is too old');
  });
});
