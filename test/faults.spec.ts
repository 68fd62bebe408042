import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HEALTH_PROTO, INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } from '../src/grpc/grpc.server';
import { Kysely, sql } from 'kysely';
import { Client } from 'pg';
import { DomainError } from '../src/common/domain-error';
import { AppLogger } from '../src/common/logger';
import { errorBodyOf } from '../src/common/http-exception.filter';
import { StoreErrorSink, storeFaultOf } from '../src/database/store-faults';
import { DATABASE } from '../src/database/tokens';
import { grpcErrorOf } from '../src/grpc/grpc-exception.filter';
import { DeliveryWorkerPool } from '../src/notifications/delivery-worker-pool';
import { FakeTarget, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, drivers, grpcKeyInterceptor, ManualClock, RunningApp, startApp, TestStore } from './support/harness';
import { TcpProxy } from './support/tcp-proxy';

/** Polls `probe` until it answers something truthy; fails naming `what` after `ms`. */
async function waitFor<T>(what: string, probe: () => Promise<T> | T, ms = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function capturedLogger(): { logger: AppLogger; lines: () => Array<Record<string, any>> } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return {
    logger: new AppLogger('info', sink, 'json'),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

/** A gRPC call's answer, or its error. */
function grpcCall(address: string, service: 'AlertIngestion' | 'Health', method: string, request: object): Promise<{ value?: any; error?: grpc.ServiceError }> {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync([INCIDENT_MANAGER_PROTO, HEALTH_PROTO], PROTO_LOADER_OPTIONS)) as any;
  const Client = service === 'Health' ? loaded.grpc.health.v1.Health : loaded.llm_incident_manager.v1[service];
  const client = new Client(address, grpc.credentials.createInsecure(), { interceptors: [grpcKeyInterceptor(ADMIN_KEY)] });
  return new Promise((resolve) =>
    client[method](request, { deadline: Date.now() + 10_000 }, (error: grpc.ServiceError | null, value: unknown) => {
      client.close();
      resolve(error ? { error } : { value });
    }),
  );
}

function storeDb(app: RunningApp): Kysely<any> {
  return app.app.get(DATABASE);
}

async function deliveryStatuses(app: RunningApp): Promise<Record<string, number>> {
  const rows = await storeDb(app)
    .selectFrom('notification_deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

const webhookOn = (sink: FakeTarget, extra: Record<string, unknown> = {}) => ({
  notifications: { webhook_enabled: true, default_webhook_url: `${sink.url}/hook`, retry_backoff_secs: 1, ...extra },
});

describe('store errors as clients see them', () => {
  /** An error as the store's connections raise it: reported to the store's sink on its way. */
  const withCode = (code: string, message = 'boom') => {
    const err = Object.assign(new Error(message), { code });
    new StoreErrorSink().report(err);
    return err;
  };

  it.each([
    ['SQLITE_FULL', 'full'],
    ['53100', 'full'],
    ['SQLITE_IOERR_WRITE', 'unavailable'],
    ['57P01', 'unavailable'],
    ['08006', 'unavailable'],
    ['ECONNREFUSED', 'unavailable'],
  ])('%s is a store fault of kind %s, answered 503 with Retry-After and gRPC UNAVAILABLE', (code, kind) => {
    expect(storeFaultOf(withCode(code))).toEqual({ kind, cause: `${code}: boom` });
    const body = errorBodyOf(withCode(code), 'r1');
    expect(body.error).toMatchObject({ code: kind === 'full' ? 'STORE_FULL' : 'STORE_UNAVAILABLE', status: 503, details: { retry_after_secs: 5 } });
    expect(grpcErrorOf(withCode(code)).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('knows pg’s own connection errors, which carry no code, and leaves everything else an internal error', () => {
    expect(storeFaultOf(new Error('Connection terminated unexpectedly'))?.kind).toBe('unavailable');
    expect(storeFaultOf(new Error('timeout exceeded when trying to connect'))?.kind).toBe('unavailable');
    expect(storeFaultOf(withCode('SQLITE_CONSTRAINT_UNIQUE'))).toBeNull();
    expect(storeFaultOf(withCode('23505'))).toBeNull();
    expect(storeFaultOf(new TypeError('x is undefined'))).toBeNull();
    expect(errorBodyOf(new TypeError('x'), 'r').error.code).toBe('INTERNAL');
    expect(errorBodyOf(new DomainError('OVERLOADED', 'busy'), 'r').error.status).toBe(503);
    // The same code from anywhere but the store (the client's own aborted request) is not the store's fault.
    expect(errorBodyOf(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), 'r').error.code).toBe('INTERNAL');
    expect(errorBodyOf(Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 }), 'r').error).toMatchObject({ status: 400 });
  });
});

describe('a full disk (SQLite max_page_count)', () => {
  let store: TestStore;
  let app: RunningApp | undefined;
  beforeEach(async () => {
    store = await TestStore.create('sqlite');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await store.destroy();
  });

  it('answers 503 STORE_FULL naming the cause once in the log, fails readiness, and recovers when there is room again', async () => {
    const capture = capturedLogger();
    app = await startApp(store, { logger: capture.logger });
    const db = storeDb(app);
    const accepted: string[] = [];
    const pages = Number((await sql<{ page_count: number }>`pragma page_count`.execute(db)).rows[0].page_count);
    await sql.raw(`pragma max_page_count = ${pages}`).execute(db);

    let refused: { status: number; headers: Record<string, string>; body: any } | undefined;
    for (let i = 0; i < 400 && !refused; i++) {
      const res = await app.http.post('/v1/alerts').send(alert({ title: `filler ${i}`, description: 'x'.repeat(3000) }));
      if (res.status === 200) accepted.push(res.body.incident_id);
      else refused = res;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.body.error).toMatchObject({ code: 'STORE_FULL', status: 503 });
    expect(refused?.headers['retry-after']).toBe('5');
    // More refusals: still one log line for the episode.
    for (let i = 0; i < 5; i++)
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: `more ${i}`, description: 'y'.repeat(3000) }))
        .expect(503);

    const ready = await app.http.get('/health/ready').expect(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', checks: { database: { status: 'full', driver: 'sqlite' } } });
    expect(ready.body.checks.database.error).toContain('SQLITE_FULL');
    const metrics = (await app.http.get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^llm_im_store_up 0$/m);
    expect(metrics).toMatch(/^llm_im_store_faults_total\{kind="full"\} 1$/m);
    const episodeLines = capture.lines().filter((l) => l.context === 'Store');
    expect(episodeLines).toHaveLength(1);
    expect(episodeLines[0]).toMatchObject({ level: 50, cause: expect.stringContaining('SQLITE_FULL') });
    expect(JSON.stringify(capture.lines())).not.toContain('cannot rollback');
    expect(capture.lines().filter((l) => l.msg === 'unhandled error')).toEqual([]);

    await sql.raw('pragma max_page_count = 1073741823').execute(db);
    await waitFor('readiness after space was freed', async () => (await app!.http.get('/health/ready')).status === 200);
    const after = await app.http
      .post('/v1/alerts')
      .send(alert({ title: 'after', description: 'z'.repeat(3000) }))
      .expect(200);
    accepted.push(after.body.incident_id);
    expect((await app.http.get('/metrics').expect(200)).text).toMatch(/^llm_im_store_up 1$/m);
    expect(
      capture
        .lines()
        .filter((l) => l.context === 'Store')
        .map((l) => l.msg),
    ).toEqual([episodeLines[0].msg, 'The store has room to write again']);
    for (const id of accepted) await app.http.get(`/v1/incidents/${id}`).expect(200);
  });
});

const pgOnly = process.env.TEST_DATABASE_URL ? describe : describe.skip;

pgOnly('PostgreSQL lost under a steady stream of alerts', () => {
  let store: TestStore;
  let proxy: TcpProxy;
  let sink: FakeTarget;
  let app: RunningApp | undefined;
  const appName = `lim-faults-${randomBytes(4).toString('hex')}`;

  beforeEach(async () => {
    store = await TestStore.create('postgres');
    const target = new URL(process.env.TEST_DATABASE_URL as string);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    sink = await webhookSink();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await proxy.close();
    await sink.close();
    await store.destroy();
  });

  it('stays up, answers 503 STORE_UNAVAILABLE while it is gone, serves again by itself, and loses nothing it answered 2xx', async () => {
    const url = new URL(store.config().database_url as string);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    url.searchParams.set('application_name', appName);
    app = await startApp(store, {
      grpc: true,
      logger: process.env.DEBUG_LOGS ? new AppLogger('info', undefined, 'json') : undefined,
      env: { ...WEBHOOK_SIGNING_ENV, TEST_PG_URL: url.toString() },
      overrides: webhookOn(sink),
    });
    const running = app;

    const accepted: string[] = [];
    const refusals: Array<{ code: string; retryAfter: string }> = [];
    const other: string[] = [];
    let stop = false;
    let sent = 0;
    const stream = (async () => {
      while (!stop) {
        const res = await running.http.post('/v1/alerts').send(alert({ title: `steady ${sent++}` }));
        if (res.status === 200) accepted.push(res.body.incident_id);
        else if (res.status === 503) refusals.push({ code: res.body.error?.code, retryAfter: res.headers['retry-after'] });
        else other.push(`${res.status} ${res.text}`);
        // A steady rate, not a wait for anything: about 50 alerts a second.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    await waitFor('the first alerts', () => accepted.length >= 20);
    // Every connection of the service is terminated by the server (a restart does this too).
    const admin = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      const killed = await admin.query('select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1', [appName]);
      expect(killed.rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    const afterKill = accepted.length;
    await waitFor('alerts accepted after the connections were terminated', () => accepted.length >= afterKill + 20);

    // The network path goes: every connection is cut and new ones are refused.
    await proxy.cut();
    const cutAt = Date.now();
    await waitFor('a 503 during the outage', () => refusals.length > 0);
    const ready = await running.http.get('/health/ready').expect(503);
    expect(ready.body.checks.database).toMatchObject({ status: 'unavailable', driver: 'postgres' });
    expect((await grpcCall(running.grpcAddress, 'Health', 'Check', { service: '' })).value).toEqual({ status: 'NOT_SERVING' });
    const submitted = await grpcCall(running.grpcAddress, 'AlertIngestion', 'SubmitAlert', {
      alert: { source: 'grpc', title: 'during the outage', description: 'x', severity: 'P2', alert_type: 'APPLICATION' },
    });
    expect(submitted.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(submitted.error?.metadata.get('error-code')).toEqual(['STORE_UNAVAILABLE']);
    // The outage lasts 5 s, whatever happens meanwhile.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (Date.now() - cutAt))));
    const beforeRestore = accepted.length;
    await proxy.restore();
    await waitFor('alerts accepted once the store is back', () => accepted.length >= beforeRestore + 20, 15_000);
    stop = true;
    await stream;

    expect(other).toEqual([]);
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) expect(r).toEqual({ code: 'STORE_UNAVAILABLE', retryAfter: '5' });
    await waitFor('readiness', async () => (await running.http.get('/health/ready')).status === 200);
    expect((await grpcCall(running.grpcAddress, 'Health', 'Check', { service: '' })).value).toEqual({ status: 'SERVING' });

    // Nothing answered 2xx was lost, and every one of them was notified, none left `sending`.
    const stored = new Set((await storeDb(running).selectFrom('incidents').select('id').execute()).map((r) => r.id as string));
    for (const id of accepted) expect(stored.has(id)).toBe(true);
    await waitFor('every delivery sent', async () => {
      const statuses = await deliveryStatuses(running);
      return (statuses.pending ?? 0) === 0 && (statuses.sending ?? 0) === 0 ? statuses : null;
    });
    expect(await deliveryStatuses(running)).toEqual({ sent: stored.size });
    const notified = new Set(sink.received.map((r) => r.body.incident.id as string));
    for (const id of accepted) expect(notified.has(id)).toBe(true);
  });
});

describe.each(drivers())('a receiver outage on %s', (driver) => {
  let store: TestStore;
  let sink: FakeTarget;
  let app: RunningApp | undefined;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    sink = await webhookSink();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sink.close();
    await store.destroy();
  });

  it('probes the target one delivery at a time, spends no attempts of the queue behind, and sends everything when it is back', async () => {
    app = await startApp(store, {
      logger: process.env.DEBUG_LOGS ? new AppLogger('info', undefined, 'json') : undefined,
      env: WEBHOOK_SIGNING_ENV,
      overrides: webhookOn(sink),
    });
    await sink.down();
    // The first delivery finds the target down (every delivery in flight then spends an attempt).
    const firstId = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'outage begins', severity: 'P1' }))
        .expect(200)
    ).body.incident_id;
    await waitFor(
      'the target known to be failing',
      async () => (await app!.http.get('/v1/notifications/stats').expect(200)).body.degraded_targets.length === 1,
    );
    const ids: string[] = [firstId];
    for (let i = 1; i < 150; i++) {
      const res = await app.http
        .post('/v1/alerts')
        .send(alert({ title: `outage ${i}`, severity: i % 3 === 0 ? 'P1' : 'P3' }))
        .expect(200);
      ids.push(res.body.incident_id);
    }
    // Down for at least 6 s more: probes at 1, 2 and 4 s apart, one delivery each.
    const attemptsSoFar = async () => {
      const row = await storeDb(app!)
        .selectFrom('notification_deliveries')
        .select((eb) => eb.fn.sum<number>('attempts').as('tried'))
        .executeTakeFirstOrThrow();
      return Number(row.tried);
    };
    await waitFor('probes of the target', async () => (await attemptsSoFar()) >= 3);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    // About one probe per backoff period, never the 149 deliveries queued behind them.
    expect(await attemptsSoFar()).toBeLessThanOrEqual(8);
    const stats = (await app.http.get('/v1/notifications/stats').expect(200)).body;
    expect(stats.degraded_targets).toHaveLength(1);

    const backAt = Date.now();
    await sink.up();
    await sink.waitFor(150, 40_000);
    // Found by the next probe (at most 8 s apart here), then the whole queue goes at once.
    expect(Date.now() - backAt).toBeLessThan(20_000);
    const statuses = await waitFor('every delivery settled', async () => {
      const s = await deliveryStatuses(app!);
      return (s.pending ?? 0) + (s.sending ?? 0) === 0 ? s : null;
    });
    expect(statuses).toEqual({ sent: 150 });
    expect(new Set(sink.received.map((r) => r.body.incident.id))).toEqual(new Set(ids));
    expect((await app.http.get('/v1/notifications/dead-letters').expect(200)).body.total).toBe(0);
  });
});

describe('pages keep trying for the retry horizon', () => {
  let store: TestStore;
  let sink: FakeTarget;
  let app: RunningApp | undefined;
  beforeEach(async () => {
    store = await TestStore.create('sqlite');
    sink = await webhookSink();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sink.close();
    await store.destroy();
  });

  it('retries a P1 page past max_retries until page_retry_horizon has passed, while a P3 notification is given up after max_retries', async () => {
    const clock = new ManualClock();
    app = await startApp(store, {
      clock,
      env: WEBHOOK_SIGNING_ENV,
      overrides: webhookOn(sink, { max_retries: 1, retry_backoff_secs: 0, page_retry_horizon: '1h' }),
    });
    sink.always = { status: 503, body: 'unavailable' };
    const page = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'page', severity: 'P1' }))
        .expect(200)
    ).body.incident_id;
    const minor = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'minor', severity: 'P3' }))
        .expect(200)
    ).body.incident_id;
    const deliveryOf = async (incidentId: string) => (await app!.http.get(`/v1/incidents/${incidentId}/notifications`).expect(200)).body[0];

    // The clock moves as the test polls: the target's rests and the retries fall due by it.
    await waitFor('the P3 notification given up', async () => {
      clock.advance(2);
      return (await deliveryOf(minor)).status === 'failed';
    });
    expect(await deliveryOf(minor)).toMatchObject({ status: 'failed', attempts: 2 });
    // The page goes on well past its 2 attempts; each retry falls due as the clock moves.
    await waitFor('the page tried 5 times', async () => {
      clock.advance(61);
      const d = await deliveryOf(page);
      expect(d.status).not.toBe('failed');
      return d.attempts >= 5;
    });
    clock.advance(3600);
    await waitFor('the page given up after the horizon', async () => {
      clock.advance(61);
      return (await deliveryOf(page)).status === 'failed';
    });
    expect(sink.received).toHaveLength(0);
  });
});

describe.each(drivers())('stranded deliveries on %s', (driver) => {
  let store: TestStore;
  let sink: FakeTarget;
  let app: RunningApp | undefined;
  beforeEach(async () => {
    store = await TestStore.create(driver);
    sink = await webhookSink();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sink.close();
    await store.destroy();
  });

  it('sends at startup what a dead process of this host left sending, and reclaims its own deliveries whose lease ran out', async () => {
    app = await startApp(store, { env: WEBHOOK_SIGNING_ENV, overrides: webhookOn(sink) });
    const first = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'first' }))
        .expect(200)
    ).body.incident_id;
    await sink.waitFor(1);
    await app.close();

    // The row as a process that died while sending it leaves it: leased for another hour.
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']);
    const deadOwner = `${hostname()}:${dead.pid}:0badc0de`;
    const stranded = (other: Kysely<any>, incidentId: string, owner: string) =>
      other
        .updateTable('notification_deliveries')
        .set({ status: 'sending', lease_owner: owner, lease_until: new Date(Date.now() + 3_600_000).toISOString(), sent_at: null })
        .where('incident_id', '=', incidentId)
        .execute();

    app = await startApp(store, { env: WEBHOOK_SIGNING_ENV, overrides: webhookOn(sink) });
    await stranded(storeDb(app), first, deadOwner);
    // A row of an instance on another host keeps its lease (PostgreSQL; SQLite has one process).
    const second = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'second' }))
        .expect(200)
    ).body.incident_id;
    await sink.waitFor(2);
    await stranded(storeDb(app), second, 'elsewhere:1:cafe');
    await app.close();

    app = await startApp(store, {
      logger: process.env.DEBUG_LOGS ? new AppLogger('info', undefined, 'json') : undefined,
      env: WEBHOOK_SIGNING_ENV,
      overrides: webhookOn(sink),
    });
    const sentAgain = driver === 'postgres' ? [first] : [first, second];
    await sink.waitFor(2 + sentAgain.length, 10_000);
    expect(
      sink.received
        .slice(2)
        .map((r) => r.body.incident.id)
        .sort(),
    ).toEqual(sentAgain.sort());
    if (driver === 'postgres') {
      const secondRow = await storeDb(app).selectFrom('notification_deliveries').selectAll().where('incident_id', '=', second).executeTakeFirstOrThrow();
      expect(secondRow).toMatchObject({ status: 'sending', lease_owner: 'elsewhere:1:cafe' });
    }
    const before = sink.received.length;

    // Its own delivery, sending past its lease with nobody working on it (a lease it could not
    // renew while the store was away): claimed again, by this same instance.
    const owner = app.app.get(DeliveryWorkerPool).owner;
    await waitFor('the outcome of the resend written', () => deliveryStatuses(app!).then((s) => (s.sending ?? 0) === (driver === 'postgres' ? 1 : 0)));
    await storeDb(app)
      .updateTable('notification_deliveries')
      .set({ status: 'sending', lease_owner: owner, lease_until: new Date(Date.now() - 1000).toISOString(), sent_at: null })
      .where('incident_id', '=', first)
      .execute();
    await sink.waitFor(before + 1, 10_000);
    expect(sink.received[before].body.incident.id).toBe(first);
    await waitFor('no stranded delivery', async () => (await app!.http.get('/health/ready')).body.checks.deliveries.stranded === 0);

    // One nobody can claim (a delivery before it on the same target waits an hour): readiness
    // and the metrics say so.
    const db = storeDb(app);
    const row = await db.selectFrom('notification_deliveries').selectAll().where('incident_id', '=', first).executeTakeFirstOrThrow();
    await db
      .updateTable('notification_deliveries')
      .set({ status: 'pending', next_attempt_at: new Date(Date.now() + 3_600_000).toISOString() })
      .where('id', '=', row.id)
      .execute();
    const { seq: _seq, ...copy } = row;
    const expiredAt = new Date(Date.now() - 90_000).toISOString();
    await db
      .insertInto('notification_deliveries')
      .values({ ...copy, id: `${row.id.slice(0, -4)}ffff`, status: 'sending', lease_owner: 'elsewhere:1:cafe', lease_until: expiredAt, sent_at: null })
      .execute();
    const ready = (await app.http.get('/health/ready').expect(200)).body;
    expect(ready.checks.deliveries).toEqual({ status: 'stranded', stranded: 1, oldest_expired_lease_secs: expect.any(Number) });
    expect(ready.checks.deliveries.oldest_expired_lease_secs).toBeGreaterThanOrEqual(89);
    const metrics = (await app.http.get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^llm_im_deliveries_stranded 1$/m);
    expect(Number(/^llm_im_oldest_stranded_delivery_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(89);
  });
});
