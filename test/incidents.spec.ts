import { EventEmitter2 } from '@nestjs/event-emitter';
import { INCIDENT_CHANGE_IN_TRANSACTION } from '../src/incidents/incident-change.event';
import { IncidentEvent } from '../src/incidents/domain/events';
import { drivers, onChangeInTransaction, RunningApp, startApp, TestStore } from './support/harness';

const STATES = ['Detected', 'Triaged', 'Investigating', 'Remediating', 'Resolved', 'Closed'] as const;
type State = (typeof STATES)[number];

const LEGAL: Array<[State, State]> = [
  ['Detected', 'Triaged'],
  ['Detected', 'Investigating'],
  ['Detected', 'Remediating'],
  ['Detected', 'Resolved'],
  ['Triaged', 'Investigating'],
  ['Triaged', 'Remediating'],
  ['Triaged', 'Resolved'],
  ['Investigating', 'Remediating'],
  ['Investigating', 'Resolved'],
  ['Remediating', 'Resolved'],
  ['Resolved', 'Closed'],
  ['Resolved', 'Investigating'],
];
const ILLEGAL: Array<[State, State]> = STATES.flatMap((from) =>
  STATES.filter((to) => !LEGAL.some(([f, t]) => f === from && t === to)).map((to): [State, State] => [from, to]),
);

/** The shortest legal path from Detected to each state. */
const PATH: Record<State, State[]> = {
  Detected: [],
  Triaged: ['Triaged'],
  Investigating: ['Investigating'],
  Remediating: ['Remediating'],
  Resolved: ['Resolved'],
  Closed: ['Resolved', 'Closed'],
};

const RESOLUTION = { resolved_by: 'alice', method: 'Manual', notes: 'restarted the pods', root_cause: 'memory leak' };

const NEW_INCIDENT = {
  title: 'API Gateway Down',
  description: 'All requests returning 503 errors',
  severity: 'P0',
  incident_type: 'Availability',
  source: 'llm-sentinel',
  affected_resources: ['api-gateway'],
  assignees: ['alice'],
  labels: { team: 'edge' },
};

describe.each(drivers())('incidents on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  let events: IncidentEvent[];
  let counter = 0;

  beforeEach(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store);
    events = [];
    // The incident events, as emitted after commit (not the in-transaction change the outbox listens to).
    running.app.get(EventEmitter2).onAny((name: string | string[], event: IncidentEvent) => {
      if (name !== INCIDENT_CHANGE_IN_TRANSACTION) events.push(event);
    });
  });
  afterEach(async () => {
    await running.close();
    await store.destroy();
  });

  async function create(overrides: Record<string, unknown> = {}): Promise<{ id: string; [k: string]: unknown }> {
    counter += 1;
    const res = await running.http
      .post('/v1/incidents')
      .send({ ...NEW_INCIDENT, title: `Incident ${counter}`, ...overrides })
      .expect(201);
    return res.body;
  }

  async function moveTo(id: string, state: State): Promise<void> {
    for (const step of PATH[state]) {
      await running.http
        .post(`/v1/incidents/${id}/transition`)
        .send({ state: step, actor: 'setup', ...(step === 'Resolved' ? { resolution: RESOLUTION } : {}) })
        .expect(200);
    }
  }

  it('creates an incident in Detected with an incident.detected event', async () => {
    const incident = await create();
    expect(incident).toMatchObject({ ...NEW_INCIDENT, title: expect.any(String), state: 'Detected', alert_count: 1, resolution: null, resolved_at: null });
    expect(events.map((e) => e.name)).toEqual(['incident.detected']);
    expect(events[0].incident).toEqual(incident);
    const detail = (await running.http.get(`/v1/incidents/${incident.id}`).expect(200)).body;
    expect(detail.timeline).toHaveLength(1);
    expect(detail.notes).toEqual([]);
  });

  it('answers 409 with the existing id for a create whose fingerprint matches an open incident', async () => {
    const first = await create({ title: 'same' });
    const res = await running.http
      .post('/v1/incidents')
      .send({ ...NEW_INCIDENT, title: 'same' })
      .expect(409);
    expect(res.body.error).toMatchObject({ code: 'DUPLICATE_INCIDENT', status: 409, details: { existing_incident_id: first.id } });
    expect(events).toHaveLength(1);
  });

  it.each(LEGAL)('allows %s -> %s, with a timeline entry and exactly one event', async (from, to) => {
    const { id } = await create();
    await moveTo(id, from);
    events.length = 0;
    const body = { state: to, actor: 'bob', note: 'why not', ...(to === 'Resolved' ? { resolution: RESOLUTION } : {}) };
    const res = await running.http.post(`/v1/incidents/${id}/transition`).send(body).expect(200);
    expect(res.body.state).toBe(to);
    expect(events.map((e) => e.name)).toEqual([`incident.${to.toLowerCase()}`]);
    expect(events[0].incident).toEqual(res.body);
    expect(events[0]).toMatchObject({ previous_state: from, actor: 'bob' });
    const timeline = (await running.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body;
    expect(
      timeline.find(
        (t: { event_type: string; metadata: { from?: string; to?: string } }) =>
          t.event_type === 'state_changed' && t.metadata.to === to && t.metadata.from === from,
      ),
    ).toMatchObject({
      actor: 'bob',
      metadata: { from, to, note: 'why not' },
    });
  });

  it.each(ILLEGAL)('refuses %s -> %s with 409 INVALID_TRANSITION and changes nothing', async (from, to) => {
    const { id } = await create();
    await moveTo(id, from);
    const before = (await running.http.get(`/v1/incidents/${id}`)).body;
    events.length = 0;
    const body = { state: to, actor: 'bob', ...(to === 'Resolved' ? { resolution: RESOLUTION } : {}) };
    const res = await running.http.post(`/v1/incidents/${id}/transition`).send(body).expect(409);
    expect(res.body.error.code).toBe(from === 'Resolved' && to === 'Resolved' ? 'ALREADY_RESOLVED' : 'INVALID_TRANSITION');
    expect(res.body.error.details).toEqual({ from, to });
    if (res.body.error.code === 'INVALID_TRANSITION') expect(res.body.error.message).toContain(`from ${from} to ${to}`);
    expect((await running.http.get(`/v1/incidents/${id}`)).body).toEqual(before);
    expect(events).toEqual([]);
  });

  it('needs resolution details to move to Resolved, after checking that the move is legal', async () => {
    const { id } = await create();
    const res = await running.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Resolved', actor: 'bob' }).expect(400);
    expect(res.body.error.details.fields[0].field).toBe('resolution');
    await running.http.post(`/v1/incidents/${id}/resolve`).send(RESOLUTION).expect(200);
    const again = await running.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Resolved', actor: 'bob' }).expect(409);
    expect(again.body.error.code).toBe('ALREADY_RESOLVED');
    await running.http.post('/v1/incidents/00000000-0000-4000-8000-000000000000/transition').send({ state: 'Resolved', actor: 'bob' }).expect(404);
  });

  it('resolves with details, refuses to resolve twice, closes, and refuses to reopen a closed incident', async () => {
    const { id } = await create();
    const resolved = (await running.http.post(`/v1/incidents/${id}/resolve`).send(RESOLUTION).expect(200)).body;
    expect(resolved).toMatchObject({ state: 'Resolved', resolution: RESOLUTION, resolved_at: expect.any(String) });
    const twice = await running.http.post(`/v1/incidents/${id}/resolve`).send(RESOLUTION).expect(409);
    expect(twice.body.error.code).toBe('ALREADY_RESOLVED');
    const closed = (await running.http.post(`/v1/incidents/${id}/close`).send({ actor: 'carol' }).expect(200)).body;
    expect(closed.state).toBe('Closed');
    expect(closed.resolution).toEqual(RESOLUTION);
    expect((await running.http.post(`/v1/incidents/${id}/resolve`).send(RESOLUTION).expect(409)).body.error.code).toBe('INVALID_TRANSITION');
    expect((await running.http.post(`/v1/incidents/${id}/close`).expect(409)).body.error.code).toBe('INVALID_TRANSITION');
    expect(events.map((e) => e.name)).toEqual(['incident.detected', 'incident.resolved', 'incident.closed']);
  });

  it('reopens a resolved incident into Investigating, clearing the resolution, and takes alerts again', async () => {
    const { id } = await create();
    await running.http.post(`/v1/incidents/${id}/resolve`).send(RESOLUTION).expect(200);
    const reopened = (await running.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Investigating', actor: 'bob' }).expect(200)).body;
    expect(reopened).toMatchObject({ state: 'Investigating', resolution: null, resolved_at: null });
    // The reopened incident is open again: the same create is a duplicate of it.
    const dup = await running.http
      .post('/v1/incidents')
      .send({ ...NEW_INCIDENT, title: reopened.title })
      .expect(409);
    expect(dup.body.error.details.existing_incident_id).toBe(id);
  });

  it('updates fields with one timeline entry per field and one incident.updated', async () => {
    const { id } = await create();
    events.length = 0;
    const patch = { severity: 'P1', assignees: ['bob', 'carol'], labels: { team: 'core' }, title: 'Renamed', actor: 'dave' };
    const updated = (await running.http.patch(`/v1/incidents/${id}`).send(patch).expect(200)).body;
    expect(updated).toMatchObject({ severity: 'P1', assignees: ['bob', 'carol'], labels: { team: 'core' }, title: 'Renamed', state: 'Detected' });
    expect(events.map((e) => e.name)).toEqual(['incident.updated']);
    expect(Object.keys((events[0] as unknown as { changes: object }).changes).sort()).toEqual(['assignees', 'labels', 'severity', 'title']);
    const timeline = (await running.http.get(`/v1/incidents/${id}/timeline`)).body;
    expect(
      timeline
        .slice(1)
        .map((t: { event_type: string }) => t.event_type)
        .sort(),
    ).toEqual(['assignees_changed', 'labels_changed', 'severity_changed', 'title_changed']);
    // A patch that changes nothing records nothing.
    events.length = 0;
    await running.http.patch(`/v1/incidents/${id}`).send({ severity: 'P1' }).expect(200);
    expect(events).toEqual([]);
  });

  it('adds notes, shown on the incident and in the timeline', async () => {
    const { id } = await create();
    events.length = 0;
    const note = (await running.http.post(`/v1/incidents/${id}/notes`).send({ author: 'erin', content: 'rolled back' }).expect(201)).body;
    expect(note).toMatchObject({ id: expect.any(String), author: 'erin', content: 'rolled back' });
    const detail = (await running.http.get(`/v1/incidents/${id}`)).body;
    expect(detail.notes).toEqual([note]);
    expect(detail.timeline.at(-1)).toMatchObject({ event_type: 'note_added', actor: 'erin', description: 'rolled back' });
    expect(events.map((e) => e.name)).toEqual(['incident.updated']);
  });

  it('emits nothing when the transaction does not commit', async () => {
    const { id } = await create();
    events.length = 0;
    onChangeInTransaction(running.app, async () => {
      throw new Error('outbox write failed');
    });
    await running.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Triaged', actor: 'bob' }).expect(500);
    expect(events).toEqual([]);
    expect((await running.http.get(`/v1/incidents/${id}`)).body.state).toBe('Detected');
    expect((await running.http.get(`/v1/incidents/${id}/timeline`)).body).toHaveLength(1);
  });

  it('emits only after commit: a listener reading from another connection sees the change', async () => {
    const { id } = await create();
    const seen: string[] = [];
    const emitter = running.app.get(EventEmitter2);
    const done = new Promise<void>((resolve) => {
      emitter.once('incident.triaged', (event: IncidentEvent) => {
        // A fresh request goes through the pool: it only sees committed rows.
        void running.http.get(`/v1/incidents/${event.incident.id}`).then((res) => {
          seen.push(res.body.state);
          resolve();
        });
      });
    });
    await running.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Triaged', actor: 'bob' }).expect(200);
    await done;
    expect(seen).toEqual(['Triaged']);
  });

  it('answers 404 INCIDENT_NOT_FOUND for an unknown id on every route', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const calls = [
      running.http.get(`/v1/incidents/${id}`),
      running.http.patch(`/v1/incidents/${id}`).send({ title: 'x' }),
      running.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Triaged', actor: 'a' }),
      running.http.post(`/v1/incidents/${id}/resolve`).send(RESOLUTION),
      running.http.post(`/v1/incidents/${id}/close`),
      running.http.post(`/v1/incidents/${id}/notes`).send({ author: 'a', content: 'b' }),
      running.http.get(`/v1/incidents/${id}/timeline`),
      running.http.get(`/v1/incidents/${id}/alerts`),
    ];
    for (const res of await Promise.all(calls)) {
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'INCIDENT_NOT_FOUND', status: 404, details: { id } });
    }
  });

  describe('listing', () => {
    beforeEach(async () => {
      // 7 incidents: severities and types vary; two resolved, one closed.
      const specs = [
        { severity: 'P0', incident_type: 'Availability', source: 'a' },
        { severity: 'P1', incident_type: 'Security', source: 'b' },
        { severity: 'P2', incident_type: 'Availability', source: 'a' },
        { severity: 'P3', incident_type: 'Data', source: 'c' },
        { severity: 'P0', incident_type: 'Data', source: 'b' },
        { severity: 'P4', incident_type: 'Performance', source: 'a' },
        { severity: 'P1', incident_type: 'Availability', source: 'c' },
      ];
      for (const spec of specs) {
        await create(spec);
        await new Promise((r) => setTimeout(r, 2)); // distinct created_at
      }
      const all = (await running.http.get('/v1/incidents?page_size=100')).body.items;
      await moveTo(all[0].id, 'Resolved');
      await moveTo(all[1].id, 'Closed');
      await moveTo(all[2].id, 'Investigating');
    });

    it('lists newest first with the total', async () => {
      const res = (await running.http.get('/v1/incidents').expect(200)).body;
      expect(res.total).toBe(7);
      expect(res.items.map((i: { title: string }) => i.title)).toEqual(
        [...res.items]
          .sort((a: { created_at: string }, b: { created_at: string }) => b.created_at.localeCompare(a.created_at))
          .map((i: { title: string }) => i.title),
      );
    });

    it.each([
      ['severity=P0', 2],
      ['severity=P0&severity=P1', 4],
      ['incident_type=Availability', 3],
      ['incident_type=Availability&incident_type=Data', 5],
      ['source=a', 3],
      ['source=a&source=b', 5],
      ['state=Resolved', 1],
      ['state=Resolved&state=Closed', 2],
      ['active_only=true', 5],
      ['active_only=false', 7],
      ['active_only=true&severity=P1', 1],
      ['state=Investigating&incident_type=Data', 1],
      ['state=Investigating&incident_type=Security', 0],
    ])('filters by %s', async (query, expected) => {
      const res = (await running.http.get(`/v1/incidents?${query}`).expect(200)).body;
      expect(res.total).toBe(expected);
      expect(res.items).toHaveLength(expected);
    });

    it('pages without gaps or repeats', async () => {
      const pages = [];
      for (let page = 1; page <= 3; page++) {
        const res = (await running.http.get(`/v1/incidents?page=${page}&page_size=3`).expect(200)).body;
        expect(res).toMatchObject({ total: 7, page, page_size: 3 });
        pages.push(...res.items.map((i: { id: string }) => i.id));
      }
      expect(pages).toHaveLength(7);
      expect(new Set(pages).size).toBe(7);
      expect((await running.http.get('/v1/incidents?page=4&page_size=3')).body.items).toEqual([]);
    });
  });
});
