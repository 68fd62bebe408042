import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import type { Database, IncidentRow } from '../src/database/schema';
import { DATABASE } from '../src/database/tokens';
import { drivers, ManualClock, RunningApp, startApp, TestStore } from './support/harness';

/** GET /v1/reports/response: response times from the timeline and on-call load, on a clock the test moves. */
describe.each(drivers())('response report on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  const clock = new ManualClock(); // 2026-01-15T14:32:00Z
  const t0 = clock.now().getTime();
  /** The moment `seconds` after the start, as the query takes it. */
  const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
  /** Moves the clock to `seconds` after the start. */
  const moveTo = (seconds: number) => clock.advance(seconds - (clock.now().getTime() - t0) / 1000);

  beforeAll(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store, { clock });
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
  });

  const create = async (title: string, severity: string, labels: Record<string, string> = {}): Promise<string> => {
    const res = await running.http
      .post('/v1/incidents')
      .send({ title, description: `${title} (report test)`, severity, incident_type: 'Application', source: 'manual', labels })
      .expect(201);
    return res.body.id as string;
  };
  const acknowledge = (id: string) => running.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'alice' }).expect(200);
  const resolve = (id: string) => running.http.post(`/v1/incidents/${id}/resolve`).send({ resolved_by: 'alice', method: 'Manual', notes: 'fixed' }).expect(200);
  const transition = (id: string, state: string) => running.http.post(`/v1/incidents/${id}/transition`).send({ state, actor: 'bob' }).expect(200);

  /** A timeline entry as the escalation writes it, stamped now: the test does not depend on the notification plumbing. */
  const record = async (incidentId: string, event_type: string, metadata: Record<string, unknown>) => {
    const db = running.app.get<Kysely<Database>>(DATABASE);
    await db
      .insertInto('incident_timeline')
      .values({
        incident_id: incidentId,
        timestamp: clock.now().toISOString(),
        event_type,
        actor: 'system',
        description: event_type,
        metadata: JSON.stringify(metadata),
        api_key_name: null,
      })
      .execute();
  };
  const notified = (incidentId: string, user: string, methods: string[]) =>
    record(incidentId, 'person_notified', { user_id: `u-${user}`, user_name: user, methods, target: 'schedule:primary', route: 'default', deliveries: [] });

  const report = async (query: string) => (await running.http.get(`/v1/reports/response${query}`).expect(200)).body;
  const none = { mean: null, p90: null };

  beforeAll(async () => {
    // Seconds after the start:     created  acknowledged     resolved
    //   A  P1 payments                  0        60              600
    //   B  P1 payments                100       220 (120)      1300 (1200); reopened 1400, resolved again 1500
    //   C  P2 search                  300       600 (300)          -       (taken on by a move to Investigating)
    //   D  P3 no team                 700         -            1600 (900)  (resolved from Detected: never acknowledged)
    //   F  P0 payments               2000         -                -       (after the ranges below but the default one)
    const a = await create('Checkout errors', 'P1', { team: 'payments' });
    await notified(a, 'Ana', ['slack', 'email']);
    moveTo(60);
    await acknowledge(a);
    moveTo(100);
    const b = await create('Refunds failing', 'P1', { team: 'payments' });
    await notified(b, 'Ana', ['slack']);
    await record(b, 'person_notification_suppressed', { user_id: 'u-Bob', user_name: 'Bob', methods: ['email'], target: 'schedule:primary' });
    moveTo(220);
    await acknowledge(b);
    moveTo(300);
    const c = await create('Search slow', 'P2', { team: 'search' });
    await notified(c, 'Bob', ['email']);
    await record(c, 'nobody_reached', { target: 'schedule:search', route: 'search', reason: 'nobody is on call' });
    moveTo(450);
    await notified(c, 'Carl', ['email']);
    moveTo(600);
    await transition(c, 'Investigating');
    await resolve(a);
    moveTo(700);
    const d = await create('Disk filling', 'P3');
    await record(d, 'nobody_reached', { target: 'schedule:search', route: 'search', reason: 'nobody is on call' });
    await record(d, 'nobody_reached', { target: 'team:db', route: 'db', reason: 'team db has no active members' });
    moveTo(1300);
    await resolve(b);
    moveTo(1400);
    await transition(b, 'Investigating');
    moveTo(1500);
    await resolve(b);
    moveTo(1600);
    await resolve(d);
    moveTo(2000);
    const f = await create('Payments down', 'P0', { team: 'payments' });
    await notified(f, 'Ana', ['slack']);
    moveTo(2100);
  });

  it('counts incidents created in [from, to), their times to acknowledge and resolve overall, by severity and by team, and notifications per person', async () => {
    const body = await report(`?from=${at(0)}&to=${at(1900)}`);
    expect(body).toEqual({
      from: at(0),
      to: at(1900),
      team: null,
      incidents: { total: 4, acknowledged: 3, unacknowledged: 1, resolved: 3, unresolved: 1 },
      // 60, 120, 300
      time_to_acknowledge_secs: { mean: 160, p90: 300 },
      // 600, 900, 1200: B's first resolution, not its second
      time_to_resolve_secs: { mean: 900, p90: 1200 },
      by_severity: [
        { severity: 'P0', incidents: 0, acknowledged: 0, resolved: 0, time_to_acknowledge_secs: none, time_to_resolve_secs: none },
        {
          severity: 'P1',
          incidents: 2,
          acknowledged: 2,
          resolved: 2,
          time_to_acknowledge_secs: { mean: 90, p90: 120 },
          time_to_resolve_secs: { mean: 900, p90: 1200 },
        },
        { severity: 'P2', incidents: 1, acknowledged: 1, resolved: 0, time_to_acknowledge_secs: { mean: 300, p90: 300 }, time_to_resolve_secs: none },
        { severity: 'P3', incidents: 1, acknowledged: 0, resolved: 1, time_to_acknowledge_secs: none, time_to_resolve_secs: { mean: 900, p90: 900 } },
        { severity: 'P4', incidents: 0, acknowledged: 0, resolved: 0, time_to_acknowledge_secs: none, time_to_resolve_secs: none },
      ],
      by_team: [
        {
          team: 'payments',
          incidents: 2,
          acknowledged: 2,
          resolved: 2,
          time_to_acknowledge_secs: { mean: 90, p90: 120 },
          time_to_resolve_secs: { mean: 900, p90: 1200 },
        },
        { team: '(none)', incidents: 1, acknowledged: 0, resolved: 1, time_to_acknowledge_secs: none, time_to_resolve_secs: { mean: 900, p90: 900 } },
        { team: 'search', incidents: 1, acknowledged: 1, resolved: 0, time_to_acknowledge_secs: { mean: 300, p90: 300 }, time_to_resolve_secs: none },
      ],
      // Bob's suppressed notification is not counted; F's (at 2000) is after the range.
      notifications_by_person: [
        { user_id: 'u-Ana', user_name: 'Ana', notifications: 2, by_method: { slack: 2, email: 1 } },
        { user_id: 'u-Bob', user_name: 'Bob', notifications: 1, by_method: { email: 1 } },
        { user_id: 'u-Carl', user_name: 'Carl', notifications: 1, by_method: { email: 1 } },
      ],
      nobody_reached: [
        { target: 'schedule:search', times: 2 },
        { target: 'team:db', times: 1 },
      ],
    });
  });

  it('takes from inclusive and to exclusive, and counts notifications by their own time, whichever incident they are about', async () => {
    const body = await report(`?from=${at(100)}&to=${at(700)}`);
    // B (created at from) and C; D, created at to, is not in.
    expect(body.incidents).toEqual({ total: 2, acknowledged: 2, unacknowledged: 0, resolved: 1, unresolved: 1 });
    expect(body.time_to_acknowledge_secs).toEqual({ mean: 210, p90: 300 });
    expect(body.time_to_resolve_secs).toEqual({ mean: 1200, p90: 1200 });
    expect(body.notifications_by_person).toEqual([
      { user_id: 'u-Ana', user_name: 'Ana', notifications: 1, by_method: { slack: 1 } },
      { user_id: 'u-Bob', user_name: 'Bob', notifications: 1, by_method: { email: 1 } },
      { user_id: 'u-Carl', user_name: 'Carl', notifications: 1, by_method: { email: 1 } },
    ]);
    expect(body.nobody_reached).toEqual([{ target: 'schedule:search', times: 1 }]);

    // Carl was notified at 450 about C, created before this range.
    const later = await report(`?from=${at(400)}&to=${at(1900)}`);
    expect(later.incidents).toEqual({ total: 1, acknowledged: 0, unacknowledged: 1, resolved: 1, unresolved: 0 });
    expect(later.time_to_acknowledge_secs).toEqual(none);
    expect(later.time_to_resolve_secs).toEqual({ mean: 900, p90: 900 });
    expect(later.notifications_by_person).toEqual([{ user_id: 'u-Carl', user_name: 'Carl', notifications: 1, by_method: { email: 1 } }]);
    expect(later.nobody_reached).toEqual([
      { target: 'schedule:search', times: 1 },
      { target: 'team:db', times: 1 },
    ]);

    // Nothing in range: zeros and nulls.
    const empty = await report(`?from=${at(-7200)}&to=${at(-3600)}`);
    expect(empty).toMatchObject({ incidents: { total: 0, acknowledged: 0, unacknowledged: 0, resolved: 0, unresolved: 0 }, time_to_acknowledge_secs: none });
    expect(empty).toMatchObject({ by_team: [], notifications_by_person: [], nobody_reached: [] });
  });

  it('keeps one team by its label, with its notifications only; (none) is the incidents without one', async () => {
    const payments = await report(`?from=${at(0)}&to=${at(1900)}&team=payments`);
    expect(payments).toMatchObject({
      team: 'payments',
      incidents: { total: 2, acknowledged: 2, unacknowledged: 0, resolved: 2, unresolved: 0 },
      time_to_acknowledge_secs: { mean: 90, p90: 120 },
      time_to_resolve_secs: { mean: 900, p90: 1200 },
      by_team: [{ team: 'payments', incidents: 2 }],
      notifications_by_person: [{ user_id: 'u-Ana', user_name: 'Ana', notifications: 2, by_method: { slack: 2, email: 1 } }],
      nobody_reached: [],
    });
    const noTeam = await report(`?from=${at(0)}&to=${at(1900)}&team=(none)`);
    expect(noTeam).toMatchObject({
      incidents: { total: 1, unacknowledged: 1, resolved: 1 },
      by_team: [{ team: '(none)', incidents: 1 }],
      notifications_by_person: [],
      nobody_reached: [
        { target: 'schedule:search', times: 1 },
        { target: 'team:db', times: 1 },
      ],
    });
  });

  it('covers the 7 days up to now by default', async () => {
    const body = await report('');
    expect(body.to).toBe(clock.now().toISOString());
    expect(body.from).toBe(new Date(clock.now().getTime() - 7 * 86_400_000).toISOString());
    expect(body.incidents.total).toBe(5);
    expect(body.by_severity[0]).toMatchObject({ severity: 'P0', incidents: 1, acknowledged: 0, resolved: 0 });
    expect(body.notifications_by_person[0]).toMatchObject({ user_id: 'u-Ana', notifications: 3, by_method: { slack: 3, email: 1 } });
    // `to` alone: the 7 days before it.
    const before = await report(`?to=${at(1900)}`);
    expect(before).toMatchObject({ from: new Date(t0 + 1900_000 - 7 * 86_400_000).toISOString(), incidents: { total: 4 } });
  });

  it('reads 2,500 incidents created at one instant in pages, and 15,000 timeline entries in chunks, and misses none', async () => {
    // A day after the rest, beyond every other test's range; inserted directly, in timestamp order as the service appends them.
    const base = t0 + 86_400_000;
    const iso = (ms: number) => new Date(base + ms).toISOString();
    const db = running.app.get<Kysely<Database>>(DATABASE);
    const incidents: Insertable<IncidentRow>[] = [];
    const entries: { incident_id: string; ms: number; event_type: string; metadata: object }[] = [];
    for (let i = 0; i < 2500; i++) {
      const id = randomUUID();
      const acked = (i + 1) * 1000;
      const resolved = (i + 1) * 10_000;
      incidents.push({
        id,
        title: `bulk ${i}`,
        description: '',
        severity: 'P2',
        state: 'Resolved',
        incident_type: 'Application',
        source: 'manual',
        created_at: iso(0),
        updated_at: iso(resolved),
        resolved_at: iso(resolved),
        affected_resources: '[]',
        assignees: '[]',
        labels: JSON.stringify({ team: 'bulk' }),
        fingerprint: `bulk-${i}`,
        open_fingerprint: null,
        alert_count: 1,
        last_seen_at: iso(0),
        resolution: null,
        acknowledged_at: iso(acked),
        acknowledged_by: 'alice',
        runbook_url: null,
      });
      entries.push(
        { incident_id: id, ms: 0, event_type: 'created', metadata: { severity: 'P2' } },
        { incident_id: id, ms: 0, event_type: 'person_notified', metadata: { user_id: 'u-Bulk', user_name: 'Bulk', methods: ['slack'] } },
        { incident_id: id, ms: acked, event_type: 'acknowledged', metadata: {} },
        { incident_id: id, ms: acked, event_type: 'state_changed', metadata: { from: 'Detected', to: 'Triaged' } },
        { incident_id: id, ms: resolved, event_type: 'state_changed', metadata: { from: 'Triaged', to: 'Resolved' } },
        { incident_id: id, ms: resolved, event_type: 'resolved', metadata: { method: 'Manual' } },
      );
    }
    entries.sort((a, b) => a.ms - b.ms);
    for (let i = 0; i < incidents.length; i += 500)
      await db
        .insertInto('incidents')
        .values(incidents.slice(i, i + 500))
        .execute();
    for (let i = 0; i < entries.length; i += 1000) {
      const rows = entries.slice(i, i + 1000).map((e) => ({
        incident_id: e.incident_id,
        timestamp: iso(e.ms),
        event_type: e.event_type,
        actor: 'system',
        description: e.event_type,
        metadata: JSON.stringify(e.metadata),
        api_key_name: null,
      }));
      await db.insertInto('incident_timeline').values(rows).execute();
    }

    const body = await report(`?from=${iso(0)}&to=${iso(1000)}`);
    // Acknowledged after 1 … 2,500 s and resolved after 10 … 25,000 s: nearest rank 2,250 of 2,500.
    expect(body).toMatchObject({
      incidents: { total: 2500, acknowledged: 2500, unacknowledged: 0, resolved: 2500, unresolved: 0 },
      time_to_acknowledge_secs: { mean: 1250.5, p90: 2250 },
      time_to_resolve_secs: { mean: 12505, p90: 22500 },
      by_team: [{ team: 'bulk', incidents: 2500 }],
      notifications_by_person: [{ user_id: 'u-Bulk', notifications: 2500, by_method: { slack: 2500 } }],
    });
  });

  it('answers 400 naming the field for a bad from, a to before from, a range over 366 days or an unknown parameter; 401 without a key', async () => {
    const fields = async (query: string) => {
      const res = await running.http.get(`/v1/reports/response${query}`).expect(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      return (res.body.error.details.fields as { field: string }[]).map((f) => f.field);
    };
    expect(await fields('?from=yesterday')).toEqual(['from']);
    expect(await fields('?from=2026-02-30T00:00:00Z')).toEqual(['from']);
    expect(await fields(`?from=${at(100)}&to=${at(0)}`)).toEqual(['to']);
    expect(await fields(`?from=${at(100)}&to=${at(100)}`)).toEqual(['to']);
    expect(await fields(`?from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:01Z`)).toEqual(['from']);
    expect(await fields('?from=2024-01-01T00:00:00Z')).toEqual(['from']);
    expect(await fields('?team=')).toEqual(['team']);
    expect(await fields('?severity=P1')).toEqual(['severity']);
    // 366 days exactly is allowed (2024 is a leap year).
    await running.http.get('/v1/reports/response?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z').expect(200);

    const anon = await running.anon.get('/v1/reports/response');
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('UNAUTHENTICATED');
  });
});
