import { EventEmitter2 } from '@nestjs/event-emitter';
import { AlertsService } from '../src/alerts/alerts.service';
import type { AlertDto } from '../src/alerts/dto/alert.dto';
import { alert, drivers, onChangeInTransaction, RunningApp, startApp, TestStore } from './support/harness';

describe.each(drivers())('storage on %s', (driver) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await TestStore.create(driver);
  });
  afterEach(() => store.destroy());

  it('keeps incidents, alerts, notes and timelines across a restart', async () => {
    const first = await startApp(store);
    const a = (
      await first.http
        .post('/v1/alerts')
        .send(alert({ external_id: 'e-1' }))
        .expect(200)
    ).body;
    await first.http.post('/v1/alerts').send(alert()).expect(200);
    await first.http.post(`/v1/incidents/${a.incident_id}/notes`).send({ author: 'alice', content: 'looking' }).expect(201);
    await first.http.post(`/v1/incidents/${a.incident_id}/transition`).send({ state: 'Investigating', actor: 'alice' }).expect(200);
    const before = (await first.http.get(`/v1/incidents/${a.incident_id}`)).body;
    await first.close();

    const second = await startApp(store);
    try {
      const after = (await second.http.get(`/v1/incidents/${a.incident_id}`).expect(200)).body;
      expect(after).toEqual(before);
      expect(after).toMatchObject({ state: 'Investigating', alert_count: 2, notes: [{ content: 'looking' }] });
      expect((await second.http.get(`/v1/incidents/${a.incident_id}/alerts`)).body).toHaveLength(2);
      // Deduplication and idempotency carry on from the stored state.
      expect((await second.http.post('/v1/alerts').send(alert()).expect(200)).body).toMatchObject({ status: 'Duplicate', incident_id: a.incident_id });
      expect(
        (
          await second.http
            .post('/v1/alerts')
            .send(alert({ external_id: 'e-1' }))
            .expect(200)
        ).body.alert_id,
      ).toBe(a.alert_id);
    } finally {
      await second.close();
    }
  });

  it('stores a batch whole or not at all when a write fails part-way', async () => {
    const running = await startApp(store);
    try {
      await running.http
        .post('/v1/alerts')
        .send(alert({ title: 'existing' }))
        .expect(200);
      onChangeInTransaction(running.app, async (_tx, event) => {
        if (event.incident.title === 'boom') throw new Error('simulated failure inside the transaction');
      });
      const res = await running.http.post('/v1/alerts').send([alert({ title: 'one' }), alert({ title: 'existing' }), alert({ title: 'boom' })]);
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('INTERNAL');
      expect(JSON.stringify(res.body)).not.toContain('simulated');
      const list = (await running.http.get('/v1/incidents')).body;
      expect(list.total).toBe(1);
      expect(list.items[0]).toMatchObject({ title: 'existing', alert_count: 1 });
      expect((await running.http.get(`/v1/incidents/${list.items[0].id}/alerts`)).body).toHaveLength(1);
    } finally {
      await running.close();
    }
  });
});

/** Submits one alert per title through the service, all in the same tick. */
function ingestTogether(running: RunningApp, titles: string[]): Promise<Array<'ok' | 'failed'>> {
  const alerts = running.app.get(AlertsService);
  return Promise.all(
    titles.map((title) =>
      alerts.ingest([alert({ title }) as unknown as AlertDto]).then(
        () => 'ok' as const,
        () => 'failed' as const,
      ),
    ),
  );
}

describe.each(drivers())('group commit on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store);
  });
  afterEach(async () => {
    await running.close();
    await store.destroy();
  });

  /** Twenty alerts submitted in one tick share one group; the one titled 'boom' fails. */
  async function expectOnlyBoomFails(): Promise<Array<{ id: string; title: string }>> {
    const titles = Array.from({ length: 20 }, (_, i) => (i === 7 ? 'boom' : `alert ${i}`));
    const outcomes = await ingestTogether(running, titles);
    expect(outcomes).toEqual(titles.map((t) => (t === 'boom' ? 'failed' : 'ok')));
    const list = (await running.http.get('/v1/incidents?page_size=100')).body;
    expect(list.total).toBe(19);
    expect(list.items.map((i: { title: string }) => i.title)).not.toContain('boom');
    return list.items;
  }

  it('commits the other requests of a group when one of them fails', async () => {
    onChangeInTransaction(running.app, async (_tx, event) => {
      if (event.incident.title === 'boom') throw new Error('simulated failure');
    });
    await expectOnlyBoomFails();
  });

  it("commits the other requests when one request's deferred rows fail at the flush", async () => {
    onChangeInTransaction(running.app, async (tx, event) => {
      if (event.incident.title !== 'boom') return;
      // A row that breaks a foreign key only when the deferred rows are written.
      tx.deferInsert('incident_timeline', {
        incident_id: '00000000-0000-7000-8000-000000000000',
        timestamp: event.occurred_at,
        event_type: 'x',
        actor: 'x',
        description: 'x',
        metadata: '{}',
      });
    });
    for (const incident of await expectOnlyBoomFails()) {
      expect((await running.http.get(`/v1/incidents/${incident.id}/alerts`)).body).toHaveLength(1);
      expect((await running.http.get(`/v1/incidents/${incident.id}/timeline`)).body).toHaveLength(1);
    }
  });
});

describe.each(drivers())('concurrency across instances on %s', (driver) => {
  it('makes one incident from identical alerts and creates posted to two app instances at once', async () => {
    const store = await TestStore.create(driver);
    const a = await startApp(store);
    const b = await startApp(store);
    try {
      // Two instances have two connections (pools): only the database can keep them consistent.
      const posts = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).http.post('/v1/alerts').send(alert()));
      const creates = Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? a : b).http.post('/v1/incidents').send({ title: 'Same', description: 'd', severity: 'P2', incident_type: 'Data', source: 'manual' }),
      );
      const answers = await Promise.all(posts);
      expect(answers.map((r) => r.status)).toEqual(Array(40).fill(200));
      expect(new Set(answers.map((r) => r.body.incident_id)).size).toBe(1);
      const created = await Promise.all(creates);
      expect(created.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      const winner = created.find((r) => r.status === 201)?.body.id;
      for (const r of created.filter((c) => c.status === 409)) expect(r.body.error.details.existing_incident_id).toBe(winner);
      const list = (await a.http.get('/v1/incidents')).body;
      expect(list.total).toBe(2);
      expect(list.items.find((i: { title: string }) => i.title !== 'Same').alert_count).toBe(40);
    } finally {
      await a.close();
      await b.close();
      await store.destroy();
    }
  });
});

describe('after-commit listeners', () => {
  it('a listener that throws neither fails the request nor writes anything twice', async () => {
    const store = await TestStore.create('sqlite');
    const running = await startApp(store);
    try {
      running.app.get(EventEmitter2).on('incident.detected', () => {
        throw new Error('listener bug');
      });
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => running.http.post('/v1/alerts').send(alert({ title: `t${i % 2}` }))));
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
      const list = (await running.http.get('/v1/incidents')).body;
      expect(list.total).toBe(2);
      expect(list.items.map((i: { alert_count: number }) => i.alert_count)).toEqual([5, 5]);
    } finally {
      await running.close();
      await store.destroy();
    }
  });
});

describe('service surface', () => {
  let store: TestStore;
  let running: Awaited<ReturnType<typeof startApp>>;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    running = await startApp(store);
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
  });

  it('answers liveness and readiness', async () => {
    expect((await running.http.get('/health/live').expect(200)).body).toEqual({ status: 'ok' });
    expect((await running.http.get('/health/ready').expect(200)).body).toEqual({
      status: 'ok',
      checks: { database: { status: 'ok', driver: 'sqlite' }, deliveries: { status: 'ok', stranded: 0, oldest_expired_lease_secs: 0 } },
    });
  });

  it('serves Swagger UI at /docs and an OpenAPI document with every route, enum and error response', async () => {
    const ui = await running.http.get('/docs').redirects(1).expect(200);
    expect(ui.text).toContain('swagger-ui');
    const doc = (await running.http.get('/docs/openapi.json').expect(200)).body;
    const routes = Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'POST /v1/alerts',
        'POST /v1/incidents',
        'GET /v1/incidents',
        'GET /v1/incidents/{id}',
        'PATCH /v1/incidents/{id}',
        'POST /v1/incidents/{id}/transition',
        'POST /v1/incidents/{id}/acknowledge',
        'GET /v1/routing',
        'POST /v1/routing/explain',
        'POST /v1/admin/config/reload',
        'GET /v1/silences',
        'GET /v1/silences/{id}',
        'POST /v1/silences',
        'POST /v1/silences/{id}/expire',
        'POST /v1/integrations/slack/interactions',
        'POST /v1/integrations/pagerduty/webhooks',
        'POST /v1/integrations/twilio/sms',
        'POST /v1/integrations/twilio/voice/gather',
        'POST /v1/integrations/twilio/voice/status',
        'POST /v1/incidents/{id}/resolve',
        'POST /v1/incidents/{id}/close',
        'POST /v1/incidents/{id}/notes',
        'GET /v1/incidents/{id}/timeline',
        'GET /v1/incidents/{id}/upstream-alerts',
        'GET /v1/incidents/{id}/alerts',
        'GET /v1/incidents/{id}/notifications',
        'POST /v1/incidents/{id}/notifications',
        'POST /v1/notifications/{id}/retry',
        'GET /v1/notifications/stats',
        'POST /v1/notifications/test',
        'POST /v1/api-keys',
        'GET /v1/api-keys',
        'POST /v1/api-keys/{id}/revoke',
        'GET /metrics',
        'POST /v1/integrations/alertmanager',
        'POST /v1/integrations/grafana',
        'POST /v2/enqueue',
        'POST /v1/integrations/pagerduty/enqueue',
        'GET /health/live',
        'GET /health/ready',
        'GET /v1/incidents/events',
        'GET /v1/notifications/dead-letters',
        'POST /v1/silences/preview',
        'POST /v1/session',
        'GET /v1/session',
        'DELETE /v1/session',
        'POST /v1/users',
        'GET /v1/users',
        'GET /v1/users/{id}',
        'PATCH /v1/users/{id}',
        'POST /v1/users/{id}/deactivate',
        'POST /v1/users/{id}/reactivate',
        'POST /v1/users/{id}/calendar-link',
        'POST /v1/teams',
        'GET /v1/teams',
        'GET /v1/teams/{id}',
        'PATCH /v1/teams/{id}',
        'DELETE /v1/teams/{id}',
        'POST /v1/schedules',
        'GET /v1/schedules',
        'GET /v1/schedules/{id}',
        'PATCH /v1/schedules/{id}',
        'DELETE /v1/schedules/{id}',
        'GET /v1/schedules/{id}/on-call',
        'GET /v1/schedules/{id}/shifts',
        'GET /v1/schedules/{id}/overrides',
        'POST /v1/schedules/{id}/overrides',
        'DELETE /v1/schedules/{id}/overrides/{overrideId}',
        'GET /v1/on-call',
        'GET /v1/reports/response',
        'GET /v1/calendars/{token}/shifts.ics',
        'GET /v1/calendars/{token}/schedules/{id}.ics',
        'GET /v1/ack/{token}',
        'POST /v1/ack/{token}',
      ].sort(),
    );
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>>)) {
      if (path.startsWith('/health')) continue;
      for (const op of Object.values(ops)) {
        // Slack's interactions and PagerDuty's webhooks prove themselves with their sender's signature, not a key (no 403 or 429 to answer).
        if (path === '/v1/integrations/slack/interactions' || path === '/v1/integrations/pagerduty/webhooks' || path.startsWith('/v1/integrations/twilio/')) {
          expect([op.security, (op as Record<string, unknown>)['x-credential'], Object.keys(op.responses).sort()]).toEqual([
            undefined,
            `header.x-${path.split('/')[3]}-signature`,
            ['200', '400', '401', '404', '500'],
          ]);
          continue;
        }
        // The console's sign-in exchanges a key in its body for a session cookie: no key limits to answer.
        if (path === '/v1/session') {
          expect([op.security, (op as Record<string, unknown>)['x-credential']]).toEqual([undefined, 'session']);
          expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401']));
          continue;
        }
        // Calendar feeds and acknowledgement links carry a token in the path: no key, no key limits.
        if (path.startsWith('/v1/calendars/') || path.startsWith('/v1/ack/')) {
          expect([op.security, (op as Record<string, unknown>)['x-credential']]).toEqual([undefined, 'path.token']);
          expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '404']));
          continue;
        }
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401', '403', '429']));
        // The PagerDuty route takes its key from the body's routing_key, as PagerDuty does.
        if (path.endsWith('/enqueue')) expect([op.security, (op as Record<string, unknown>)['x-credential']]).toEqual([undefined, 'body.routing_key']);
        else expect(op.security).toEqual([{ bearer: [] }]);
      }
    }
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Severity.enum).toEqual(['P0', 'P1', 'P2', 'P3', 'P4']);
    expect(doc.components.schemas.IncidentState.enum).toEqual(['Detected', 'Triaged', 'Investigating', 'Remediating', 'Resolved', 'Closed']);
    expect(doc.components.schemas.ResolutionMethod.enum).toEqual(['Automated', 'Manual', 'AutoAssistedManual']);
    expect(doc.components.schemas.IncidentType.enum).toHaveLength(8);
    expect(doc.components.schemas.ErrorView).toBeDefined();
    for (const schema of [
      'SlackChannelDto',
      'EmailChannelDto',
      'PagerDutyChannelDto',
      'WebhookChannelDto',
      'DeliveryView',
      'NotificationStatsView',
      'ChannelStatsView',
    ]) {
      expect(doc.components.schemas[schema]).toBeDefined();
    }
    expect(Object.keys(doc.components.schemas.AlertDto.properties).sort()).toEqual(
      [
        'source',
        'title',
        'description',
        'severity',
        'alert_type',
        'external_id',
        'dedup_key',
        'labels',
        'affected_services',
        'runbook_url',
        'annotations',
      ].sort(),
    );
  });
});
