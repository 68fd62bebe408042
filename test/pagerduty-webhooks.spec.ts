import { createHmac, randomUUID } from 'node:crypto';
import { alert, drivers, ManualClock, onChangeInTransaction, RunningApp, startApp, TestStore, waitUntil } from './support/harness';
import { FakeTarget, PAGERDUTY_KEY, pagerDutyFake } from './support/fakes';

/**
 * PagerDuty's v3 webhooks, signed as PagerDuty signs them (X-PagerDuty-Signature: v1=<hex
 * HMAC-SHA256 of the raw body>, one per secret, comma-separated), acknowledging and resolving the
 * incidents this service paged through the PagerDuty fake, mapped back by the dedup_key the fake
 * received.
 */

const ROUTE = '/v1/integrations/pagerduty/webhooks';
// Shaped like PagerDuty's subscription secrets (64 characters of base64).
const SECRET = 'ChNFWfOHnN6zC6Hl0pLFlWLpeCsmnVKzMGENfdOQyjNjtgS3gO2hJvE83bJNPt8d';
const NEXT_SECRET = 'o3QKx8TrLQ2Rb9pXW1fJ0S6mZcE4uGdYk7AHnVtq5wBiCyNlMaDjeFhsIvgU+P/r';
const CUSTOM_KEY = 'CUSTOMSERVICEKEY0123456789ABCDEF'; // 32 chars, as the fake requires

/** One signature per secret (SECRET when none is named), as PagerDuty puts them in the header. */
function sign(raw: string, ...secrets: string[]): string {
  return (secrets.length > 0 ? secrets : [SECRET]).map((secret) => `v1=${createHmac('sha256', secret).update(raw).digest('hex')}`).join(',');
}

const JANE = { id: 'PXPGF42', type: 'user_reference', summary: 'Jane Doe', self: 'https://api.pagerduty.com/users/PXPGF42' };

/** A v3 webhook body for a PagerDuty incident whose incident_key is `key`. */
function incidentEvent(
  eventType: string,
  key: string | null,
  occurredAt: Date,
  over: { id?: string; agent?: object | null; data?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    event: {
      id: over.id ?? `01${randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase()}`,
      event_type: eventType,
      resource_type: 'incident',
      occurred_at: occurredAt.toISOString(),
      agent: over.agent === undefined ? JANE : over.agent,
      client: null,
      data: {
        id: 'Q1W2E3R4T5',
        type: 'incident',
        self: 'https://api.pagerduty.com/incidents/Q1W2E3R4T5',
        html_url: 'https://acme.pagerduty.com/incidents/Q1W2E3R4T5',
        number: 4821,
        status: eventType === 'incident.resolved' ? 'resolved' : 'acknowledged',
        incident_key: key,
        created_at: occurredAt.toISOString(),
        title: '[P1] High error rate on api-gateway',
        service: { id: 'PIJ90N7', type: 'service_reference', summary: 'Checkout' },
        assignees: [JANE],
        urgency: 'high',
        resolve_reason: null,
        ...over.data,
      },
    },
  };
}

for (const driver of drivers()) {
  describe(`PagerDuty v3 webhooks on ${driver}`, () => {
    let store: TestStore;
    let app: RunningApp;
    let pagerduty: FakeTarget;
    let clock: ManualClock;

    /** `secrets`: the value of PAGERDUTY_WEBHOOK_SECRETS, or null to leave it unset. */
    const start = (secrets: string | null = SECRET) =>
      startApp(store, {
        clock,
        overrides: {
          notifications: {
            pagerduty_enabled: true,
            pagerduty_integration_key_env: 'TEST_PD_KEY',
            pagerduty_api_url: `${pagerduty.url}/v2/enqueue`,
            retry_backoff_secs: 0,
          },
        },
        env: { TEST_PD_KEY: PAGERDUTY_KEY, ...(secrets === null ? {} : { PAGERDUTY_WEBHOOK_SECRETS: secrets }) },
      });

    const post = (raw: string, signature?: string) => {
      const req = app.anon.post(ROUTE).set('content-type', 'application/json');
      return (signature === undefined ? req : req.set('x-pagerduty-signature', signature)).send(raw);
    };
    const deliver = (body: object, ...secrets: string[]) => {
      const raw = JSON.stringify(body);
      return post(raw, sign(raw, ...secrets));
    };
    const incident = async (id: string) => (await app.http.get(`/v1/incidents/${id}`).expect(200)).body;
    const timeline = async (id: string): Promise<any[]> => (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body;

    /** A P1 incident, paged through the PagerDuty fake: its id and the dedup_key the fake received. */
    async function paged(): Promise<{ id: string; dedupKey: string }> {
      const id = (
        await app.http
          .post('/v1/alerts')
          .send(alert({ severity: 'P1' }))
          .expect(200)
      ).body.incident_id as string;
      await waitUntil(() => pagerduty.received.some((r) => r.body.event_action === 'trigger' && r.body.payload.custom_details.incident_id === id), 'the page');
      const trigger = pagerduty.received.find((r) => r.body.event_action === 'trigger' && r.body.payload.custom_details.incident_id === id)!;
      return { id, dedupKey: trigger.body.dedup_key };
    }

    beforeAll(async () => {
      pagerduty = await pagerDutyFake();
    });
    afterAll(async () => {
      await pagerduty.close();
    });
    beforeEach(async () => {
      store = await TestStore.create(driver);
      clock = new ManualClock();
      pagerduty.received.length = 0;
    });
    afterEach(async () => {
      await app?.close();
      await store.destroy();
    });

    it('acknowledges and resolves from signed webhooks, as the PagerDuty user, and takes its own forwarded acknowledgement back as done', async () => {
      app = await start();
      const { id, dedupKey } = await paged();
      expect(dedupKey).toBe(id);

      const acked = await deliver(incidentEvent('incident.acknowledged', dedupKey, clock.now()));
      expect({ status: acked.status, body: acked.body }).toEqual({
        status: 200,
        body: { event_id: expect.any(String), event_type: 'incident.acknowledged', incident_id: id, applied: true, reason: null },
      });
      expect(await incident(id)).toMatchObject({ state: 'Triaged', acknowledged_by: 'pagerduty:Jane Doe', acknowledged_at: clock.now().toISOString() });
      expect((await timeline(id)).find((e) => e.event_type === 'acknowledged')).toMatchObject({
        actor: 'pagerduty:Jane Doe',
        description: 'Acknowledged by pagerduty:Jane Doe',
        metadata: { note: 'from PagerDuty' },
      });

      // The acknowledgement goes on to PagerDuty as for any other, and PagerDuty's webhook about it comes back: nothing to do, no error.
      await waitUntil(() => pagerduty.received.some((r) => r.body.event_action === 'acknowledge' && r.body.dedup_key === id), 'the forwarded acknowledgement');
      const echo = await deliver(
        incidentEvent('incident.acknowledged', dedupKey, clock.now(), { agent: { id: 'PSERVICE', type: 'service_reference', summary: 'Checkout' } }),
      );
      expect(echo.status).toBe(200);
      expect(echo.body).toMatchObject({ incident_id: id, applied: false, reason: expect.stringMatching(/already acknowledged by pagerduty:Jane Doe/) });

      clock.advance(60);
      const resolved = await deliver(incidentEvent('incident.resolved', dedupKey, clock.now()));
      expect(resolved.body).toMatchObject({ incident_id: id, applied: true, reason: null });
      const after = await incident(id);
      expect(after).toMatchObject({ state: 'Resolved', resolved_at: clock.now().toISOString() });
      expect(after.resolution).toEqual({ resolved_by: 'pagerduty:Jane Doe', method: 'Manual', notes: 'Resolved in PagerDuty by Jane Doe', root_cause: null });
      expect((await timeline(id)).filter((e) => e.event_type === 'resolved').map((e) => e.actor)).toEqual(['pagerduty:Jane Doe']);

      // Resolved here already: PagerDuty's echo of the resolve this service forwarded changes nothing.
      await waitUntil(() => pagerduty.received.some((r) => r.body.event_action === 'resolve' && r.body.dedup_key === id), 'the forwarded resolve');
      const again = await deliver(incidentEvent('incident.resolved', dedupKey, clock.now(), { agent: null }));
      expect(again.body).toMatchObject({ incident_id: id, applied: false, reason: 'incident is already resolved' });
      expect((await incident(id)).resolution.resolved_by).toBe('pagerduty:Jane Doe');
    });

    it("maps a custom page back by its own dedup_key, found in the page's delivery", async () => {
      app = await start();
      // P3: no automatic page, so the custom page is the only one the fake receives.
      const id = (
        await app.http
          .post('/v1/alerts')
          .send(alert({ severity: 'P3' }))
          .expect(200)
      ).body.incident_id as string;
      await app.http
        .post(`/v1/incidents/${id}/notifications`)
        .send({ channels: [{ type: 'pagerduty', service_key: CUSTOM_KEY, incident_key: 'db_outage-42%' }], message: 'database team, please look' })
        .expect(202);
      await waitUntil(() => pagerduty.received.some((r) => r.body.routing_key === CUSTOM_KEY), 'the custom page');
      const dedupKey = pagerduty.received.find((r) => r.body.routing_key === CUSTOM_KEY)!.body.dedup_key;
      expect(dedupKey).toBe('db_outage-42%');

      // LIKE's wildcards in the key are taken as they are, and the case counts.
      expect((await deliver(incidentEvent('incident.resolved', 'db_outage-42x', clock.now()))).body.applied).toBe(false);
      expect((await deliver(incidentEvent('incident.resolved', 'DB_OUTAGE-42%', clock.now()))).body.applied).toBe(false);
      const res = await deliver(
        incidentEvent('incident.resolved', dedupKey, clock.now(), { agent: { id: 'PBOB', type: 'user_reference', summary: 'Bob Roe' } }),
      );
      expect(res.body).toMatchObject({ incident_id: id, applied: true });
      expect((await incident(id)).resolution).toMatchObject({ resolved_by: 'pagerduty:Bob Roe', method: 'Manual' });
    });

    it('writes a reassignment to the timeline, naming the new assignees, and notes a merge without resolving', async () => {
      app = await start();
      const { id, dedupKey } = await paged();
      const res = await deliver(
        incidentEvent('incident.reassigned', dedupKey, clock.now(), {
          data: {
            assignees: [
              { id: 'PALICE', type: 'user_reference', summary: 'Alice Smith' },
              { id: 'PCAROL', type: 'user_reference', summary: 'Carol Jones' },
            ],
          },
        }),
      );
      expect(res.body).toMatchObject({ incident_id: id, applied: true, reason: null });
      const entry = (await timeline(id)).find((e) => e.event_type === 'pagerduty_reassigned');
      expect(entry).toMatchObject({
        actor: 'pagerduty:Jane Doe',
        description: 'Reassigned in PagerDuty to Alice Smith, Carol Jones by pagerduty:Jane Doe',
        metadata: {
          pagerduty_incident: 'Q1W2E3R4T5',
          assignees: [
            { id: 'PALICE', summary: 'Alice Smith' },
            { id: 'PCAROL', summary: 'Carol Jones' },
          ],
        },
      });
      expect((await incident(id)).state).toBe('Detected');

      const merge = await deliver(
        incidentEvent('incident.resolved', dedupKey, clock.now(), {
          data: {
            resolve_reason: { type: 'merge_resolve_reason', incident: { id: 'PMERGED1', type: 'incident_reference', summary: '[#4830] Checkout down' } },
          },
        }),
      );
      expect(merge.body).toMatchObject({ incident_id: id, applied: false, reason: expect.stringContaining('[#4830] Checkout down') });
      expect((await incident(id)).state).toBe('Detected');
      expect((await timeline(id)).find((e) => e.event_type === 'pagerduty_merged')).toMatchObject({
        description: 'Merged in PagerDuty into [#4830] Checkout down by pagerduty:Jane Doe; not resolved here',
      });
    });

    it('refuses a missing, malformed or forged signature, the wrong secret, a replayed event id and an old event with 401, and changes nothing', async () => {
      app = await start();
      const { id, dedupKey } = await paged();
      const before = { incident: await incident(id), timeline: (await timeline(id)).length };
      const raw = JSON.stringify(incidentEvent('incident.acknowledged', dedupKey, clock.now()));
      const refusals: [string, string | undefined, RegExp][] = [
        ['no header', undefined, /missing x-pagerduty-signature/],
        ['not v1', `v0=${createHmac('sha256', SECRET).update(raw).digest('hex')}`, /malformed x-pagerduty-signature/],
        ['short', sign(raw).slice(0, -2), /malformed x-pagerduty-signature/],
        ['wrong secret', sign(raw, 'not-the-secret'), /does not match/],
        ['another body', sign(raw.replace('Jane Doe', 'Mallory'), SECRET), /does not match/],
        ['one changed digit', sign(raw).replace(/.$/, (c) => (c === '0' ? '1' : '0')), /does not match/],
      ];
      for (const [what, signature, message] of refusals) {
        const res = await post(raw, signature);
        expect({ what, status: res.status, code: res.body.error?.code, message: res.body.error?.message }).toEqual({
          what,
          status: 401,
          code: 'UNAUTHENTICATED',
          message: expect.stringMatching(message),
        });
        expect(res.body.error.message).not.toContain(SECRET);
      }
      // Signed, but over the body as re-serialized, not as sent.
      expect((await post(JSON.stringify(JSON.parse(raw), null, 2), sign(raw))).status).toBe(401);
      // An event from more than a day ago, signed well.
      const old = await deliver(incidentEvent('incident.acknowledged', dedupKey, new Date(clock.now().getTime() - 24 * 3600_000 - 1000)));
      expect([old.status, old.body.error.message]).toEqual([401, expect.stringMatching(/more than 24 hours ago/)]);
      expect(await incident(id)).toEqual(before.incident);
      expect((await timeline(id)).length).toBe(before.timeline);

      // Replay: the same event id a second time, here with a body that would resolve.
      const eventId = 'Q2KXDBVP6ZKOHF';
      expect((await deliver(incidentEvent('incident.reassigned', dedupKey, clock.now(), { id: eventId }))).status).toBe(200);
      const afterFirst = { incident: await incident(id), timeline: (await timeline(id)).length };
      const replay = await deliver(incidentEvent('incident.resolved', dedupKey, clock.now(), { id: eventId }));
      expect([replay.status, replay.body.error.message]).toEqual([401, expect.stringMatching(/already received \(replay\)/)]);
      expect(await incident(id)).toEqual(afterFirst.incident);
      expect((await timeline(id)).length).toBe(afterFirst.timeline);
    });

    it('lets PagerDuty retry an event that failed here: its receipt is dropped with the failed change', async () => {
      app = await start();
      const { id, dedupKey } = await paged();
      let failing = true;
      onChangeInTransaction(app.app, async () => {
        if (failing) throw new Error('the outbox write failed');
      });
      const body = incidentEvent('incident.acknowledged', dedupKey, clock.now());
      const failed = await deliver(body);
      expect([failed.status, failed.body.error.code]).toEqual([500, 'INTERNAL']);
      expect((await incident(id)).acknowledged_at).toBeNull();
      // PagerDuty retries a 5xx with the same event id: taken as the first time.
      failing = false;
      const retried = await deliver(body);
      expect([retried.status, retried.body.applied]).toEqual([200, true]);
      expect((await incident(id)).acknowledged_by).toBe('pagerduty:Jane Doe');
      expect((await deliver(body)).status).toBe(401);
    });

    it('accepts either of two secrets during a rotation, with one signature or both', async () => {
      app = await start(`${SECRET} ${NEXT_SECRET}`);
      const { dedupKey } = await paged();
      const body = () => incidentEvent('incident.reassigned', dedupKey, clock.now());
      expect((await deliver(body(), SECRET)).status).toBe(200);
      expect((await deliver(body(), NEXT_SECRET)).status).toBe(200);
      // PagerDuty signs with the old and the new secret while it rotates; one unknown signature is no harm.
      expect((await deliver(body(), 'a-secret-not-configured-here', NEXT_SECRET)).status).toBe(200);
      expect((await deliver(body(), NEXT_SECRET, SECRET)).status).toBe(200);
      expect((await deliver(body(), 'a-secret-not-configured-here')).status).toBe(401);
    });

    it('answers 200 applied false for a PagerDuty incident it did not page, a ping and other event types', async () => {
      app = await start();
      const unknown = await deliver(incidentEvent('incident.acknowledged', 'baf7cf21b1da41b4b0221008339ff357', clock.now()));
      expect({ status: unknown.status, body: unknown.body }).toEqual({
        status: 200,
        body: {
          event_id: expect.any(String),
          event_type: 'incident.acknowledged',
          incident_id: null,
          applied: false,
          reason: 'no incident here was paged with the dedup_key "baf7cf21b1da41b4b0221008339ff357"',
        },
      });
      // Shaped like an incident id, but none.
      expect((await deliver(incidentEvent('incident.resolved', randomUUID(), clock.now()))).body).toMatchObject({ applied: false, incident_id: null });
      expect((await deliver(incidentEvent('incident.resolved', null, clock.now()))).body).toMatchObject({
        applied: false,
        reason: expect.stringMatching(/no incident_key/),
      });
      const ping = {
        event: {
          id: '01FKZOXA868SHYEE4DVNWB5P9W',
          event_type: 'pagey.ping',
          resource_type: 'pagey',
          occurred_at: clock.now().toISOString(),
          agent: { id: 'PVE0ZR9', type: 'user_reference' },
          client: null,
          data: { message: 'Hello from your friend Pagey!', type: 'ping' },
        },
      };
      const pinged = await deliver(ping);
      expect({ status: pinged.status, body: pinged.body }).toEqual({
        status: 200,
        body: {
          event_id: '01FKZOXA868SHYEE4DVNWB5P9W',
          event_type: 'pagey.ping',
          incident_id: null,
          applied: false,
          reason: 'ping: the subscription reaches this service and its signature checks',
        },
      });
      const { id, dedupKey } = await paged();
      const triggered = await deliver(incidentEvent('incident.triggered', dedupKey, clock.now()));
      expect(triggered.body).toMatchObject({ incident_id: null, applied: false, reason: 'incident.triggered is not acted on' });
      expect((await incident(id)).state).toBe('Detected');
    });

    it('refuses a signed body that is not JSON or not the v3 envelope with 400 naming the field', async () => {
      app = await start();
      const signedPost = (raw: string) => post(raw, sign(raw));
      const notJson = await signedPost('{"event": ');
      expect([notJson.status, notJson.body.error.code, notJson.body.error.details.fields[0].field]).toEqual([400, 'MALFORMED_JSON', 'body']);
      const noEvent = await signedPost('{"messages": []}');
      expect([noEvent.status, noEvent.body.error.details.fields]).toEqual([400, [{ field: 'event', message: expect.any(String) }]]);
      const bad = await signedPost(
        JSON.stringify({ event: { id: 'E1', event_type: 'incident.acknowledged', occurred_at: 'yesterday', data: { incident_key: 42, assignees: 'jane' } } }),
      );
      expect([bad.status, bad.body.error.code, bad.body.error.details.fields.map((f: { field: string }) => f.field)]).toEqual([
        400,
        'VALIDATION_FAILED',
        ['event.occurred_at', 'event.data.incident_key', 'event.data.assignees'],
      ]);
      const noData = await signedPost(JSON.stringify({ event: { id: 'E2', event_type: 'incident.resolved', occurred_at: clock.now().toISOString() } }));
      expect(noData.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['event.data']);
      const proto = await signedPost(`{"event": {"__proto__": {"x": 1}, "id": "E3"}}`);
      expect(proto.status).toBe(400);
      // A bad body with a bad signature is refused for the signature, before its body is looked at.
      expect((await post('{"event": ', 'v1=' + '0'.repeat(64))).status).toBe(401);
    });

    it('answers 404 NOT_CONFIGURED when no signing secret is set', async () => {
      app = await start(null);
      const raw = JSON.stringify(incidentEvent('incident.acknowledged', randomUUID(), clock.now()));
      const res = await post(raw, sign(raw));
      expect([res.status, res.body.error.code, res.body.error.message]).toEqual([404, 'NOT_CONFIGURED', expect.stringContaining('PAGERDUTY_WEBHOOK_SECRETS')]);
    });
  });
}
