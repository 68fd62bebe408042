import dns from 'node:dns';
import { isIP } from 'node:net';
import { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { Kysely } from 'kysely';
import request from 'supertest';
import { Pool } from 'undici';
import { createApp } from '../src/app';
import { SCOPES, Scope } from '../src/auth/api-key-format';
import { DATABASE } from '../src/database/tokens';
import type { Database } from '../src/database/schema';
import { startGrpc } from '../src/grpc/grpc.server';
import { FakeTarget, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { allows, grpcCall, grpcCaseArb, grpcMethods, httpCaseArb, IdPool, judgeGrpc, judgeHttp, Keys, rawCaseArb, rawExchange, routesOf } from './support/fuzz';
import { ADMIN_KEY, alert, authedHttp, drivers, freePort, TestStore } from './support/harness';

/*
 * Generated requests against every REST route (from the OpenAPI document), every gRPC method (from
 * the proto files) and every credential case; then the service must still answer and its store must
 * be whole. FUZZ_RUNS (requests on SQLite) and FUZZ_SEED vary a run: `npm run fuzz -- --runs N --seed S`.
 * PostgreSQL gets FUZZ_PG_RUNS (default: a third), the point there being the driver's own
 * behaviour (NUL bytes, encodings, numeric overflow) rather than more of the same inputs.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 42);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const PG_RUNS = Number(process.env.FUZZ_PG_RUNS ?? Math.ceil(RUNS / 3));
const IN_FLIGHT = Number(process.env.FUZZ_IN_FLIGHT ?? 8); // requests at once: enough to overlap, modest on 2 cores
fc.configureGlobal({ seed: SEED });

/** Every line the app logs, with error-level ones apart. */
class LevelLogger implements LoggerService {
  readonly errors: string[] = [];
  lines = 0;
  log() {
    this.lines++;
  }
  warn() {
    this.lines++;
  }
  error(message: unknown, ...rest: unknown[]) {
    this.errors.push(`${JSON.stringify(message)} ${rest.map(String).join(' ')}`.slice(0, 2_000));
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.error(message, ...rest);
  }
  debug() {}
  verbose() {}
}

/** Runs tasks with at most `max` at once: each property run hands its request over and goes on generating the next. */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly max: number) {}
  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.max) await Promise.race(this.running);
    const run: Promise<void> = task().finally(() => this.running.delete(run));
    this.running.add(run);
  }
  drain(): Promise<unknown> {
    return Promise.all(this.running);
  }
}

interface Finding {
  problem: string;
  request: string;
}

/**
 * Only loopback: host names in request-supplied webhook URLs do not reach a real resolver (they
 * would reach the network through the outbound policy's accept-time check); they fail to resolve.
 */
function loopbackOnlyDns(): () => void {
  const original = dns.lookup;
  (dns as any).lookup = (hostname: string, options: unknown, callback?: unknown) => {
    if (hostname === 'localhost' || isIP(hostname)) return (original as any)(hostname, options, callback);
    const cb = (typeof options === 'function' ? options : callback) as (err: Error) => void;
    process.nextTick(() => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname })));
  };
  return () => {
    (dns as any).lookup = original;
  };
}

for (const driver of drivers()) {
  const total = driver === 'sqlite' ? RUNS : PG_RUNS;
  const counts = { rest: Math.ceil(total * 0.68), raw: Math.ceil(total * 0.07), grpc: Math.ceil(total * 0.25) };
  // Time for the runs: a few ms a request, more on PostgreSQL, with room to spare for long runs.
  const budget = 60_000 + total * (driver === 'sqlite' ? 12 : 25);

  describe(`fuzzing on ${driver} (seed ${SEED}, ${total} requests)`, () => {
    let store: TestStore;
    let app: NestFastifyApplication;
    let sink: FakeTarget;
    let logger: LevelLogger;
    let grpcAddress: string;
    let port: number;
    let keys: Keys;
    let ids: IdPool;
    let doc: any;
    let restoreDns: () => void;
    let findings: Finding[] = [];
    const inFlight = new InFlight(IN_FLIGHT);
    // nodeLevel: what Node's HTTP server does before Fastify sees a request (see docs/security.md, Fuzzing).
    const sent = { rest: 0, raw: 0, grpc: 0, notSent: 0, undecodable: 0, nodeLevel: 0, halfClosedRetries: 0 };
    const statuses = new Map<string, number>();
    const processErrors: string[] = [];
    const onProcessError = (err: unknown) => processErrors.push(String((err as Error)?.stack ?? err));

    const note = (problems: string[], label: string) => {
      for (const problem of problems) findings.push({ problem, request: label });
    };
    const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);

    beforeEach(() => {
      findings = [];
    });

    beforeAll(async () => {
      restoreDns = loopbackOnlyDns();
      process.on('unhandledRejection', onProcessError);
      process.on('uncaughtException', onProcessError);
      store = await TestStore.create(driver);
      sink = await webhookSink();
      logger = new LevelLogger();
      const grpcPort = await freePort();
      const config = store.config(
        {
          server: { host: '127.0.0.1', grpc_port: grpcPort },
          notifications: { webhook_enabled: true, default_webhook_url: `${sink.url}/hook`, worker_threads: 1, retry_backoff_secs: 0 },
          // Custom webhook URLs may reach the local sink and nothing else.
          outbound: { allow_cidrs: ['127.0.0.1/32'] },
        },
        WEBHOOK_SIGNING_ENV,
      );
      app = await createApp(config, { logger });
      await app.listen({ port: 0, host: '127.0.0.1' });
      await startGrpc(app, config);
      grpcAddress = `127.0.0.1:${grpcPort}`;
      port = (app.getHttpServer().address() as { port: number }).port;

      const admin = authedHttp(app.getHttpServer());
      const create = async (name: string, scopes: Scope[], extra: object = {}) =>
        (
          await admin
            .post('/v1/api-keys')
            .send({ name, scopes, ...extra })
            .expect(201)
        ).body as { key: string; id: string };
      const byScope = new Map<Scope, string>();
      const protectedIds = new Set([ADMIN_KEY.slice(4, 20)]);
      for (const scope of SCOPES) {
        const k = await create(`fuzz-${scope}`, [scope]);
        byScope.set(scope, k.key);
        protectedIds.add(k.id);
      }
      const revoked = await create('fuzz-revoked', ['admin']);
      await admin.post(`/v1/api-keys/${revoked.id}/revoke`).expect(200);
      const expired = await create('fuzz-expired', ['admin'], { expires_at: new Date(Date.now() + 1_500).toISOString() });
      keys = { admin: ADMIN_KEY, byScope, revoked: revoked.key, expired: expired.key };
      ids = new IdPool(protectedIds);

      // Rows to aim at: incidents from alerts and by hand, a note, a delivery.
      const posted = await admin
        .post('/v1/alerts')
        .send([alert({ title: 'seed-a' }), alert({ title: 'seed-b', severity: 'P0' }), alert({ title: 'seed-a' })])
        .expect(200);
      ids.harvest('alerts', posted.body);
      const manual = await admin
        .post('/v1/incidents')
        .send({ title: 'seed-manual', description: 'd', severity: 'P3', incident_type: 'Data', source: 'fuzz' })
        .expect(201);
      ids.harvest('incidents', manual.body);
      const notified = await admin
        .post(`/v1/incidents/${manual.body.id}/notifications`)
        .send({ message: 'seed', channels: [{ type: 'webhook', url: `${sink.url}/custom` }] })
        .expect(202);
      ids.harvest('notifications', notified.body);
      doc = (await request(app.getHttpServer()).get('/docs/openapi.json').expect(200)).body;

      const deadline = Date.now() + 5_000;
      while ((await authedHttp(app.getHttpServer(), expired.key).get('/v1/incidents')).status !== 401) {
        if (Date.now() > deadline) throw new Error('the expiring key did not expire');
        await new Promise((r) => setTimeout(r, 100));
      }
    }, 30_000);

    afterAll(async () => {
      restoreDns?.();
      process.off('unhandledRejection', onProcessError);
      process.off('uncaughtException', onProcessError);
      await app?.close();
      await sink?.close();
      await store?.destroy();
      const top = [...statuses.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
      // One summary line for CI logs: what was sent and what came back.
      console.log(`fuzz ${driver} seed=${SEED}: ${JSON.stringify(sent)} outcomes ${JSON.stringify(Object.fromEntries(top))}`);
    });

    const urls = () => [
      `${sink.url}/custom`,
      `${sink.url.replace('127.0.0.1', '0x7f000001')}/odd-form`,
      'http://127.0.0.2/x',
      'http://10.0.0.1/x',
      'http://[::1]/x',
      'http://169.254.169.254/latest/meta-data',
      'http://user:pw@127.0.0.1/x',
      'ftp://127.0.0.1/x',
      'file:///etc/passwd',
      'http://no-such-host.invalid/x',
      'not a url',
    ];

    it(
      'answers generated REST requests on every route without a 5xx, in the envelope, and only to the right key',
      async () => {
        const routes = routesOf(doc);
        expect(routes.length).toBeGreaterThan(15);
        const pool = new Pool(`http://127.0.0.1:${port}`, { connections: IN_FLIGHT, headersTimeout: 20_000, bodyTimeout: 20_000 });
        const send = async (c: ReturnType<typeof httpCaseArb> extends fc.Arbitrary<infer T> ? T : never) => {
          const t0 = Date.now();
          try {
            const res = await pool.request({ method: c.method as any, path: c.path, headers: c.headers, body: c.body });
            // An event stream (GET /v1/incidents/events) does not end: its head is the answer judged.
            const stream = /^text\/event-stream/.test(String(res.headers['content-type'] ?? ''));
            if (stream) res.body.on('error', () => undefined).destroy();
            const text = stream ? '' : await res.body.text();
            if (process.env.FUZZ_DEBUG && Date.now() - t0 > Number(process.env.FUZZ_DEBUG))
              console.log(Date.now() - t0, res.statusCode, c.label.slice(0, 300), (c.body ?? '').length);
            sent.rest++;
            count(`http ${res.statusCode}`);
            const contentType = res.headers['content-type'] as string | undefined;
            const intact = c.method === c.route.method && !/path=(bad-id|odd-id|transform|trick)/.test(c.label);
            note(
              judgeHttp(
                { status: res.statusCode, contentType, body: text },
                { method: c.method, path: c.path, credential: c.credential, scope: c.route.scope, intact },
              ),
              c.label,
            );
            if (res.statusCode < 300 && c.method !== 'HEAD' && /json/.test(contentType ?? '')) ids.harvest(c.route.collection, JSON.parse(text));
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (code === 'UND_ERR_INVALID_ARG') sent.notSent++;
            else {
              sent.rest++;
              note([`transport error ${code}: ${(err as Error).message}`], c.label);
            }
          }
        };
        try {
          await fc.assert(
            fc.asyncProperty(httpCaseArb(routes, doc, keys, ids, urls()), (c) => inFlight.add(() => send(c))),
            { numRuns: counts.rest },
          );
          await inFlight.drain();
        } finally {
          await pool.close();
        }
        expect(findings).toEqual([]);
      },
      budget,
    );

    it(
      'answers malformed HTTP (odd methods, framing, header lines) in the envelope',
      async () => {
        await fc.assert(
          fc.asyncProperty(rawCaseArb(keys), (c) =>
            inFlight.add(async () => {
              let { answers, error } = await rawExchange(port, c.bytes, c.isHead);
              if (answers.length === 0 && !error && c.method !== 'CONNECT') {
                // Node aborts a request the client half-closed on before its answer was written
                // (a slower store makes that likelier): the same bytes again, without the half-close.
                ({ answers, error } = await rawExchange(port, c.bytes, c.isHead, 8_000, false));
                sent.halfClosedRetries++;
              }
              sent.raw++;
              if (error) note([error], c.label);
              if (answers.length === 0) {
                if (c.method === 'CONNECT') sent.nodeLevel++;
                else note(['closed without an answer'], c.label);
              }
              for (const a of answers) {
                count(`raw ${a.status}`);
                if (a.status === 417 && a.body === '') {
                  sent.nodeLevel++;
                  continue;
                }
                note(
                  judgeHttp(
                    { status: a.status, contentType: a.headers['content-type'], body: a.body },
                    { method: c.isHead ? 'HEAD' : 'GET', path: c.target, credential: c.credential, intact: false },
                  ),
                  c.label,
                );
              }
            }),
          ),
          { numRuns: counts.raw },
        );
        await inFlight.drain();
        expect(findings).toEqual([]);
      },
      budget,
    );

    it(
      'answers generated gRPC calls on every method without INTERNAL (but for undecodable messages) and only to the right key',
      async () => {
        const methods = grpcMethods();
        expect(methods.map((m) => m.path)).toEqual(
          expect.arrayContaining([
            '/llm_incident_manager.v1.AlertIngestion/StreamAlerts',
            '/llm_incident_manager.v1.IncidentService/StreamIncidents',
            '/grpc.health.v1.Health/Watch',
          ]),
        );
        const client = new grpc.Client(grpcAddress, grpc.credentials.createInsecure());
        const seen = new Set<string>();
        try {
          await fc.assert(
            fc.asyncProperty(grpcCaseArb(methods, keys, ids), (c) =>
              inFlight.add(async () => {
                // A bad key must be refused before a stream opens; a good one may stay open briefly.
                const outcome = await grpcCall(client, c, allows(c.credential, c.method.scope) ? 50 : 3_000);
                sent.grpc++;
                seen.add(c.method.path);
                const usual = [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.NOT_FOUND];
                count(`grpc ${grpc.status[outcome.code]}${usual.includes(outcome.code) ? '' : `: ${outcome.details.slice(0, 60)}`}`);
                const { problems, undecodable } = judgeGrpc(c, outcome);
                if (undecodable) sent.undecodable++;
                note(problems, c.label);
              }),
            ),
            { numRuns: counts.grpc },
          );
          await inFlight.drain();
        } finally {
          client.close();
        }
        expect([...seen].sort()).toEqual(methods.map((m) => m.path).sort());
        expect(findings).toEqual([]);
      },
      budget,
    );

    it('still answers afterwards, logged no unhandled error, and left no half-written row', async () => {
      expect(sent.rest + sent.raw + sent.grpc).toBeGreaterThanOrEqual(driver === 'sqlite' ? Math.min(RUNS, 10_000) : PG_RUNS);
      const server = app.getHttpServer();
      await request(server).get('/health/ready').expect(200);
      await authedHttp(server).get('/v1/incidents').expect(200);
      const client = new grpc.Client(grpcAddress, grpc.credentials.createInsecure());
      const listed = await grpcCall(
        client,
        {
          method: grpcMethods().find((m) => m.name === 'ListIncidents')!,
          credential: { kind: 'valid', values: [`Bearer ${ADMIN_KEY}`] },
          messages: [Buffer.alloc(0)],
          customMetadata: [],
          label: '',
        },
        0,
      );
      client.close();
      expect(listed.code).toBe(grpc.status.OK);

      expect(processErrors).toEqual([]);
      expect(logger.errors.filter((line) => /unhandled error/.test(line))).toEqual([]);
      expect(logger.errors).toEqual([]);

      const db = app.get<Kysely<Database>>(DATABASE);
      const incidents = await db.selectFrom('incidents').selectAll().execute();
      const timeline = await db.selectFrom('incident_timeline').select(['incident_id', 'event_type']).execute();
      const alerts = await db.selectFrom('alerts').select(['incident_id', 'status']).execute();
      const notes = await db.selectFrom('incident_notes').select('incident_id').execute();
      const deliveries = await db.selectFrom('notification_deliveries').select(['id', 'incident_id', 'payload']).execute();
      const apiKeys = await db.selectFrom('api_keys').select(['id', 'scopes']).execute();
      expect(incidents.length).toBeGreaterThan(3);

      const known = new Set(incidents.map((i) => i.id));
      const broken: string[] = [];
      const created = new Map<string, number>();
      const deduplicated = new Map<string, number>();
      for (const e of timeline) {
        if (e.event_type === 'created') created.set(e.incident_id, (created.get(e.incident_id) ?? 0) + 1);
        if (e.event_type === 'alert_deduplicated') deduplicated.set(e.incident_id, (deduplicated.get(e.incident_id) ?? 0) + 1);
      }
      const accepted = new Map<string, number>();
      const duplicates = new Map<string, number>();
      for (const a of alerts) {
        const into = a.status === 'Accepted' ? accepted : duplicates;
        into.set(a.incident_id, (into.get(a.incident_id) ?? 0) + 1);
      }
      for (const i of incidents) {
        if (created.get(i.id) !== 1) broken.push(`incident ${i.id} has ${created.get(i.id) ?? 0} 'created' entries`);
        const fromAlert = accepted.get(i.id) ?? 0;
        const dups = duplicates.get(i.id) ?? 0;
        if (fromAlert > 1) broken.push(`incident ${i.id} was opened by ${fromAlert} alerts`);
        // The first alert counts (or the manual creation), then each one folded in.
        if (Number(i.alert_count) !== 1 + dups) broken.push(`incident ${i.id}: alert_count ${i.alert_count}, ${fromAlert} + ${dups} alerts stored`);
        if ((deduplicated.get(i.id) ?? 0) !== dups) broken.push(`incident ${i.id}: ${dups} duplicate alerts, ${deduplicated.get(i.id) ?? 0} timeline entries`);
        for (const column of ['labels', 'assignees', 'affected_resources'] as const) {
          try {
            JSON.parse(i[column]);
          } catch {
            broken.push(`incident ${i.id}: ${column} is not JSON`);
          }
        }
        if ((i.state === 'Resolved' || i.state === 'Closed') !== (i.resolution !== null) && i.state !== 'Closed')
          broken.push(`incident ${i.id}: ${i.state} with resolution ${i.resolution}`);
      }
      for (const [table, rows] of [
        ['incident_timeline', timeline],
        ['alerts', alerts],
        ['incident_notes', notes],
        ['notification_deliveries', deliveries],
      ] as const) {
        for (const row of rows) if (!known.has(row.incident_id)) broken.push(`${table} row of missing incident ${row.incident_id}`);
      }
      for (const d of deliveries) {
        try {
          JSON.parse(d.payload);
        } catch {
          broken.push(`delivery ${d.id}: payload is not JSON`);
        }
      }
      for (const k of apiKeys) {
        const scopes = JSON.parse(k.scopes);
        if (!Array.isArray(scopes) || scopes.length === 0) broken.push(`api key ${k.id}: scopes ${k.scopes}`);
      }
      expect(broken).toEqual([]);
    }, 30_000);
  });
}
