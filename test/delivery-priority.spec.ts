import http from 'node:http';
import { AddressInfo } from 'node:net';
import { WEBHOOK_SIGNING_ENV } from './support/fakes';
import { alert, drivers, RunningApp, startApp, TestStore } from './support/harness';

/**
 * A webhook target that holds every answer until told to let go, and records the order in which
 * the deliveries reached it (by the incident title each carries).
 */
class HoldingSink {
  readonly order: string[] = [];
  private held: http.ServerResponse[] = [];
  private holding = true;
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { incident: { title: string } };
      this.order.push(body.incident.title);
      if (this.holding) this.held.push(res);
      else res.writeHead(200).end();
    });
  });

  async listen(): Promise<string> {
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  release(): void {
    this.holding = false;
    for (const res of this.held) res.writeHead(200).end();
    this.held = [];
  }

  async waitFor(count: number, ms = 50_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.order.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.order.length} of ${count} deliveries arrived`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe.each(drivers())('delivery priority on %s', (driver) => {
  let store: TestStore;
  let sink: HoldingSink;
  let app: RunningApp;

  beforeEach(async () => {
    store = await TestStore.create(driver);
    sink = new HoldingSink();
  });
  afterEach(async () => {
    await app?.close();
    await sink.close();
    await store.destroy();
  });

  // As the issue puts it: 20,000 P4 webhook deliveries waiting, on the embedded store; fewer on
  // PostgreSQL, where the same SQL orders the claim, to keep the run short.
  const waiting = driver === 'sqlite' ? 20_000 : 4_000;

  it(`sends a P0 and a P1 detected behind ${waiting} waiting P4 deliveries first`, async () => {
    const url = await sink.listen();
    app = await startApp(store, {
      overrides: {
        // A queue smaller than the backlog, so most P4 rows wait in the store, as on a busy day.
        notifications: {
          webhook_enabled: true,
          default_webhook_url: url,
          queue_size: driver === 'sqlite' ? 10_000 : 1_000,
          retry_backoff_secs: 0,
          webhook_timeout_secs: 120,
        },
      },
      env: WEBHOOK_SIGNING_ENV,
    });
    for (let start = 0; start < waiting; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, waiting - start) }, (_, i) => alert({ title: `p4 ${start + i}`, severity: 'P4' }));
      await app.http.post('/v1/alerts').send(batch).expect(200);
    }
    // The target holds what is in flight: a target's share of the pool (192 by default).
    await sink.waitFor(192);
    const inFlight = sink.order.length;
    expect(inFlight).toBe(192);

    await app.http
      .post('/v1/alerts')
      .send(alert({ title: 'p0 urgent', severity: 'P0' }))
      .expect(200);
    await app.http
      .post('/v1/alerts')
      .send(alert({ title: 'p1 urgent', severity: 'P1' }))
      .expect(200);
    sink.release();
    await sink.waitFor(inFlight + 400);
    // The next two exchanges to start, once the held ones were answered, were the urgent ones.
    const p0 = sink.order.indexOf('p0 urgent');
    const p1 = sink.order.indexOf('p1 urgent');
    expect(p0).toBeGreaterThanOrEqual(inFlight);
    expect(p1).toBeGreaterThanOrEqual(inFlight);
    expect(Math.max(p0, p1)).toBeLessThan(inFlight + 10);
    await sink.waitFor(waiting + 2);
    expect(new Set(sink.order).size).toBe(waiting + 2);
  });

  it('claims what a restart left in the store most urgent class first, then by due time', async () => {
    const url = await sink.listen();
    // One exchange and a ready queue of one: what is claimed next is what is sent next.
    const overrides = {
      notifications: { webhook_enabled: true, default_webhook_url: url, worker_threads: 1, worker_max_in_flight: 1, queue_size: 1, webhook_timeout_secs: 60 },
    };
    app = await startApp(store, { overrides, env: WEBHOOK_SIGNING_ENV });
    await app.http
      .post('/v1/alerts')
      .send(alert({ title: 'first', severity: 'P4' }))
      .expect(200);
    await sink.waitFor(1); // held: the only exchange is taken
    for (const [title, severity] of [
      ['p4 early', 'P4'],
      ['p3', 'P3'],
      ['p2', 'P2'],
      ['p1', 'P1'],
    ]) {
      await app.http.post('/v1/alerts').send(alert({ title, severity })).expect(200);
    }
    // Shut down with the rest waiting in the store (the held send is let go so that shutdown ends).
    const closing = app.close();
    sink.release();
    await closing;
    const before = sink.order.length;

    app = await startApp(store, { overrides, env: WEBHOOK_SIGNING_ENV });
    await sink.waitFor(before + 4);
    // Class 0 (a P1's first notification), class 1 (P2), then class 2 (P3 and P4) in the order they fell due.
    expect(sink.order.slice(before).filter((t) => t !== 'first')).toEqual(['p1', 'p2', 'p4 early', 'p3']);
  });
});
