import { AlertMapping } from '../src/integrations/alert-mapping';
import { buildConfig } from '../src/config/config.loader';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { event as pdEvent } from '@pagerduty/pdjs';
import { makeCertificate } from './support/certificate';
import { drivers, ManualClock, RunningApp, startApp, TestStore } from './support/harness';

const STARTS = '2026-01-15T14:30:00.000Z';

/** An Alertmanager webhook notification (version 4) of one group. */
function notification(alerts: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'incident-manager',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts,
    ...extra,
  };
}

function amAlert(instance: string, status: 'firing' | 'resolved', overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status,
    labels: { alertname: 'HighErrorRate', severity: 'critical', instance, service: 'checkout', incident_type: 'application' },
    annotations: { summary: `5xx above 5% on ${instance}`, description: 'error ratio over 5 minutes', runbook_url: 'https://runbooks.example/5xx' },
    startsAt: STARTS,
    endsAt: status === 'resolved' ? '2026-01-15T14:40:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example:9090/graph?g0.expr=errors',
    fingerprint: `fp-${instance}`,
    ...overrides,
  };
}

async function keyWith(running: RunningApp, scopes: string[]): Promise<string> {
  const res = await running.http
    .post('/v1/api-keys')
    .send({ name: `k-${scopes.join('-')}`, scopes })
    .expect(201);
  return res.body.key as string;
}

describe.each(drivers())('Alertmanager and Grafana notifications on %s', (driver) => {
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

  const incidents = async () => (await running.http.get('/v1/incidents?page_size=500').expect(200)).body;

  it('opens one incident per group with the mapped fields, counts a repeat once, and resolves once every upstream alert has', async () => {
    const first = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing'), amAlert('b', 'firing')]));
    expect(first.status).toBe(200);
    expect(first.body.alerts.map((a: { result: string }) => a.result)).toEqual(['Accepted', 'Duplicate']);
    const id = first.body.alerts[0].incident_ids[0];
    expect(first.body.alerts[1].incident_ids).toEqual([id]);

    const incident = (await running.http.get(`/v1/incidents/${id}`).expect(200)).body;
    expect(incident).toMatchObject({
      // The group, not its first alert: b fires too, and their summaries differ.
      title: 'HighErrorRate (2 alerts)',
      description: 'error ratio over 5 minutes',
      severity: 'P1',
      incident_type: 'Application',
      source: 'alertmanager',
      affected_resources: ['checkout'],
      alert_count: 2,
      state: 'Detected',
    });
    expect(incident.labels).toMatchObject({ alertname: 'HighErrorRate', severity: 'critical', instance: 'a' });
    const stored = (await running.http.get(`/v1/incidents/${id}/alerts`).expect(200)).body;
    expect(stored[0]).toMatchObject({
      external_id: `fp-a@${STARTS}`,
      runbook_url: 'https://runbooks.example/5xx',
      annotations: {
        summary: '5xx above 5% on a',
        generatorURL: 'http://prometheus.example:9090/graph?g0.expr=errors',
        externalURL: 'http://alertmanager.example:9093',
      },
    });

    // Alertmanager sends the group again every repeat_interval: nothing more is counted.
    const repeat = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing'), amAlert('b', 'firing')]));
    expect(repeat.body.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(first.body.alerts.map((a: { alert_id: string }) => a.alert_id));
    expect((await running.http.get(`/v1/incidents/${id}`)).body.alert_count).toBe(2);

    // One of the two resolves: the incident stays open.
    const half = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'resolved'), amAlert('b', 'firing')]));
    expect(half.body.resolved_incidents).toEqual([]);
    expect(half.body.alerts[0]).toMatchObject({ status: 'resolved', result: 'Resolved', incident_ids: [id] });
    expect((await running.http.get(`/v1/incidents/${id}`)).body.state).toBe('Detected');
    // Each upstream alert with its own state there, the firing one first.
    const upstream = (await running.http.get(`/v1/incidents/${id}/upstream-alerts`).expect(200)).body;
    expect(upstream.map((u: { fingerprint: string; status: string; name: string }) => [u.fingerprint, u.status, u.name])).toEqual([
      ['fp-b', 'firing', 'HighErrorRate'],
      ['fp-a', 'resolved', 'HighErrorRate'],
    ]);
    expect(upstream[1].ends_at).toBe('2026-01-15T14:40:00.000Z');
    await running.http.get('/v1/incidents/00000000-0000-4000-8000-000000000000/upstream-alerts').expect(404);

    const all = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'resolved'), amAlert('b', 'resolved')]));
    expect(all.body.resolved_incidents).toEqual([id]);
    const resolved = (await running.http.get(`/v1/incidents/${id}`).expect(200)).body;
    expect(resolved.state).toBe('Resolved');
    expect(resolved.resolution).toMatchObject({ method: 'Automated', resolved_by: 'alertmanager' });
    const events = resolved.timeline.map((t: { event_type: string }) => t.event_type);
    expect(events.filter((e: string) => e === 'upstream_alert_resolved')).toHaveLength(2);
    expect(events.slice(-2)).toEqual(['state_changed', 'resolved']);
    expect(resolved.timeline.at(-1).description).toContain('every upstream alert of this incident (2) was resolved in alertmanager');

    // The same alert firing again later is a new firing: a new incident, as for any alert whose incident is resolved.
    const again = await running.http
      .post('/v1/integrations/alertmanager')
      .send(notification([amAlert('a', 'firing', { startsAt: '2026-01-15T15:00:00.000Z' })]));
    expect(again.body.alerts[0].result).toBe('Accepted');
    expect(again.body.alerts[0].incident_ids[0]).not.toBe(id);
  });

  it('leaves a newer firing alone when the resolution of an older firing of the same alert arrives late', async () => {
    const first = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing')]));
    const id = first.body.alerts[0].incident_ids[0];
    const later = '2026-01-15T14:35:00.000Z';
    const again = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing', { startsAt: later })]));
    expect(again.body.alerts[0]).toMatchObject({ result: 'Duplicate', incident_ids: [id] });
    // A delayed or HA-duplicated notification about the first firing.
    const stale = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'resolved')]));
    expect(stale.body).toMatchObject({ alerts: [{ result: 'Unknown', incident_ids: [] }], resolved_incidents: [] });
    expect((await running.http.get(`/v1/incidents/${id}`)).body.state).toBe('Detected');
    const current = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'resolved', { startsAt: later })]));
    expect(current.body.resolved_incidents).toEqual([id]);
  });

  it('refuses times that are not RFC 3339, even ones Date.parse would take', async () => {
    for (const startsAt of ['1', new Date().toString(), '2026-01-15T14:30:00.1234567890123456789012345678901Z', '2026-01-15 14:30:00']) {
      const res = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing', { startsAt })]));
      expect([res.status, res.body.error.details.fields[0].field]).toEqual([400, 'alerts[0].startsAt']);
    }
    // What Alertmanager writes (nanoseconds) and an offset are taken.
    for (const startsAt of ['2026-01-15T14:30:00.123456789Z', '2026-01-15T15:30:00+01:00']) {
      const res = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('t', 'firing', { startsAt })]));
      expect(res.status).toBe(200);
    }
    expect((await incidents()).total).toBe(1);
  });

  it('maps severities and types through the config, and defaults what is missing', async () => {
    const res = await running.http
      .post('/v1/integrations/alertmanager')
      .send(
        notification(
          [
            amAlert('w', 'firing', { labels: { alertname: 'DiskFilling', severity: 'Warning' }, annotations: {}, fingerprint: 'fp-w' }),
            amAlert('x', 'firing', { labels: { alertname: 'Odd', severity: 'nonsense', incident_type: 'nonsense' }, annotations: {}, fingerprint: 'fp-x' }),
            amAlert('y', 'firing', { labels: { severity: 'p0' }, annotations: {}, fingerprint: undefined }),
          ],
          { groupKey: undefined },
        ),
      );
    expect(res.status).toBe(200);
    const got = await Promise.all(
      res.body.alerts.map(async (a: { incident_ids: string[] }) => (await running.http.get(`/v1/incidents/${a.incident_ids[0]}`)).body),
    );
    expect(got.map((i) => [i.title, i.severity, i.incident_type])).toEqual([
      // No type label: the alert's name says it (disk: Infrastructure).
      ['DiskFilling', 'P3', 'Infrastructure'],
      ['Odd', 'P3', 'Unknown'],
      ['Alert from alertmanager', 'P0', 'Unknown'],
    ]);
  });

  it('titles a group after what its alerts share: the common summary, else the alert name and how many fire; one alert by its own summary', async () => {
    const title = async (body: Record<string, unknown>) => {
      const res = await running.http.post('/v1/integrations/alertmanager').send(body).expect(200);
      return (await running.http.get(`/v1/incidents/${res.body.alerts[0].incident_ids[0]}`).expect(200)).body.title;
    };
    expect(
      await title(
        notification([amAlert('c', 'firing'), amAlert('d', 'firing')], {
          groupKey: '{}:{g="shared"}',
          commonAnnotations: { summary: 'Checkout 5xx above 5%' },
        }),
      ),
    ).toBe('Checkout 5xx above 5%');
    expect(
      await title(
        notification([amAlert('e', 'firing'), amAlert('f', 'firing'), amAlert('g', 'resolved')], {
          groupKey: '{}:{g="named"}',
          commonLabels: {},
          groupLabels: { alertname: 'NodeNotReady' },
        }),
      ),
    ).toBe('NodeNotReady (2 alerts)');
    expect(await title(notification([amAlert('h', 'firing')], { groupKey: '{}:{g="one"}' }))).toBe('5xx above 5% on h');
  });

  it('takes the type from type_map, else from words of the alert name, else default_type', () => {
    const mapping = new AlertMapping(
      buildConfig({ integrations: { type_map: ['node=Infrastructure', 'payments-api=Application'], default_type: 'Unknown' } }, {}).integrations,
    );
    expect(mapping.typeOf({ incident_type: 'Security' })).toBe('Security');
    expect(mapping.typeOf({ incident_type: 'NODE' })).toBe('Infrastructure');
    expect(mapping.typeOf({ incident_type: 'payments-api', alertname: 'CertExpiring' })).toBe('Application'); // the label wins
    expect(mapping.typeOf({ incident_type: 'nonsense', alertname: 'NodeDown' })).toBe('Unknown'); // a label that says nothing known
    for (const [alertname, type] of [
      ['NodeFilesystemSpaceFillingUp', 'Infrastructure'],
      ['KubePodCrashLooping', 'Application'],
      ['HighRequestLatency', 'Performance'],
      ['TargetDown', 'Availability'],
      ['CertificateExpiringSoon', 'Security'],
      ['PostgresReplicationLagging', 'Performance'],
      ['MysqlReplicaBroken', 'Data'],
      ['Watchdog', 'Unknown'],
    ]) {
      expect([alertname, mapping.typeOf({ alertname })]).toEqual([alertname, type]);
    }
    const plain = new AlertMapping(buildConfig({ integrations: { type_from_alertname: false } }, {}).integrations);
    expect(plain.typeOf({ alertname: 'NodeDown' })).toBe('Unknown');
    expect(() => buildConfig({ integrations: { type_map: ['node=Hardware'] } }, {})).toThrow(/integrations\.type_map\[0\]/);
  });

  it('refuses a notification with a bad alert whole, naming alerts[i].field, and stores nothing', async () => {
    const before = (await incidents()).total;
    const res = await running.http
      .post('/v1/integrations/alertmanager')
      .send(
        notification([
          amAlert('a', 'firing'),
          amAlert('b', 'firing', { status: 'pending' }),
          amAlert('c', 'firing', { labels: { n: 5 }, startsAt: 'yesterday' }),
        ]),
      );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['alerts[1].status', 'alerts[2].labels.n', 'alerts[2].startsAt']);
    expect((await incidents()).total).toBe(before);
    for (const body of [[], { alerts: 'x' }, { alerts: [] as unknown[], groupKey: 5 }]) {
      const bad = await running.http.post('/v1/integrations/alertmanager').send(body);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.fields[0].field).toMatch(/^(body|alerts|groupKey)$/);
    }
  });

  it("takes Grafana's webhook body, with its extra fields, as source grafana", async () => {
    const grafanaAlert = {
      ...amAlert('g', 'firing'),
      silenceURL: 'http://grafana.example/alerting/silence/new',
      dashboardURL: '',
      panelURL: '',
      values: { B: 12.5 },
      valueString: '[ var=B value=12.5 ]',
    };
    const res = await running.http
      .post('/v1/integrations/grafana')
      .send(notification([grafanaAlert], { orgId: 1, title: '[FIRING:1] HighErrorRate', state: 'alerting', message: '**Firing**' }));
    expect(res.status).toBe(200);
    const incident = (await running.http.get(`/v1/incidents/${res.body.alerts[0].incident_ids[0]}`)).body;
    expect(incident.source).toBe('grafana');
  });

  it('needs an API key with alerts:write', async () => {
    await running.anon
      .post('/v1/integrations/alertmanager')
      .send(notification([amAlert('a', 'firing')]))
      .expect(401);
    const reader = await keyWith(running, ['incidents:read']);
    await running.anon
      .post('/v1/integrations/alertmanager')
      .set('authorization', `Bearer ${reader}`)
      .send(notification([amAlert('a', 'firing')]))
      .expect(403);
    const writer = await keyWith(running, ['alerts:write']);
    await running.anon
      .post('/v1/integrations/grafana')
      .set('authorization', `Bearer ${writer}`)
      .send(notification([amAlert('a', 'firing')]))
      .expect(200);
  });
});

describe.each(drivers())('a group that keeps firing past the deduplication window on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  const clock = new ManualClock();
  beforeEach(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store, { clock });
  });
  afterEach(async () => {
    await running.close();
    await store.destroy();
  });

  it('stays one incident, for Alertmanager groups and PagerDuty dedup keys alike, as long as it is open', async () => {
    const first = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing')]));
    clock.advance(3600); // four times the 900 s window, with only repeats in between
    const next = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing'), amAlert('b', 'firing')]));
    expect(next.body.alerts.map((a: { incident_ids: string[] }) => a.incident_ids[0])).toEqual([
      first.body.alerts[0].incident_ids[0],
      first.body.alerts[0].incident_ids[0],
    ]);

    const key = (
      await running.http
        .post('/v1/api-keys')
        .send({ name: 'pd', scopes: ['alerts:write'] })
        .expect(201)
    ).body.key as string;
    const trigger = { routing_key: key, event_action: 'trigger', dedup_key: 'long-one', payload: { summary: 's', source: 'h', severity: 'error' } };
    await running.anon.post('/v2/enqueue').send(trigger).expect(202);
    clock.advance(4 * 3600); // Alertmanager's PagerDuty receiver sends the trigger again every repeat_interval (4 h)
    await running.anon.post('/v2/enqueue').send(trigger).expect(202);
    const paged = (await running.http.get('/v1/incidents?source=pagerduty')).body;
    expect([paged.total, paged.items[0].alert_count]).toEqual([1, 2]);
    await running.anon.post('/v2/enqueue').send({ routing_key: key, event_action: 'resolve', dedup_key: 'long-one' }).expect(202);
    expect((await running.http.get(`/v1/incidents/${paged.items[0].id}`)).body.state).toBe('Resolved');
  });
});

describe.each(drivers())('auto_resolve off on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store, { overrides: { integrations: { auto_resolve: false } } });
  });
  afterEach(async () => {
    await running.close();
    await store.destroy();
  });

  it('records the upstream resolution in the timeline and leaves the incident open', async () => {
    const first = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'firing')]));
    const id = first.body.alerts[0].incident_ids[0];
    const res = await running.http.post('/v1/integrations/alertmanager').send(notification([amAlert('a', 'resolved')]));
    expect(res.body.resolved_incidents).toEqual([]);
    const incident = (await running.http.get(`/v1/incidents/${id}`)).body;
    expect(incident.state).toBe('Detected');
    expect(incident.timeline.map((t: { event_type: string }) => t.event_type)).toContain('upstream_alert_resolved');
  });
});

describe.each(drivers())('PagerDuty Events API v2 on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  let key: string;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store);
    key = await keyWith(running, ['alerts:write']);
  });
  afterEach(async () => {
    await running.close();
    await store.destroy();
  });

  const trigger = (overrides: Record<string, unknown> = {}) => ({
    routing_key: key,
    event_action: 'trigger',
    dedup_key: 'disk-full-db1',
    payload: {
      summary: 'Disk 95% full on db1',
      source: 'db1.example.com',
      severity: 'error',
      component: 'postgres',
      group: 'storage',
      class: 'disk',
      custom_details: { free_gb: 3 },
    },
    client: 'Datadog',
    client_url: 'https://app.datadoghq.example/monitors/1',
    links: [{ href: 'https://grafana.example/d/disk', text: 'Disk dashboard' }],
    ...overrides,
  });

  it('triggers, folds a repeat, acknowledges and resolves by dedup_key, answering as PagerDuty does', async () => {
    const first = await running.anon.post('/v2/enqueue').send(trigger());
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'disk-full-db1' });
    await running.anon.post('/v1/integrations/pagerduty/enqueue').send(trigger()).expect(202);
    const [incident] = (await running.http.get('/v1/incidents?source=pagerduty')).body.items;
    expect(incident).toMatchObject({
      title: 'Disk 95% full on db1',
      severity: 'P1',
      source: 'pagerduty',
      alert_count: 2,
      affected_resources: ['postgres'],
      labels: { source: 'db1.example.com', component: 'postgres', group: 'storage', class: 'disk', client: 'Datadog' },
    });
    const [alert] = (await running.http.get(`/v1/incidents/${incident.id}/alerts`)).body;
    expect(JSON.parse(alert.annotations.custom_details)).toEqual({ free_gb: 3 });
    expect(JSON.parse(alert.annotations.links)).toEqual([{ href: 'https://grafana.example/d/disk', text: 'Disk dashboard' }]);

    await running.anon.post('/v2/enqueue').send({ routing_key: key, event_action: 'acknowledge', dedup_key: 'disk-full-db1' }).expect(202);
    expect((await running.http.get(`/v1/incidents/${incident.id}`)).body.state).toBe('Triaged');
    await running.anon.post('/v2/enqueue').send({ routing_key: key, event_action: 'resolve', dedup_key: 'disk-full-db1' }).expect(202);
    const resolved = (await running.http.get(`/v1/incidents/${incident.id}`)).body;
    expect(resolved.state).toBe('Resolved');
    expect(resolved.resolution).toMatchObject({ method: 'Automated', resolved_by: 'k-alerts:write' });

    // An event for a dedup_key nobody triggered is accepted and changes nothing, as with PagerDuty.
    await running.anon.post('/v2/enqueue').send({ routing_key: key, event_action: 'resolve', dedup_key: 'never-seen' }).expect(202);
  });

  it('maps the four severities and makes up a dedup_key when a trigger has none', async () => {
    const expected = { critical: 'P0', error: 'P1', warning: 'P2', info: 'P3' };
    for (const [severity, mapped] of Object.entries(expected)) {
      const res = await running.anon.post('/v2/enqueue').send(trigger({ dedup_key: undefined, payload: { summary: `s-${severity}`, source: 'h', severity } }));
      expect(res.status).toBe(202);
      expect(res.body.dedup_key).toMatch(/^[0-9a-f]{32}$/);
      const [incident] = (await running.http.get('/v1/incidents?source=pagerduty')).body.items;
      expect([incident.title, incident.severity]).toEqual([`s-${severity}`, mapped]);
    }
  });

  it("answers invalid events, bad keys and missing scopes in PagerDuty's shape, and stores nothing", async () => {
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [trigger({ payload: { summary: 'x', source: 'h', severity: 'fatal' } }), 400, 'invalid event', 'payload.severity'],
      [trigger({ payload: { source: 'h', severity: 'info' } }), 400, 'invalid event', 'payload.summary'],
      [trigger({ payload: { summary: 'x'.repeat(1025), source: 'h', severity: 'info' } }), 400, 'invalid event', 'payload.summary'],
      [trigger({ payload: undefined }), 400, 'invalid event', 'payload'],
      [trigger({ event_action: 'snooze' }), 400, 'invalid event', 'event_action'],
      [trigger({ payload: { summary: 'x', source: 'h', severity: 'toString' } }), 400, 'invalid event', 'payload.severity'],
      [trigger({ links: Array.from({ length: 10 }, () => ({ href: 'https://x.example/' + 'l'.repeat(1000) })) }), 400, 'invalid event', 'links'],
      [{ routing_key: key, event_action: 'acknowledge', dedup_key: null }, 400, 'invalid event', 'dedup_key'],
      [{ routing_key: key, event_action: 'resolve' }, 400, 'invalid event', 'dedup_key'],
      [trigger({ routing_key: undefined }), 401, 'unauthorized', ''],
      [trigger({ routing_key: 'R0UT1NGKEY0000000000000000000000' }), 401, 'unauthorized', ''],
    ];
    for (const [body, status, text, field] of cases) {
      const res = await running.anon.post('/v2/enqueue').send(body);
      expect([res.status, res.body.status]).toEqual([status, text]);
      expect(res.body.errors.length).toBeGreaterThan(0);
      if (field) expect(res.body.errors.some((e: string) => e.startsWith(`${field} `))).toBe(true);
      expect(res.body.request_id).toBeDefined();
    }
    const reader = await keyWith(running, ['incidents:read']);
    const forbidden = await running.anon.post('/v2/enqueue').send(trigger({ routing_key: reader }));
    expect([forbidden.status, forbidden.body.status]).toEqual([403, 'forbidden']);
    // A key in the Authorization header is not how PagerDuty senders authenticate: the routing_key decides.
    await running.anon
      .post('/v2/enqueue')
      .set('authorization', `Bearer ${key}`)
      .send(trigger({ routing_key: reader }))
      .expect(403);
    expect((await running.http.get('/v1/incidents')).body.total).toBe(0);
  });
});

describe('PagerDuty Events API v2 through @pagerduty/pdjs', () => {
  let store: TestStore;
  let running: RunningApp;
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llm-im-pdjs-'));
    const tls = await makeCertificate(dir);
    ca = tls.cert;
    store = await TestStore.create('sqlite');
    running = await startApp(store, { overrides: { server: { tls_cert_path: tls.certPath, tls_key_path: tls.keyPath } } });
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes a trigger, an acknowledge and a resolve sent by PagerDuty's own JavaScript client", async () => {
    // The service speaks HTTPS here (pdjs knows no other scheme): supertest trusts the same certificate.
    const get = async (path: string) => (await running.http.get(path).ca(ca).expect(200)).body;
    const key = (
      await running.http
        .post('/v1/api-keys')
        .ca(ca)
        .send({ name: 'pdjs', scopes: ['alerts:write'] })
        .expect(201)
    ).body.key as string;
    const port = (running.app.getHttpServer().address() as { port: number }).port;
    // pdjs calls https://<server>/v2/enqueue; node-fetch takes the agent that trusts the test's certificate.
    const send = (data: Record<string, unknown>) => pdEvent({ server: `localhost:${port}`, agent: new Agent({ ca }), data } as never);
    const triggered = await send({
      routing_key: key,
      event_action: 'trigger',
      payload: { summary: 'Checkout latency above 2 s', source: 'checkout-1', severity: 'critical' },
    });
    expect(triggered.status).toBe(202);
    const dedupKey = (triggered.data as { dedup_key: string }).dedup_key;
    const [incident] = (await get('/v1/incidents')).items;
    expect([incident.title, incident.severity]).toEqual(['Checkout latency above 2 s', 'P0']);

    expect((await send({ routing_key: key, event_action: 'acknowledge', dedup_key: dedupKey })).status).toBe(202);
    expect((await get(`/v1/incidents/${incident.id}`)).state).toBe('Triaged');
    expect((await send({ routing_key: key, event_action: 'resolve', dedup_key: dedupKey })).status).toBe(202);
    expect((await get(`/v1/incidents/${incident.id}`)).state).toBe('Resolved');
  });
});

describe('the ingest rate limit on every ingest route', () => {
  let store: TestStore;
  let running: RunningApp;
  beforeEach(async () => {
    store = await TestStore.create('sqlite');
    // A bucket of 3 alerts, refilled at 1 a second.
    running = await startApp(store, { overrides: { limits: { ingest_rate_per_sec: 1, ingest_burst: 3 } } });
  });
  afterEach(async () => {
    await running.close();
    await store.destroy();
  });

  it.each(['/v1/integrations/alertmanager', '/v1/integrations/grafana'])('counts each alert of a notification to %s, not each notification', async (path) => {
    const key = await keyWith(running, ['alerts:write']);
    const send = (instances: string[]) =>
      running.anon
        .post(path)
        .set('authorization', `Bearer ${key}`)
        .send(notification(instances.map((i) => amAlert(i, 'firing'))));
    // Two alerts leave one in the bucket of three; two more are one too many.
    expect((await send(['a', 'b'])).status).toBe(200);
    const refused = await send(['c', 'd']);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Nothing of the refused one was written: only the first notification's incident exists.
    expect((await running.http.get('/v1/incidents').expect(200)).body.total).toBe(1);
  });

  it('counts each event sent to /v2/enqueue, answering in PagerDuty’s shape', async () => {
    const key = await keyWith(running, ['alerts:write']);
    const event = (n: number) => ({
      routing_key: key,
      event_action: 'trigger',
      dedup_key: `rate-${n}`,
      payload: { summary: `s${n}`, source: 'h', severity: 'error' },
    });
    for (let n = 0; n < 3; n++) await running.anon.post('/v2/enqueue').send(event(n)).expect(202);
    const refused = await running.anon.post('/v2/enqueue').send(event(3)).expect(429);
    expect(refused.body).toMatchObject({ status: 'throttle event' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});
