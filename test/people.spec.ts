import ICAL from 'ical.js';
import { authedHttp, drivers, ManualClock, RunningApp, startApp, TestStore } from './support/harness';

/** Users, teams, schedules, overrides, on-call answers and calendar feeds through the REST API. */
describe.each(drivers())('people and schedules on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  const clock = new ManualClock(); // 2026-01-15T14:32Z, a Thursday

  beforeAll(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store, {
      clock,
      overrides: {
        auth: { key_cache_secs: 0 },
        server: { public_url: 'https://im.example.com' },
        escalation_policies: [{ name: 'payments', steps: [{ after: '5m', receiver: 'default' }] }],
      } as never,
    });
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
  });

  const user = async (name: string, extra: Record<string, unknown> = {}) => {
    const res = await running.http
      .post('/v1/users')
      .send({ name, email: `${name.toLowerCase()}@example.com`, time_zone: 'Europe/Berlin', ...extra })
      .expect(201);
    return res.body as { id: string; name: string };
  };

  it('creates, lists, changes and deactivates users, with clear errors naming the field', async () => {
    const ana = await user('Ana', {
      slack_user_id: 'U024BE7LH',
      phone: '+4915123456789',
      ntfy_topic: 'oncall-ana-7f3k2x',
      notification_rules: [
        { after: '5m', methods: ['email'] },
        { after: '0s', methods: ['slack', 'email'] },
      ],
    });
    const got = await running.http.get(`/v1/users/${ana.id}`).expect(200);
    expect(got.body).toMatchObject({
      name: 'Ana',
      email: 'ana@example.com',
      contact_methods: [
        { type: 'slack', address: 'U024BE7LH' },
        { type: 'email', address: 'ana@example.com' },
        // A phone gives texts and calls; a topic gives push.
        { type: 'sms', address: '+4915123456789' },
        { type: 'voice', address: '+4915123456789' },
        // The topic is shown cut: on an open ntfy server, knowing it is reading it.
        { type: 'push', address: 'onca…' },
      ],
      ntfy_topic: 'onca…',
      // Sorted by when they fire.
      notification_rules: [
        { after: '0s', methods: ['slack', 'email'] },
        { after: '5m', methods: ['email'] },
      ],
      active: true,
    });
    const bad = await running.http
      .post('/v1/users')
      .send({ name: 'X', email: 'x@example.com', time_zone: 'Mars/Olympus', phone: '0151 234', notification_rules: [{ after: 'soon', methods: ['pigeon'] }] });
    expect(bad.status).toBe(400);
    const fields = (bad.body.error.details.fields as { field: string }[]).map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['phone', 'notification_rules[0].methods']));
    const zone = await running.http.post('/v1/users').send({ name: 'X', email: 'x@example.com', time_zone: 'Mars/Olympus' });
    expect(zone.status).toBe(400);
    expect(zone.body.error.details.fields).toEqual([{ field: 'time_zone', message: '"Mars/Olympus" is not an IANA time zone' }]);
    const dup = await running.http.post('/v1/users').send({ name: 'Ana 2', email: 'ANA@example.com', time_zone: 'UTC' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('NAME_TAKEN');

    const changed = await running.http.patch(`/v1/users/${ana.id}`).send({ phone: null, name: 'Ana Lima' }).expect(200);
    expect(changed.body).toMatchObject({ name: 'Ana Lima', phone: null, slack_user_id: 'U024BE7LH' });
    expect((await running.http.patch(`/v1/users/${ana.id}`).send({ name: null })).status).toBe(400);

    const gone = await user('Gone');
    await running.http.post(`/v1/users/${gone.id}/deactivate`).expect(200);
    const listed = await running.http.get('/v1/users').expect(200);
    expect(listed.body.map((u: { name: string }) => u.name)).not.toContain('Gone');
    const all = await running.http.get('/v1/users?include_inactive=true').expect(200);
    expect(all.body.find((u: { name: string }) => u.name === 'Gone')).toMatchObject({ active: false });
  });

  it('needs people:write to change people, incidents:read to see them', async () => {
    const reader = await running.http
      .post('/v1/api-keys')
      .send({ name: 'reader', scopes: ['incidents:read'] })
      .expect(201);
    const asReader = authedHttp(running.app.getHttpServer(), reader.body.key);
    await asReader.get('/v1/users').expect(200);
    await asReader.get('/v1/on-call').expect(200);
    const denied = await asReader.post('/v1/users').send({ name: 'Y', email: 'y@example.com', time_zone: 'UTC' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('people:write');
    await running.anon.get('/v1/users').expect(401);
  });

  it('teams: members in order, a default escalation policy that must exist', async () => {
    const a = await user('Teamone');
    const b = await user('Teamtwo');
    const team = await running.http
      .post('/v1/teams')
      .send({ name: 'payments', member_ids: [b.id, a.id], escalation_policy: 'payments' })
      .expect(201);
    expect(team.body).toMatchObject({ name: 'payments', member_ids: [b.id, a.id], escalation_policy: 'payments', notify: 'policy' });
    const bad = await running.http.post('/v1/teams').send({ name: 'search', escalation_policy: 'nope', member_ids: ['00000000-0000-4000-8000-000000000000'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['escalation_policy', 'member_ids[0]']);
    const changed = await running.http
      .patch(`/v1/teams/${team.body.id}`)
      .send({ member_ids: [a.id], notify: 'members' })
      .expect(200);
    expect(changed.body).toMatchObject({ member_ids: [a.id], notify: 'members' });
    expect((await running.http.post('/v1/teams').send({ name: 'payments' })).status).toBe(409);
    const nullNotify = await running.http.patch(`/v1/teams/${team.body.id}`).send({ notify: null });
    expect(nullNotify.status).toBe(400);
    expect(nullNotify.body.error.details.fields[0].field).toBe('notify');
  });

  it('a schedule: on call now, the final shifts with an override and a gap, every schedule at once', async () => {
    const ana = await user('Sana');
    const ben = await user('Sben');
    const cy = await user('Scy');
    const schedule = await running.http
      .post('/v1/schedules')
      .send({
        name: 'payments-primary',
        time_zone: 'Europe/Berlin',
        layers: [
          { name: 'weekly', members: [ana.id, ben.id], rotation: 'weekly', handoff_time: '09:00', start_date: '2026-01-12' },
          {
            name: 'office',
            members: [cy.id],
            rotation: 'weekly',
            handoff_time: '00:00',
            start_date: '2026-01-12',
            restrictions: [{ days: ['thu'], start: '15:00', end: '16:00' }],
          },
        ],
      })
      .expect(201);
    const id = schedule.body.id as string;
    // 14:32Z is 15:32 in Berlin (CET) on Thursday: the office layer covers it.
    const now = await running.http.get(`/v1/schedules/${id}/on-call`).expect(200);
    expect(now.body.shift).toMatchObject({ user: { name: 'Scy' }, source: 'office', start: '2026-01-15T14:00:00.000Z', end: '2026-01-15T15:00:00.000Z' });
    const later = await running.http.get(`/v1/schedules/${id}/on-call?at=2026-01-19T09:00:00Z`).expect(200);
    expect(later.body.shift).toMatchObject({ user: { name: 'Sben' }, source: 'weekly', start: '2026-01-19T08:00:00.000Z' });

    const override = await running.http
      .post(`/v1/schedules/${id}/overrides`)
      .send({ user_id: ben.id, starts_at: '2026-01-16T00:00:00Z', ends_at: '2026-01-16T06:00:00Z' })
      .expect(201);
    expect(override.body.created_by).toBe('bootstrap');
    const shifts = await running.http.get(`/v1/schedules/${id}/shifts?from=2026-01-12T00:00:00Z&to=2026-01-17T00:00:00Z`).expect(200);
    expect(shifts.body.shifts.map((s: any) => [s.start, s.end, s.user.name, s.source])).toEqual([
      ['2026-01-12T08:00:00.000Z', '2026-01-15T14:00:00.000Z', 'Sana', 'weekly'],
      ['2026-01-15T14:00:00.000Z', '2026-01-15T15:00:00.000Z', 'Scy', 'office'],
      ['2026-01-15T15:00:00.000Z', '2026-01-16T00:00:00.000Z', 'Sana', 'weekly'],
      ['2026-01-16T00:00:00.000Z', '2026-01-16T06:00:00.000Z', 'Sben', 'override'],
      ['2026-01-16T06:00:00.000Z', '2026-01-17T00:00:00.000Z', 'Sana', 'weekly'],
    ]);
    // Before the first hand-off nobody is on call: a gap, reported.
    expect(shifts.body.gaps).toEqual([
      { start: '2026-01-12T00:00:00.000Z', end: '2026-01-12T08:00:00.000Z', reason: 'no layer or override covers this time', inactive_user: null },
    ]);

    const everywhere = await running.http.get('/v1/on-call').expect(200);
    expect(everywhere.body.find((s: any) => s.schedule_id === id).shift.user.name).toBe('Scy');

    // A deactivated user's time is a visible gap, never silently someone else's.
    await running.http.post(`/v1/users/${cy.id}/deactivate`).expect(200);
    const gap = await running.http.get(`/v1/schedules/${id}/on-call`).expect(200);
    expect(gap.body.shift).toBeNull();
    expect(gap.body.gap).toMatchObject({ reason: 'Scy is deactivated', inactive_user: { name: 'Scy' } });
    await running.http.post(`/v1/users/${cy.id}/reactivate`).expect(200);

    const badOverrides = await running.http.get(`/v1/schedules/${id}/overrides?from=yesterday`);
    expect(badOverrides.status).toBe(400);
    expect(badOverrides.body.error.details.fields[0].field).toBe('from');
    expect((await running.http.get(`/v1/schedules/${id}/overrides?from=2026-01-01T00:00:00Z&from=2026-01-02T00:00:00Z`)).status).toBe(400);
    const listed = await running.http.get(`/v1/schedules/${id}/overrides?from=2026-01-15T00:00:00Z&to=2026-01-17T00:00:00Z`).expect(200);
    expect(listed.body.map((o: { id: string }) => o.id)).toEqual([override.body.id]);
    const week = await running.http.get(`/v1/schedules/${id}/on-call?at=2026-W03`);
    expect(week.status).toBe(400);
    expect(week.body.error.details.fields[0].field).toBe('at');
    const nullZone = await running.http.patch(`/v1/schedules/${id}`).send({ time_zone: null });
    expect(nullZone.status).toBe(400);
    expect(nullZone.body.error.details.fields[0].field).toBe('time_zone');
    const impossible = await running.http
      .post('/v1/schedules')
      .send({ name: 'feb', time_zone: 'UTC', layers: [{ name: 'l', members: [ana.id], rotation: 'daily', handoff_time: '09:00', start_date: '2026-02-30' }] });
    expect(impossible.status).toBe(400);
    expect(impossible.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['layers[0].start_date']);
    const tooLong = await running.http.get(`/v1/schedules/${id}/shifts?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details.fields[0].field).toBe('to');
    const badLayer = await running.http.post('/v1/schedules').send({
      name: 'bad',
      time_zone: 'Europe/Berlin',
      layers: [{ name: 'l', members: [ana.id], rotation: '30m', handoff_time: '25:00', start_date: '2026-01-12' }],
    });
    expect(badLayer.status).toBe(400);
    expect(badLayer.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['layers[0].handoff_time']);
    const badRotation = await running.http.post('/v1/schedules').send({
      name: 'bad',
      time_zone: 'Europe/Berlin',
      layers: [{ name: 'l', members: [ana.id], rotation: '30m', handoff_time: '09:00', start_date: '2026-01-12' }],
    });
    expect(badRotation.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual(['layers[0].rotation']);
  });

  it('calendar feeds: an unguessable per-user link, valid iCalendar, stopped by a new link or deactivation', async () => {
    const dee = await user('Dee');
    const schedule = await running.http
      .post('/v1/schedules')
      .send({
        name: 'dee-daily',
        time_zone: 'UTC',
        layers: [{ name: 'only', members: [dee.id], rotation: 'daily', handoff_time: '08:00', start_date: '2026-01-01' }],
      })
      .expect(201);
    const link = await running.http.post(`/v1/users/${dee.id}/calendar-link`).expect(200);
    expect(link.body.url).toMatch(/^https:\/\/im\.example\.com\/v1\/calendars\/[A-Za-z0-9_-]{43}\/shifts\.ics$/);
    const path = new URL(link.body.url as string).pathname;
    const feed = await running.anon.get(path).expect(200);
    expect(feed.headers['content-type']).toBe('text/calendar; charset=utf-8');
    const calendar = new ICAL.Component(ICAL.parse(feed.text));
    const events = calendar.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    // One daily shift, joined: from two weeks back to eight weeks ahead of now.
    expect(events).toHaveLength(1);
    expect(events[0].summary).toBe('On call: dee-daily (Dee)');
    expect(events[0].startDate.toJSDate().toISOString()).toBe('2026-01-01T14:32:00.000Z');
    expect(events[0].endDate.toJSDate().toISOString()).toBe('2026-03-12T14:32:00.000Z');
    // An hour later the same shifts keep their UIDs (calendar applications match events by them).
    clock.advance(3600);
    const later = new ICAL.Component(ICAL.parse((await running.anon.get(path).expect(200)).text));
    expect(later.getAllSubcomponents('vevent').map((v) => v.getFirstPropertyValue('uid'))).toEqual(
      calendar.getAllSubcomponents('vevent').map((v) => v.getFirstPropertyValue('uid')),
    );
    const whole = await running.anon.get(path.replace('shifts.ics', `schedules/${schedule.body.id}.ics`)).expect(200);
    expect(new ICAL.Component(ICAL.parse(whole.text)).getAllSubcomponents('vevent')).toHaveLength(1);
    // Only the schedules the user is in: a link is not a key to everyone's rotations.
    const others = (await running.http.get('/v1/schedules').expect(200)).body.filter((s: { name: string }) => s.name !== 'dee-daily');
    expect(others.length).toBeGreaterThan(0);
    await running.anon.get(path.replace('shifts.ics', `schedules/${others[0].id}.ics`)).expect(404);

    await running.anon.get('/v1/calendars/' + 'A'.repeat(43) + '/shifts.ics').expect(404);
    const again = await running.http.post(`/v1/users/${dee.id}/calendar-link`).expect(200);
    await running.anon.get(path).expect(404);
    await running.http.post(`/v1/users/${dee.id}/deactivate`).expect(200);
    await running.anon.get(new URL(again.body.url as string).pathname).expect(404);
  });

  it('an API key may belong to a user: its changes are recorded as them, beside the key, and it stops with the user', async () => {
    const eve = await user('Eve');
    const created = await running.http
      .post('/v1/api-keys')
      .send({ name: 'eve-laptop', scopes: ['incidents:write', 'incidents:read'], user_id: eve.id })
      .expect(201);
    expect(created.body.user_id).toBe(eve.id);
    const asEve = authedHttp(running.app.getHttpServer(), created.body.key);
    const incident = await asEve
      .post('/v1/incidents')
      .send({ title: 'Checkout errors', description: 'HTTP 500s', severity: 'P2', incident_type: 'Application', source: 'manual' })
      .expect(201);
    await asEve.post(`/v1/incidents/${incident.body.id}/acknowledge`).send({ actor: 'mallory' }).expect(200);
    const silence = await asEve
      .post('/v1/silences')
      .send({ matchers: ['team="nobody"'], ends_at: '2026-02-01T00:00:00Z', comment: 'test', created_by: 'mallory' })
      .expect(201);
    expect(silence.body).toMatchObject({ created_by: 'Eve', api_key_name: 'eve-laptop' });
    const timeline = await asEve.get(`/v1/incidents/${incident.body.id}/timeline`).expect(200);
    const acknowledged = timeline.body.find((e: { event_type: string }) => e.event_type === 'acknowledged');
    expect(acknowledged).toMatchObject({ actor: 'Eve', api_key_name: 'eve-laptop' });
    // The console shows who is signed in by name.
    const session = await running.anon.post('/v1/session').send({ api_key: created.body.key }).expect(201);
    expect(session.body).toMatchObject({ key_name: 'eve-laptop', user_name: 'Eve' });
    expect(
      (await running.http.post('/v1/api-keys').send({ name: 'x', scopes: ['incidents:read'], user_id: '00000000-0000-4000-8000-000000000000' })).status,
    ).toBe(400);
    await running.http.post(`/v1/users/${eve.id}/deactivate`).expect(200);
    // Read again once the key's cache entry ages out (auth.key_cache_secs, 0 in this test).
    await asEve.get('/v1/incidents').expect(401);
  });
});
