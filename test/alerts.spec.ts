import { EventEmitter2 } from '@nestjs/event-emitter';
import { INCIDENT_CHANGE_IN_TRANSACTION } from '../src/incidents/incident-change.event';
import { Transactor } from '../src/database/transactor';
import { fingerprintOf } from '../src/incidents/domain/fingerprint';
import { alert, drivers, ManualClock, RunningApp, startApp, TestStore } from './support/harness';

describe.each(drivers())('alert ingestion on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  let clock: ManualClock;
  let events: Array<{ name: string; incident: { id: string; severity: string } }>;

  async function boot(overrides: Record<string, Record<string, unknown>> = {}): Promise<void> {
    store = await TestStore.create(driver);
    clock = new ManualClock();
    running = await startApp(store, { clock, overrides });
    events = [];
    // The incident events, as emitted after commit (not the in-transaction change the outbox listens to).
    running.app.get(EventEmitter2).onAny((name: string | string[], event: object) => {
      if (name !== INCIDENT_CHANGE_IN_TRANSACTION) events.push({ ...event, name } as (typeof events)[number]);
    });
  }

  afterEach(async () => {
    await running?.close();
    await store?.destroy();
  });

  const post = (body: unknown) => running.http.post('/v1/alerts').send(body as object);

  describe('with deduplication on', () => {
    beforeEach(() => boot({ processing: { deduplication_window_secs: 900 } }));

    it('opens an incident for a new alert, carrying every field of the alert', async () => {
      const sent = alert({
        severity: 'P1',
        external_id: 'am-1',
        labels: { env: 'prod', team: 'edge' },
        affected_services: ['api-gateway', 'auth'],
        runbook_url: 'https://runbooks.example.com/gw',
        annotations: { summary: 'too many 5xx' },
      });
      const res = await post(sent).expect(200);
      expect(res.body).toEqual({ alert_id: expect.any(String), incident_id: expect.any(String), status: 'Accepted', message: expect.any(String) });

      const incident = (await running.http.get(`/v1/incidents/${res.body.incident_id}`).expect(200)).body;
      expect(incident).toMatchObject({
        title: sent.title,
        description: sent.description,
        severity: 'P1',
        state: 'Detected',
        incident_type: 'Application',
        source: 'prometheus',
        affected_resources: ['api-gateway', 'auth'],
        labels: { env: 'prod', team: 'edge' },
        alert_count: 1,
        fingerprint: fingerprintOf({
          source: 'prometheus',
          alert_type: 'Application',
          title: sent.title as string,
          affected_services: ['auth', 'api-gateway'],
        }),
      });
      expect(incident.timeline[0]).toMatchObject({
        event_type: 'created',
        metadata: { alert_id: res.body.alert_id, runbook_url: 'https://runbooks.example.com/gw', annotations: { summary: 'too many 5xx' } },
      });

      const alerts = (await running.http.get(`/v1/incidents/${res.body.incident_id}/alerts`).expect(200)).body;
      expect(alerts).toEqual([
        expect.objectContaining({
          id: res.body.alert_id,
          incident_id: res.body.incident_id,
          status: 'Accepted',
          external_id: 'am-1',
          labels: { env: 'prod', team: 'edge' },
          runbook_url: 'https://runbooks.example.com/gw',
          annotations: { summary: 'too many 5xx' },
          affected_services: ['api-gateway', 'auth'],
          severity: 'P1',
          alert_type: 'Application',
        }),
      ]);
      expect(events.map((e) => e.name)).toEqual(['incident.detected']);
    });

    it('folds a duplicate within the window: count, last_seen_at and timeline, and no event', async () => {
      const first = (await post(alert()).expect(200)).body;
      clock.advance(60);
      const second = (await post(alert({ affected_services: ['api-gateway', 'api-gateway'] })).expect(200)).body;
      expect(second).toMatchObject({ status: 'Duplicate', incident_id: first.incident_id });
      expect(second.alert_id).not.toBe(first.alert_id);

      const incident = (await running.http.get(`/v1/incidents/${first.incident_id}`).expect(200)).body;
      expect(incident.alert_count).toBe(2);
      expect(incident.last_seen_at).toBe(clock.now().toISOString());
      expect(incident.timeline.map((t: { event_type: string }) => t.event_type)).toEqual(['created', 'alert_deduplicated']);
      expect(events.map((e) => e.name)).toEqual(['incident.detected']);
      expect((await running.http.get(`/v1/incidents/${first.incident_id}/alerts`)).body).toHaveLength(2);
    });

    it('opens a new incident when the match was last seen outside the window', async () => {
      const first = (await post(alert()).expect(200)).body;
      clock.advance(600);
      expect((await post(alert()).expect(200)).body.status).toBe('Duplicate'); // last_seen moves on
      clock.advance(899);
      expect((await post(alert()).expect(200)).body.status).toBe('Duplicate');
      clock.advance(901);
      const late = (await post(alert()).expect(200)).body;
      expect(late.status).toBe('Accepted');
      expect(late.incident_id).not.toBe(first.incident_id);
      // The new incident now takes the duplicates.
      expect((await post(alert()).expect(200)).body).toMatchObject({ status: 'Duplicate', incident_id: late.incident_id });
    });

    it('raises the severity on a more severe duplicate, with a timeline entry and incident.updated', async () => {
      const first = (await post(alert({ severity: 'P3' })).expect(200)).body;
      await post(alert({ severity: 'P4' })).expect(200);
      let incident = (await running.http.get(`/v1/incidents/${first.incident_id}`)).body;
      expect(incident.severity).toBe('P3');
      expect(events.map((e) => e.name)).toEqual(['incident.detected']);

      await post(alert({ severity: 'P1' })).expect(200);
      incident = (await running.http.get(`/v1/incidents/${first.incident_id}`)).body;
      expect(incident.severity).toBe('P1');
      expect(incident.timeline.at(-1)).toMatchObject({ event_type: 'severity_changed', metadata: { from: 'P3', to: 'P1' } });
      expect(events.map((e) => e.name)).toEqual(['incident.detected', 'incident.updated']);
      expect(events[1].incident.severity).toBe('P1');
    });

    it('merges the labels and services a duplicate brings, with timeline entries and incident.updated', async () => {
      const first = (await post(alert({ dedup_key: 'disk', labels: { env: 'prod' }, affected_services: ['db-1'] })).expect(200)).body;
      await post(alert({ dedup_key: 'disk', labels: { env: 'staging', zone: 'a' }, affected_services: ['db-2'] })).expect(200);
      const incident = (await running.http.get(`/v1/incidents/${first.incident_id}`)).body;
      expect(incident.labels).toEqual({ env: 'prod', zone: 'a' }); // added, never overwritten
      expect(incident.affected_resources).toEqual(['db-1', 'db-2']);
      expect(incident.timeline.map((t: { event_type: string }) => t.event_type)).toEqual([
        'created',
        'alert_deduplicated',
        'labels_changed',
        'affected_resources_changed',
      ]);
      expect(events.map((e) => e.name)).toEqual(['incident.detected', 'incident.updated']);
      // The same duplicate again changes nothing: no event.
      await post(alert({ dedup_key: 'disk', labels: { zone: 'a' }, affected_services: ['db-2'] })).expect(200);
      expect(events).toHaveLength(2);
    });

    it('lets a direct create take over a fingerprint whose incident is outside the window, as an alert would', async () => {
      const first = (await post(alert()).expect(200)).body;
      const same = {
        title: 'High error rate on api-gateway',
        description: 'd',
        severity: 'P2',
        incident_type: 'Application',
        source: 'prometheus',
        affected_resources: ['api-gateway'],
      };
      const conflict = await running.http.post('/v1/incidents').send(same).expect(409);
      expect(conflict.body.error.details.existing_incident_id).toBe(first.incident_id);
      clock.advance(901);
      const created = (await running.http.post('/v1/incidents').send(same).expect(201)).body;
      expect((await post(alert()).expect(200)).body).toMatchObject({ status: 'Duplicate', incident_id: created.id });
    });

    it('refuses writes with 503 OVERLOADED instead of queueing without end', async () => {
      const transactor = running.app.get(Transactor);
      await expect(transactor.runGrouped(async () => 1, 100_001)).rejects.toMatchObject({ code: 'OVERLOADED' });
      // Delivery outcomes record sends that happened: never refused, whatever waits.
      expect(await transactor.runGrouped(async () => 2, 100_001, { refusable: false })).toBe(2);
      expect(await transactor.runGrouped(async () => 1, 10)).toBe(1);
    });

    it('opens a new incident when the match is resolved', async () => {
      const first = (await post(alert()).expect(200)).body;
      await running.http.post(`/v1/incidents/${first.incident_id}/resolve`).send({ resolved_by: 'alice', method: 'Manual', notes: 'fixed' }).expect(200);
      const next = (await post(alert()).expect(200)).body;
      expect(next.status).toBe('Accepted');
      expect(next.incident_id).not.toBe(first.incident_id);
    });

    it('makes exactly one incident from 50 identical alerts posted at once', async () => {
      const answers = await Promise.all(Array.from({ length: 50 }, () => post(alert())));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      const ids = new Set(answers.map((a) => a.body.incident_id));
      expect(ids.size).toBe(1);
      expect(answers.filter((a) => a.body.status === 'Accepted')).toHaveLength(1);
      const list = (await running.http.get('/v1/incidents')).body;
      expect(list.total).toBe(1);
      expect(list.items[0].alert_count).toBe(50);
      expect(events.filter((e) => e.name === 'incident.detected')).toHaveLength(1);
    });

    it('answers a repeated external_id from the same source with the same alert, counted once', async () => {
      const first = (await post(alert({ external_id: 'grafana-77' })).expect(200)).body;
      const again = await Promise.all(Array.from({ length: 10 }, () => post(alert({ external_id: 'grafana-77', severity: 'P0' }))));
      for (const res of again) expect(res.body).toMatchObject({ alert_id: first.alert_id, incident_id: first.incident_id, status: 'Accepted' });
      const incident = (await running.http.get(`/v1/incidents/${first.incident_id}`)).body;
      expect(incident.alert_count).toBe(1);
      expect(incident.severity).toBe('P2');
      // The same external id from another source is another alert.
      const other = (await post(alert({ external_id: 'grafana-77', source: 'grafana' })).expect(200)).body;
      expect(other.alert_id).not.toBe(first.alert_id);
    });

    it('takes external_id null as no external_id (found by the fuzzer: it was a 500)', async () => {
      const first = (await post(alert({ external_id: null, title: 'no id' })).expect(200)).body;
      const second = (await post(alert({ external_id: null, title: 'no id' })).expect(200)).body;
      expect([first.status, second.status]).toEqual(['Accepted', 'Duplicate']);
      expect(second.alert_id).not.toBe(first.alert_id);
    });

    it('answers a batch in order, one entry per alert, duplicates within the batch included', async () => {
      const batch = [
        alert(),
        alert({ title: 'Disk full', alert_type: 'Infrastructure' }),
        alert(),
        alert({ dedup_key: 'k1' }),
        alert({ dedup_key: 'k1', title: 'other title' }),
      ];
      const res = await post(batch).expect(200);
      expect(res.body.map((a: { status: string }) => a.status)).toEqual(['Accepted', 'Accepted', 'Duplicate', 'Accepted', 'Duplicate']);
      expect(res.body[2].incident_id).toBe(res.body[0].incident_id);
      expect(res.body[4].incident_id).toBe(res.body[3].incident_id);
      expect(new Set(res.body.map((a: { alert_id: string }) => a.alert_id)).size).toBe(5);
      expect((await running.http.get('/v1/incidents')).body.total).toBe(3);
    });

    it('refuses a batch with one invalid alert, naming its index, and stores nothing', async () => {
      const batch = [alert(), alert({ title: 'other' }), alert({ severity: 'P9' }), alert({ labels: { a: 1 } })];
      const res = await post(batch).expect(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['[2].severity', '[3].labels']);
      expect((await running.http.get('/v1/incidents')).body.total).toBe(0);
    });

    it('refuses an empty batch and one over 1,000', async () => {
      expect((await post([]).expect(400)).body.error.details.fields[0].field).toBe('body');
      const big = Array.from({ length: 1001 }, (_, i) => alert({ title: `t${i}` }));
      expect((await post(big).expect(400)).body.error.details.fields[0].message).toMatch(/1 to 1000/);
      expect((await running.http.get('/v1/incidents')).body.total).toBe(0);
    });

    it('accepts a batch of 1,000', async () => {
      const batch = Array.from({ length: 1000 }, (_, i) => alert({ title: `t${i % 400}` }));
      const res = await post(batch).expect(200);
      expect(res.body).toHaveLength(1000);
      expect(res.body.filter((a: { status: string }) => a.status === 'Accepted')).toHaveLength(400);
    });
  });

  describe('with deduplication off', () => {
    beforeEach(() => boot({ processing: { deduplication_enabled: false } }));

    it('opens an incident for every alert', async () => {
      const a = (await post(alert()).expect(200)).body;
      const b = (await post(alert()).expect(200)).body;
      expect(a.status).toBe('Accepted');
      expect(b.status).toBe('Accepted');
      expect(b.incident_id).not.toBe(a.incident_id);
      const list = (await running.http.get('/v1/incidents')).body;
      expect(list.total).toBe(2);
      expect(list.items.map((i: { alert_count: number }) => i.alert_count)).toEqual([1, 1]);
    });
  });
});

describe('fingerprintOf', () => {
  const base = { source: 'prom', alert_type: 'Application', title: 'x' };
  it('ignores the order and repetition of affected services', () => {
    expect(fingerprintOf({ ...base, affected_services: ['b', 'a'] })).toBe(fingerprintOf({ ...base, affected_services: ['a', 'b', 'a'] }));
  });
  it('cannot be fooled by moving text between fields', () => {
    expect(fingerprintOf({ ...base, source: 'a b', title: 'c' })).not.toBe(fingerprintOf({ ...base, source: 'a', title: 'b c' }));
    expect(fingerprintOf({ ...base, affected_services: ['a,b'] })).not.toBe(fingerprintOf({ ...base, affected_services: ['a', 'b'] }));
  });
  it('uses only source and dedup_key when a dedup_key is given', () => {
    expect(fingerprintOf({ ...base, dedup_key: 'k' })).toBe(fingerprintOf({ ...base, title: 'other', alert_type: 'Data', dedup_key: 'k' }));
    expect(fingerprintOf({ ...base, dedup_key: 'k' })).not.toBe(fingerprintOf({ ...base, source: 'other', dedup_key: 'k' }));
  });
  it('is a SHA-256 hex digest', () => {
    expect(fingerprintOf(base)).toMatch(/^[0-9a-f]{64}$/);
  });
});
