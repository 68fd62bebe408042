import { get } from 'node:http';
import { createGunzip, gunzipSync } from 'node:zlib';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { consoleSize } from '../scripts/console-size';
import { IncidentUpdatedEvent } from '../src/incidents/domain/events';
import { IncidentEventStream, MAX_UNREAD_EVENTS } from '../src/incidents/incident-event-stream';
import { ADMIN_KEY, alert, drivers, ManualClock, RunningApp, startApp, TestStore, waitUntil } from './support/harness';

/** The session cookie of a sign-in answer, as name=value. */
function cookieOf(res: request.Response): string {
  const header = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0];
  return header.split(';')[0];
}

/** Reads server-sent events from GET /v1/incidents/events until `until` holds or the time runs out. */
function readEvents(
  port: number,
  path: string,
  headers: Record<string, string>,
  until: (events: any[]) => boolean,
): Promise<{ status: number; events: any[]; raw: string }> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    let raw = '';
    const req = get({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        for (const frame of raw.split('\n\n').slice(events.length, -1)) {
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('');
          events.push(data ? JSON.parse(data) : null);
        }
        if (until(events.filter(Boolean))) {
          req.destroy();
          resolve({ status: res.statusCode!, events: events.filter(Boolean), raw });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode!, events: events.filter(Boolean), raw }));
    });
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    setTimeout(() => {
      req.destroy();
      resolve({ status: 0, events: events.filter(Boolean), raw });
    }, 10_000).unref();
  });
}

describe.each(drivers())('console API on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  let clock: ManualClock;
  let port: number;

  beforeAll(async () => {
    store = await TestStore.create(driver);
    clock = new ManualClock();
    running = await startApp(store, { clock, overrides: { console: { session_ttl_secs: 600 } } });
    port = (running.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    await running?.close();
    await store?.destroy();
  });
  /** Live subscriptions to the incident events: a stream counts once the service has subscribed it. */
  const streams = () => running.app.get(IncidentEventStream).subscriberCount();

  async function signIn(key = ADMIN_KEY): Promise<{ cookie: string; csrf: string; res: request.Response }> {
    const res = await running.anon.post('/v1/session').send({ api_key: key }).expect(201);
    return { cookie: cookieOf(res), csrf: res.body.csrf_token, res };
  }

  it('serves the console at / and its pages, with the security headers', async () => {
    for (const path of [
      '/',
      '/incidents/3f0c8a52-3d4c-4a51-9e6a-1f7f4a9b2c10',
      '/on-call',
      '/people',
      '/schedules/3f0c8a52-3d4c-4a51-9e6a-1f7f4a9b2c10',
      '/silences',
      '/notifications',
      '/keys',
    ]) {
      const res = await running.anon.get(path).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('<div id="app">');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    }
    const script = /src="(\/assets\/[^"]+\.js)"/.exec((await running.anon.get('/').expect(200)).text)![1];
    const asset = await running.anon.get(script).expect(200);
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('keeps the first load within 150 KB of gzipped JavaScript, sent gzipped', async () => {
    const size = consoleSize();
    expect(size.files.some((f) => f.endsWith('.js'))).toBe(true);
    expect(size.js_gzip_bytes).toBeLessThanOrEqual(150 * 1024);
    let sent = 0;
    for (const file of size.files.filter((f) => f.endsWith('.js'))) {
      // Read raw (supertest would decompress): the bytes on the wire are what the budget counts.
      const res = await new Promise<{ encoding?: string; bytes: number }>((resolve, reject) =>
        get({ host: '127.0.0.1', port, path: `/${file}`, headers: { 'accept-encoding': 'gzip' } }, (r) => {
          let bytes = 0;
          r.on('data', (c: Buffer) => (bytes += c.length));
          r.on('end', () => resolve({ encoding: r.headers['content-encoding'], bytes }));
        }).on('error', reject),
      );
      expect(res.encoding).toBe('gzip');
      sent += res.bytes;
    }
    expect(sent).toBe(size.js_gzip_bytes);
  });

  it('exchanges a key for an HttpOnly, SameSite=Strict session cookie with an expiry, never answering the key', async () => {
    const { res } = await signIn();
    const header = ([] as string[]).concat(res.headers['set-cookie'])[0];
    expect(header).toMatch(/^lim_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Strict$/);
    expect(JSON.stringify(res.body)).not.toContain(ADMIN_KEY);
    expect(res.body).toMatchObject({ authentication: 'session', key_name: 'bootstrap', scopes: ['admin'] });
    await running.anon.post('/v1/session').send({ api_key: 'lim_0000000000000000_nope' }).expect(401);
    const missing = await running.anon.post('/v1/session').send({}).expect(400);
    expect(JSON.stringify(missing.body)).toContain('api_key');
  });

  it('keeps a remembered session for remember_ttl_secs, never past its key’s expiry, and still ends it on sign-out', async () => {
    const remembered = await running.anon.post('/v1/session').send({ api_key: ADMIN_KEY, remember: true }).expect(201);
    // The default remember_ttl_secs: 30 days (this suite's plain sessions last 600 s).
    expect(([] as string[]).concat(remembered.headers['set-cookie'])[0]).toContain('Max-Age=2592000;');
    expect(Date.parse(remembered.body.expires_at) - clock.now().getTime()).toBe(2_592_000_000);
    const expiring = (
      await running.http
        .post('/v1/api-keys')
        .send({ name: 'two-days', scopes: ['incidents:read'], expires_at: new Date(clock.now().getTime() + 2 * 86_400_000).toISOString() })
        .expect(201)
    ).body;
    const capped = await running.anon.post('/v1/session').send({ api_key: expiring.key, remember: true }).expect(201);
    expect(capped.body.expires_at).toBe(expiring.expires_at);
    const cookie = ([] as string[]).concat(remembered.headers['set-cookie'])[0].split(';')[0];
    await running.anon.get('/v1/session').set('cookie', cookie).expect(200);
    await running.anon.delete('/v1/session').set('cookie', cookie).set('x-csrf-token', remembered.body.csrf_token).expect(204);
    await running.anon.get('/v1/session').set('cookie', cookie).expect(401);
    await running.anon.post('/v1/session').send({ api_key: ADMIN_KEY, remember: 'yes' }).expect(400);
  });

  it('reads with the cookie alone, writes only with the CSRF token, and signing out ends the session on the server', async () => {
    const { cookie, csrf } = await signIn();
    await running.anon.get('/v1/incidents').set('cookie', cookie).expect(200);
    expect((await running.anon.get('/v1/session').set('cookie', cookie).expect(200)).body.csrf_token).toBe(csrf);
    const refused = await running.anon
      .post('/v1/alerts')
      .set('cookie', cookie)
      .send(alert({ title: 'csrf probe' }))
      .expect(403);
    expect(refused.body.error.code).toBe('CSRF_REJECTED');
    await running.anon
      .post('/v1/alerts')
      .set('cookie', cookie)
      .set('x-csrf-token', 'forged')
      .send(alert({ title: 'csrf probe' }))
      .expect(403);
    const page = await running.anon.get('/v1/incidents?q=csrf probe').set('cookie', cookie).expect(200);
    expect(page.body.total).toBe(0); // nothing was written by the refused requests
    await running.anon
      .post('/v1/alerts')
      .set('cookie', cookie)
      .set('x-csrf-token', csrf)
      .send(alert({ title: 'csrf probe' }))
      .expect(200);
    await running.anon.delete('/v1/session').set('cookie', cookie).expect(403); // sign-out is a write too
    const out = await running.anon.delete('/v1/session').set('cookie', cookie).set('x-csrf-token', csrf).expect(204);
    expect(([] as string[]).concat(out.headers['set-cookie'])[0]).toContain('Max-Age=0');
    await running.anon.get('/v1/incidents').set('cookie', cookie).expect(401);
  });

  it('a session expires, and acts with its key scopes only', async () => {
    const created = await running.http
      .post('/v1/api-keys')
      .send({ name: 'reader', scopes: ['incidents:read'] })
      .expect(201);
    const { cookie, csrf } = await signIn(created.body.key);
    await running.anon.get('/v1/incidents').set('cookie', cookie).expect(200);
    const forbidden = await running.anon.post('/v1/alerts').set('cookie', cookie).set('x-csrf-token', csrf).send(alert()).expect(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    clock.advance(601);
    // Refused once the session cache (auth.key_cache_secs) has let go of it.
    await waitUntil(async () => (await running.anon.get('/v1/incidents').set('cookie', cookie)).status === 401, 'the expired session refused');
    await running.anon.get('/v1/session').set('cookie', cookie).expect(401);
  });

  it('filters the list by label and text, open ones first', async () => {
    await running.http
      .post('/v1/alerts')
      .send(alert({ title: 'Disk full on db-7', labels: { team: 'storage', env: 'prod' } }))
      .expect(200);
    await running.http
      .post('/v1/alerts')
      .send(alert({ title: 'Latency on checkout', labels: { team: 'payments' } }))
      .expect(200);
    const byLabel = await running.http.get('/v1/incidents?label=team=storage&sort=open_first').expect(200);
    expect(byLabel.body.items.map((i: any) => i.title)).toEqual(['Disk full on db-7']);
    const byText = await running.http.get('/v1/incidents?q=CHECKOUT').expect(200);
    expect(byText.body.items.map((i: any) => i.title)).toEqual(['Latency on checkout']);
    expect((await running.http.get('/v1/incidents?q=100%25').expect(200)).body.total).toBe(0);
    const bad = await running.http.get('/v1/incidents?label=noequals').expect(400);
    expect(JSON.stringify(bad.body)).toContain('label');
    await running.http.get('/v1/incidents?sort=sideways').expect(400);
  });

  it('sorts urgent first (the console’s list): open before resolved, then the most severe, then the newest', async () => {
    const post = async (title: string, severity: string) => {
      clock.advance(1); // this suite's clock stands still otherwise
      return (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title, severity, labels: { sorting: 'urgent' } }))
          .expect(200)
      ).body.incident_id;
    };
    await post('old P0', 'P0');
    const resolvedP0 = await post('resolved P0', 'P0');
    await post('P3', 'P3');
    await post('new P0', 'P0');
    await post('P1', 'P1');
    await running.http.post(`/v1/incidents/${resolvedP0}/resolve`).send({ resolved_by: 'alice', method: 'Manual', notes: 'done' }).expect(200);
    const list = await running.http.get('/v1/incidents?label=sorting=urgent&sort=urgent').expect(200);
    // Created in this order a second apart; newest first within a severity.
    expect(list.body.items.map((i: any) => i.title)).toEqual(['new P0', 'old P0', 'P1', 'P3', 'resolved P0']);
  });

  it('previews the open incidents a silence would match', async () => {
    const res = await running.http
      .post('/v1/silences/preview')
      .send({ matchers: ['team="storage"'] })
      .expect(200);
    expect(res.body.total).toBe(1);
    expect(res.body.incidents[0].title).toBe('Disk full on db-7');
    const bad = await running.http
      .post('/v1/silences/preview')
      .send({ matchers: ['team=~"("'] })
      .expect(400);
    expect(JSON.stringify(bad.body)).toContain('matchers[0]');
  });

  it('lists the dead letters', async () => {
    const res = await running.http.get('/v1/notifications/dead-letters').expect(200);
    expect(res.body).toMatchObject({ items: [], total: 0, page: 1, page_size: 50 });
  });

  it('streams incident events as server-sent events with the stream filters, and refuses unknown values', async () => {
    const bad = await running.http.get('/v1/incidents/events?severity=P9').expect(400);
    expect(JSON.stringify(bad.body)).toContain('severity');
    await running.anon.get('/v1/incidents/events').expect(401);
    const subscribed = streams();
    const reading = readEvents(port, '/v1/incidents/events?severity=P1', { authorization: `Bearer ${ADMIN_KEY}` }, (events) => events.length >= 1);
    await waitUntil(() => streams() > subscribed, 'the stream subscribed');
    await running.http
      .post('/v1/alerts')
      .send(alert({ title: 'not this one', severity: 'P3' }))
      .expect(200);
    await running.http
      .post('/v1/alerts')
      .send(alert({ title: 'Live P1', severity: 'P1' }))
      .expect(200);
    const { status, events, raw } = await reading;
    expect(status).toBe(200);
    expect(raw.startsWith('retry: 2000')).toBe(true);
    expect(events[0]).toMatchObject({ event_type: 'incident.detected', incident: { title: 'Live P1', severity: 'P1' } });
  });

  it('cuts off a client that stops reading, as StreamIncidents does, and keeps up with one that reads', async () => {
    const subject = (await running.http.get('/v1/incidents?page_size=1').expect(200)).body.items[0];
    const incident = { ...subject, description: 'x'.repeat(2000) };
    const open = (onResponse: (res: import('node:http').IncomingMessage) => void) =>
      get({ host: '127.0.0.1', port, path: '/v1/incidents/events', headers: { authorization: `Bearer ${ADMIN_KEY}` } }, onResponse);
    /** Counts the events in what a response sends, and notes a closing event. */
    const counter = () => {
      const seen = { events: 0, closing: '', tail: '' };
      return {
        seen,
        feed(chunk: string) {
          const text = seen.tail + chunk;
          // Only occurrences that end in the new chunk: the tail's were counted with the chunk before.
          for (let at = text.indexOf('\ndata: '); at >= 0; at = text.indexOf('\ndata: ', at + 1)) if (at + 7 > seen.tail.length) seen.events++;
          const at = text.indexOf('event: closing');
          if (at >= 0) seen.closing = text.slice(at);
          else if (seen.closing) seen.closing += chunk;
          seen.tail = text.slice(-16);
        },
      };
    };
    const before = streams();
    const stalled = counter();
    let stalledResponse: import('node:http').IncomingMessage | undefined;
    const stalledEnded = new Promise<void>((resolve) =>
      open((res) => {
        stalledResponse = res;
        res.setEncoding('utf8');
        res.pause();
        res.on('data', (c: string) => stalled.feed(c));
        res.on('end', () => resolve());
      }),
    );
    const reading = counter();
    const subscribed = streams();
    const readingReq = open((res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => reading.feed(c));
    });
    await waitUntil(() => streams() > subscribed && streams() === before + 2, 'both streams subscribed');
    const emitter = running.app.get(EventEmitter2);
    // Events until the stalled stream is cut off: first the socket buffers of the stalled client
    // fill (how much they take depends on the kernel and the Node.js version), then it may fall
    // MAX_UNREAD_EVENTS behind. Bounded, so a stream that is never cut off fails the test.
    let total = 0;
    while (streams() === before + 2 && total < 200_000) {
      for (let i = 0; i < 100; i++, total++) {
        emitter.emit('incident.updated', new IncidentUpdatedEvent(incident, new Date().toISOString(), 'test', { title: { from: 'a', to: `b${total}` } }));
      }
      // The reading client reads between events, as a live console would, and the batches are written.
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(streams()).toBe(before + 1);
    expect(total).toBeGreaterThan(MAX_UNREAD_EVENTS);
    for (let i = 0; i < 200 && reading.seen.events < total; i++) await new Promise((r) => setTimeout(r, 50));
    readingReq.destroy();
    expect(reading.seen).toMatchObject({ events: total, closing: '' });
    // The stalled client, once it reads again, finds what was buffered and then the cut-off.
    stalledResponse!.resume();
    await stalledEnded;
    expect(stalled.seen.events).toBeLessThan(total);
    expect(stalled.seen.closing).toMatch(/^event: closing\ndata: \{"error":\{"code":"SLOW_CONSUMER"/);
  });

  it('streams to a console session too', async () => {
    const { cookie } = await signIn();
    const subscribed = streams();
    const reading = readEvents(port, '/v1/incidents/events', { cookie }, (events) => events.some((e) => e.incident.title === 'Session stream'));
    await waitUntil(() => streams() > subscribed, 'the session stream subscribed');
    await running.http
      .post('/v1/alerts')
      .send(alert({ title: 'Session stream' }))
      .expect(200);
    const { status, events } = await reading;
    expect(status).toBe(200);
    expect(events.some((e) => e.incident.title === 'Session stream')).toBe(true);
  });

  it('gzips the stream for a client that accepts it: readable as it comes, the same events, and a checked end', async () => {
    const { cookie, csrf } = await signIn();
    const open = (encoding: string) =>
      new Promise<{ headers: Record<string, unknown>; chunks: Buffer[]; text: () => string; ended: Promise<void> }>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/v1/incidents/events', headers: { cookie, 'accept-encoding': encoding } }, (res) => {
          const chunks: Buffer[] = [];
          const live: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          // Inflated as it comes, as a browser does: each write ends on a sync flush.
          const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
          body.on('data', (chunk: Buffer) => live.push(chunk));
          const ended = new Promise<void>((done) => body.on('end', done));
          resolve({ headers: res.headers, chunks, text: () => Buffer.concat(live).toString(), ended });
        }).on('error', reject);
      });
    const gzipped = await open('gzip, deflate, br, zstd'); // what Chromium sends
    const plain = await open('identity');
    expect(gzipped.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'accept-encoding', 'content-type': 'text/event-stream; charset=utf-8' });
    expect(plain.headers['content-encoding']).toBeUndefined();

    await running.http
      .post('/v1/alerts')
      .send(alert({ title: 'Gzipped stream' }))
      .expect(200);
    for (let i = 0; i < 100 && !gzipped.text().includes('Gzipped stream'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(gzipped.text()).toContain('"title":"Gzipped stream"');
    // Fewer bytes than the text they carry.
    expect(Buffer.concat(gzipped.chunks).length).toBeLessThan(Buffer.byteLength(gzipped.text()));

    // Signing out ends both streams with a closing event; the gzipped one with its trailer,
    // which gunzipSync checks (CRC-32 and length of all the text).
    await running.anon.delete('/v1/session').set('cookie', cookie).set('x-csrf-token', csrf).expect(204);
    await Promise.all([gzipped.ended, plain.ended]);
    const whole = gunzipSync(Buffer.concat(gzipped.chunks)).toString();
    expect(whole).toBe(gzipped.text());
    expect(whole).toMatch(/event: closing\ndata: \{"error":\{"code":"UNAUTHENTICATED"[^\n]*\n\n$/);
    // The same events either way (the closing events differ only in their request ids).
    const eventLines = (text: string) => text.split('\n').filter((l) => l.startsWith('data: {"event_type"'));
    expect(eventLines(whole)).toHaveLength(1);
    expect(eventLines(whole)).toEqual(eventLines(plain.text()));
  });
});
