import { openDatabase } from '../src/database/database';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } from '../src/grpc/grpc.server';
import { PassThrough } from 'node:stream';
import { AppLogger } from '../src/common/logger';
import type { AddressInfo } from 'node:net';
import { buildConfig, ConfigError } from '../src/config/config.loader';
import { MAX_MATCHER_VALUE_LENGTH, matches, parseMatchers } from '../src/routing/matchers';
import { ADMIN_KEY, alert, grpcKeyInterceptor, RunningApp, startApp, TestStore } from './support/harness';

/** A gRPC AlertIngestion call's answer, or its error. */
function grpcCall(address: string, method: string, request: object): Promise<{ value?: unknown; error?: grpc.ServiceError }> {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync([INCIDENT_MANAGER_PROTO], PROTO_LOADER_OPTIONS)) as any;
  const client = new loaded.llm_incident_manager.v1.AlertIngestion(address, grpc.credentials.createInsecure(), {
    interceptors: [grpcKeyInterceptor(ADMIN_KEY)],
  });
  return new Promise((resolve) =>
    client[method](request, { deadline: Date.now() + 30_000 }, (error: grpc.ServiceError | null, value: unknown) => {
      client.close();
      resolve(error ? { error } : { value });
    }),
  );
}

/**
 * Times GET /health/live back to back on a connection of its own while `work` runs: the longest
 * wait of one probe is how long the event loop was held.
 */
async function longestLivenessWait(app: RunningApp, work: () => Promise<unknown>): Promise<number> {
  const port = (app.app.getHttpServer().address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let running = true;
  let longest = 0;
  const probe = (async () => {
    while (running) {
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/health/live', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          })
          .on('error', reject);
      });
      longest = Math.max(longest, Date.now() - started);
    }
  })();
  try {
    await work();
  } finally {
    running = false;
    await probe;
    agent.destroy();
  }
  return longest;
}

describe('matchers are RE2, as Alertmanager’s', () => {
  const subject = (labels: Record<string, string>) => ({ severity: 'P2', source: 'prometheus', incident_type: 'Application', affected_resources: [], labels });

  it('match catastrophic patterns in linear time', () => {
    for (const [pattern, value] of [
      ['(a+)+', `${'a'.repeat(1024)}!`],
      ['(.|.|.|.|.)*Z', 'x'.repeat(1024)],
      ['(a|aa)*b', 'a'.repeat(1024)],
      ['(x+x+)+y', 'x'.repeat(1024)],
      // Counted repetitions at the limit (100 characters expanded): the program RE2 builds is
      // at its largest.
      ['.*a.{0,100}', `${'a'.repeat(500)}${'b'.repeat(524)}`],
      ['(.{0,10}){10}a', 'ab'.repeat(512)],
    ]) {
      const [m] = parseMatchers(`label=~"${pattern}"`);
      const started = process.hrtime.bigint();
      expect(matches(m, subject({ label: value }))).toBe(false);
      // Backtracking took seconds on 30 characters; RE2 takes microseconds on 1,024. The bound
      // is loose so that a busy machine cannot fail it; the figures are in bench/matchers.js.
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
    }
  });

  it('keep Alertmanager’s meaning: anchored, alternation, classes, case-insensitive flag', () => {
    const [m] = parseMatchers('env=~"prod|staging"');
    expect(matches(m, subject({ env: 'prod' }))).toBe(true);
    expect(matches(m, subject({ env: 'production' }))).toBe(false); // anchored at both ends
    expect(matches(parseMatchers('host=~"db-[0-9]+"')[0], subject({ host: 'db-12' }))).toBe(true);
    expect(matches(parseMatchers('team=~"(?i)payments"')[0], subject({ team: 'PAYMENTS' }))).toBe(true);
    expect(matches(parseMatchers('team!~"pay.*"')[0], subject({ team: 'ads' }))).toBe(true);
  });

  it('refuse what RE2 cannot express (backreferences, lookaround) and over-long values, naming the matcher', () => {
    expect(() => parseMatchers('x=~"(a)\\\\1"')).toThrow(/RE2/);
    expect(() => parseMatchers('x=~"(?=a)a"')).toThrow(/RE2/);
    expect(() => parseMatchers('x=~"(?<!a)b"')).toThrow(/RE2/);
    expect(() => parseMatchers(`x="${'v'.repeat(MAX_MATCHER_VALUE_LENGTH + 1)}"`)).toThrow(/longer than 1024 characters/);
    // `.*a.{0,1000}` compiles to a thousand states: 22 ms on one label. Nested counts multiply.
    expect(() => parseMatchers('x=~".*a.{0,1000}"', { limitRepetition: true })).toThrow(/expand to 1000 characters, more than 100/);
    expect(() => parseMatchers('x=~"((.*a){20}){10}"', { limitRepetition: true })).toThrow(/expand to 400 characters/);
    expect(() => parseMatchers('x=~"(.{0,20}){11}a"', { limitRepetition: true })).toThrow(/expand to 220 characters/);
    // Only a request's patterns are held to it: the operator's config file, and silences stored
    // before the limit, are read as written.
    expect(() => parseMatchers('x=~".*a.{0,1000}"')).not.toThrow();
    // What does not expand is not counted: long literals, classes, escaped braces, * + ?.
    expect(() => parseMatchers(`x=~"${'literal|'.repeat(120)}end"`, { limitRepetition: true })).not.toThrow();
    expect(() => parseMatchers('x=~"[a{]{100}\\\\{500}(b|c)*"', { limitRepetition: true })).not.toThrow();
    let error: ConfigError | undefined;
    try {
      buildConfig({ route: { routes: [{ matchers: ['team=~"(a)\\\\1"'], receiver: 'default' }] } }, {});
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems).toEqual([expect.objectContaining({ key: 'route.routes[0].matchers[0]', message: expect.stringContaining('RE2') })]);
  });
});

describe('hostile matchers through the API', () => {
  let store: TestStore;
  let app: RunningApp;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    app = await startApp(store);
  });
  afterAll(async () => {
    await app.close();
    await store.destroy();
  });

  it('a stored catastrophic silence, explain and preview answer without holding the event loop', async () => {
    const longest = await longestLivenessWait(app, async () => {
      await app.http
        .post('/v1/silences')
        .send({
          matchers: ['x=~"(a+)+"', 'source=~"(.|.|.|.|.)*Z"'],
          ends_at: new Date(Date.now() + 3_600_000).toISOString(),
          comment: 'hostile',
          created_by: 'test',
        })
        .expect(201);
      for (let i = 0; i < 5; i++) {
        await app.http
          .post('/v1/routing/explain')
          .send({ severity: 'P2', labels: { x: `${'a'.repeat(999)}!` } })
          .expect(200);
        await app.http
          .post('/v1/silences/preview')
          .send({ matchers: ['incident_type=~"(.|.|.|.|.)*Z"', `x=~"(a|aa)*b"`] })
          .expect(200);
        // An ordinary alert is checked against the stored silence.
        await app.http
          .post('/v1/alerts')
          .send(alert({ title: `ordinary ${i}`, source: 'prometheus', labels: { x: `${'a'.repeat(1000)}!` } }))
          .expect(200);
      }
    });
    // Backtracking held it 1.9–8.5 s per request. Under 100 ms alone; the bound leaves room for
    // the other test worker taking the cores in CI.
    expect(longest).toBeLessThan(1_000);
  });

  it('refuses bodies nested five million levels deep, four at once, with and without a key, without holding the event loop', async () => {
    const deep = `{"labels":${'['.repeat(5_000_000)}`;
    const longest = await longestLivenessWait(app, () =>
      Promise.all(
        [app.http, app.anon, app.http, app.anon].map((client) =>
          client
            .post('/v1/alerts')
            .set('content-type', 'application/json')
            .send(deep)
            .then((res) => expect([400, 401]).toContain(res.status)),
        ),
      ),
    );
    // It held the loop 16 s before the raw scan. About 100 ms alone (four 5 MB bodies read and
    // scanned); 304 and 648 ms in CI runs with the other test worker (the fuzzer, Chromium)
    // taking both cores: the bound is ten times under what it guards against.
    expect(longest).toBeLessThan(1_500);
  });

  it('refuses maps of 200,000 keys (REST) and 100,000 (gRPC) naming the field, without holding the event loop', async () => {
    // Serialized before the probe starts: the client runs in the service's process here.
    const huge = JSON.stringify(alert({ labels: Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v'])) }));
    const hugeExplain = JSON.stringify({ labels: Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v'])) });
    const grpcLabels = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v']));
    const grpcApp = await startApp(store, { grpc: true });
    try {
      // Each exchange on its own: a gRPC client encodes its message in this (the service's) process.
      const rest = await longestLivenessWait(grpcApp, async () => {
        // Refused from the raw text, before it is parsed.
        const alerted = await grpcApp.http.post('/v1/alerts').set('content-type', 'application/json').send(huge).expect(400);
        expect(alerted.body.error.details.fields[0]).toEqual({ field: 'body', message: 'an object has more than 1000 members' });
        const explained = await grpcApp.http.post('/v1/routing/explain').set('content-type', 'application/json').send(hugeExplain).expect(400);
        expect(explained.body.error.details.fields[0].field).toBe('body');
        // A map over its own limit but of ordinary size: parsed, and refused naming the field.
        await grpcApp.http
          .post('/v1/alerts')
          .send(alert({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }))
          .expect(400)
          .expect((res) => expect(res.body.error.details.fields[0].field).toBe('labels'));
      });
      const submitted = await grpcCall(grpcApp.grpcAddress, 'SubmitAlert', {
        alert: { source: 'grpc', title: 't', description: 'd', severity: 'P2', alert_type: 'APPLICATION', labels: grpcLabels },
      });
      expect(submitted.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(submitted.error?.metadata.get('error-fields')).toEqual(['alert.labels']);

      // Hand-made on the wire: a group first (protobufjs would skip it and decode the rest
      // unchecked), and a packed list of 5,000 enum values in one record.
      const varint = (n: number) => {
        const out: number[] = [];
        for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
        out.push(n);
        return Buffer.from(out);
      };
      const record = (field: number, payload: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
      const text = (field: number, value: string) => record(field, Buffer.from(value));
      const raw = (path: string, body: Buffer) =>
        new Promise<grpc.ServiceError | null>((resolve) => {
          const client = new grpc.Client(grpcApp.grpcAddress, grpc.credentials.createInsecure());
          const metadata = new grpc.Metadata();
          metadata.set('authorization', `Bearer ${ADMIN_KEY}`);
          client.makeUnaryRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            body,
            metadata,
            (error) => {
              client.close();
              resolve(error);
            },
          );
        });
      const grouped = Buffer.concat([
        Buffer.from([0x7b, 0x7c]),
        text(1, 'grpc'),
        text(2, 't'),
        ...Array.from({ length: 5_000 }, (_, i) => record(8, Buffer.concat([text(1, `k${i}`), text(2, 'v')]))),
      ]);
      const groupError = await raw('/llm_incident_manager.v1.AlertIngestion/SubmitAlert', record(1, grouped));
      expect(groupError?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(groupError?.metadata.get('error-fields')).toEqual(['alert']);
      const packedError = await raw('/llm_incident_manager.v1.IncidentService/ListIncidents', record(1, Buffer.alloc(5_000, 1)));
      expect(packedError?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(packedError?.metadata.get('error-fields')).toEqual(['state']);
      process.stdout.write(`hostile maps: liveness waited at most ${rest} ms\n`);
      // 2.6–50 s before; 34–72 ms alone; room for the other test worker in CI (277 ms seen).
      expect(rest).toBeLessThan(1_000);
    } finally {
      await grpcApp.close();
    }
  });

  it('refuses a pattern RE2 cannot express with 400 naming the matcher, in silences and in the preview', async () => {
    const refused = await app.http
      .post('/v1/silences')
      .send({ matchers: ['team="a"', 'x=~"(a)\\\\1"'], ends_at: new Date(Date.now() + 3_600_000).toISOString(), comment: 'bad', created_by: 'test' })
      .expect(400);
    expect(refused.body.error.details.fields).toEqual([expect.objectContaining({ field: 'matchers[1]', message: expect.stringContaining('RE2') })]);
    const preview = await app.http
      .post('/v1/silences/preview')
      .send({ matchers: ['x=~"(?=a)a"'] })
      .expect(400);
    expect(preview.body.error.details.fields[0].field).toBe('matchers[0]');
  });
});

describe('label names that are also JavaScript’s', () => {
  let store: TestStore;
  let app: RunningApp;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    app = await startApp(store);
  });
  afterAll(async () => {
    await app.close();
    await store.destroy();
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])('stores a label named %s as an ordinary label on every route', async (name) => {
    const labels = JSON.parse(`{"${name}": "one", "team": "a"}`) as Record<string, string>;
    const posted = await app.http
      .post('/v1/alerts')
      .send(alert({ title: `label ${name}`, labels, annotations: JSON.parse(`{"${name}": "note"}`) }))
      .expect(200);
    const id = posted.body.incident_id;
    expect((await app.http.get(`/v1/incidents/${id}`).expect(200)).body.labels).toEqual({ [name]: 'one', team: 'a' });
    const alerts = (await app.http.get(`/v1/incidents/${id}/alerts`).expect(200)).body;
    expect(alerts[0].labels).toEqual({ [name]: 'one', team: 'a' });
    expect(alerts[0].annotations).toEqual({ [name]: 'note' });
    const patched = await app.http
      .patch(`/v1/incidents/${id}`)
      .send({ labels: JSON.parse(`{"${name}": "two"}`) })
      .expect(200);
    expect(patched.body.labels).toEqual({ [name]: 'two' });
    const created = await app.http
      .post('/v1/incidents')
      .send({
        title: `created ${name}`,
        description: 'd',
        severity: 'P3',
        incident_type: 'Application',
        source: 's',
        labels: JSON.parse(`{"${name}": "three"}`),
      })
      .expect(201);
    expect(created.body.labels).toEqual({ [name]: 'three' });
    const explained = await app.http
      .post('/v1/routing/explain')
      .send({ severity: 'P2', labels: JSON.parse(`{"${name}": "four"}`) })
      .expect(200);
    expect(explained.body.subject.labels).toEqual({ [name]: 'four' });
    const silenced = await app.http
      .post('/v1/silences/preview')
      .send({ matchers: [`${name}="one"`] })
      .expect(200);
    expect(silenced.body.total).toBeGreaterThanOrEqual(0);
  });

  it('refuses a key named __proto__ with 400 naming it, never dropping it silently', async () => {
    const res = await app.http
      .post('/v1/alerts')
      .set('content-type', 'application/json')
      .send('{"source":"p","title":"t","description":"d","severity":"P3","alert_type":"Application","labels":{"__proto__":"x"}}')
      .expect(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: '__proto__' })]);
  });

  it('refuses a nested field named constructor naming its path, and keeps one inside a webhook payload (found by the fuzzer)', async () => {
    const id = (
      await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'nested constructor' }))
        .expect(200)
    ).body.incident_id;
    const channel = JSON.stringify({ message: 'm', channels: [{ type: 'webhook', url: 'https://hooks.example.com/x', constructor: 'v' }] });
    const refused = await app.http.post(`/v1/incidents/${id}/notifications`).set('content-type', 'application/json').send(channel).expect(400);
    expect(refused.body.error.details.fields).toEqual([expect.objectContaining({ field: 'channels[0].constructor' })]);
    const resolution = JSON.stringify({ state: 'Resolved', actor: 'a', resolution: { resolved_by: 'a', method: 'Manual', notes: 'n', constructor: 'v' } });
    const nested = await app.http.post(`/v1/incidents/${id}/transition`).set('content-type', 'application/json').send(resolution).expect(400);
    expect(nested.body.error.details.fields).toEqual([expect.objectContaining({ field: 'resolution.constructor' })]);
    // A webhook payload is the sender's own JSON: any key goes (the webhook channel is off in
    // this service, which is what its answer says).
    const payload = JSON.stringify({
      message: 'm',
      channels: [{ type: 'webhook', url: 'https://hooks.example.com/x', payload: { constructor: 'v', nested: { constructor: 1 } } }],
    });
    const accepted = await app.http.post(`/v1/incidents/${id}/notifications`).set('content-type', 'application/json').send(payload);
    expect(accepted.status).not.toBe(500);
    expect([accepted.status, accepted.body.error?.details?.fields?.[0]?.field]).not.toEqual([400, expect.stringContaining('constructor')]);
  });

  it('refuses a top-level field named constructor as an unknown field, not a 500', async () => {
    const res = await app.http
      .post('/v1/alerts')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ ...alert(), constructor: 'x' }))
      .expect(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: 'constructor' })]);
  });
});

describe('the session cookie of the configured mode only', () => {
  let store: TestStore;
  let app: RunningApp;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    app = await startApp(store, { overrides: { console: { secure_cookie: true } } });
  });
  afterAll(async () => {
    await app.close();
    await store.destroy();
  });

  async function tokenOf(apiKey: string): Promise<string> {
    const res = await app.anon.post('/v1/session').send({ api_key: apiKey }).expect(201);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^__Host-lim_session=[A-Za-z0-9_-]{43}; Path=\/;.*; Secure$/);
    return /^__Host-lim_session=([^;]+)/.exec(setCookie)![1];
  }

  it('with a Secure cookie, never reads a plain lim_session, which anyone who can set a cookie for the domain could plant', async () => {
    const reader = (
      await app.http
        .post('/v1/api-keys')
        .send({ name: 'reader', scopes: ['incidents:read'] })
        .expect(201)
    ).body.key as string;
    const victim = await tokenOf(ADMIN_KEY);
    const planted = await tokenOf(reader);
    // The victim's own cookie works; the planted plain one, alone or beside it, is not read.
    expect((await app.anon.get('/v1/session').set('cookie', `__Host-lim_session=${victim}`).expect(200)).body.key_name).toBe('bootstrap');
    await app.anon.get('/v1/session').set('cookie', `lim_session=${planted}`).expect(401);
    await app.anon.get('/v1/incidents').set('cookie', `lim_session=${planted}`).expect(401);
    const both = await app.anon.get('/v1/session').set('cookie', `lim_session=${planted}; __Host-lim_session=${victim}`).expect(200);
    expect(both.body.key_name).toBe('bootstrap');
  });
});

describe('the event-loop guard', () => {
  it('logs a task that held the loop over 200 ms with the routes in progress, and counts it', async () => {
    const store = await TestStore.create('sqlite');
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const app = await startApp(store, { logger: new AppLogger('info', sink, 'json') });
    try {
      const port = (app.app.getHttpServer().address() as AddressInfo).port;
      // A request in progress: the live event stream stays open.
      const stream = http.get({ host: '127.0.0.1', port, path: '/v1/incidents/events', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      await new Promise((resolve) => stream.once('response', resolve));
      // The test holds the loop (it runs in the service's process): 400 ms of busy work. Only
      // what is logged from now on counts: a busy CI machine can stall the start-up too.
      const before = text.length;
      const end = Date.now() + 400;
      while (Date.now() < end);
      const line = await (async () => {
        for (let i = 0; i < 100; i++) {
          const found = text
            .slice(before)
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as Record<string, any>)
            .find((l) => l.context === 'EventLoop');
          if (found) return found;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return undefined;
      })();
      expect(line).toMatchObject({ level: 40, msg: 'The event loop was held: every request waited', routes_in_progress: ['GET /v1/incidents/events'] });
      expect(line!.held_ms).toBeGreaterThanOrEqual(300);
      expect((await app.http.get('/metrics').expect(200)).text).toMatch(/^llm_im_event_loop_stalls_total [1-9]/m);
      stream.destroy();
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});

describe('authentication before the body', () => {
  let store: TestStore;
  let app: RunningApp;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    app = await startApp(store);
  });
  afterAll(async () => {
    await app.close();
    await store.destroy();
  });

  it('answers 401 without reading the body: a body that is not even JSON gets 401, not 400', async () => {
    const res = await app.anon.post('/v1/alerts').set('content-type', 'application/json').send('{not json').expect(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    const wrongKey = await app.anon
      .post('/v1/alerts')
      .set('authorization', 'Bearer lim_0123456789abcdef_nope')
      .set('content-type', 'application/json')
      .send('{not json');
    expect(wrongKey.status).toBe(401);
    // With a key, the same body is read and refused for what it is.
    expect((await app.http.post('/v1/alerts').set('content-type', 'application/json').send('{not json').expect(400)).body.error.code).toBe('MALFORMED_JSON');
  });

  it('keeps the routes whose credential is in the body to small bodies', async () => {
    await app.anon
      .post('/v1/session')
      .send({ api_key: 'x'.repeat(5000) })
      .expect(413);
    await app.anon
      .post('/v2/enqueue')
      .send({ routing_key: 'k', event_action: 'trigger', payload: { summary: 'x'.repeat(600_000), source: 's', severity: 'error' } })
      .expect(413);
    // An ordinary sign-in still works.
    await app.anon.post('/v1/session').send({ api_key: ADMIN_KEY }).expect(201);
  });
});

describe('large reads per key', () => {
  it('serves four pages of 500 incidents at once per key and answers the rest 429, so 200 at once do not hold the event loop', async () => {
    const store = await TestStore.create('sqlite');
    const app = await startApp(store, { overrides: { limits: { max_concurrent_requests_per_key: 1000, max_expensive_reads_per_key: 4 } } });
    try {
      for (let start = 0; start < 500; start += 250) {
        const batch = Array.from({ length: 250 }, (_, i) =>
          alert({ title: `load ${start + i}`, description: 'd'.repeat(2000), labels: { n: String(start + i) } }),
        );
        await app.http.post('/v1/alerts').send(batch).expect(200);
      }
      const statuses: number[] = [];
      const longest = await longestLivenessWait(app, () =>
        Promise.all(
          Array.from({ length: 200 }, () =>
            app.http.get('/v1/incidents?page_size=500').then((res) => {
              statuses.push(res.status);
              if (res.status === 429) expect(res.body.error.details.limit).toBe('limits.max_expensive_reads_per_key');
            }),
          ),
        ),
      );
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      // Under 250 ms run alone; 410 and 520 ms in CI runs, with the other test worker busy on
      // the cores (it held the loop 7.4 s before the cap).
      expect(longest).toBeLessThan(1_500);
      // A slot is given back when its answer is done.
      await app.http.get('/v1/incidents?page_size=500').expect(200);
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});

describe('long histories', () => {
  it('pages an incident’s alerts and timeline (X-Total-Count) and gives the detail its newest 500 entries', async () => {
    const store = await TestStore.create('sqlite');
    const app = await startApp(store, { overrides: { limits: { max_concurrent_requests_per_key: 1000 } } });
    try {
      const first = await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'flapping' }))
        .expect(200);
      const id = first.body.incident_id;
      await app.http
        .post('/v1/alerts')
        .send(Array.from({ length: 1000 }, () => alert({ title: 'flapping' })))
        .expect(200);
      await app.http
        .post('/v1/alerts')
        .send(Array.from({ length: 200 }, () => alert({ title: 'flapping' })))
        .expect(200);
      // 1,201 alerts; the timeline has "created" and one "deduplicated" per repeat.
      const alerts = await app.http.get(`/v1/incidents/${id}/alerts`).expect(200);
      expect(alerts.body).toHaveLength(1000);
      expect(alerts.headers['x-total-count']).toBe('1201');
      expect(alerts.body[0].id).toBe(first.body.alert_id); // oldest first
      const rest = await app.http.get(`/v1/incidents/${id}/alerts?page=2`).expect(200);
      expect(rest.body).toHaveLength(201);
      const small = await app.http.get(`/v1/incidents/${id}/alerts?page=3&page_size=500`).expect(200);
      expect(small.body).toHaveLength(201);
      await app.http
        .get(`/v1/incidents/${id}/alerts?page_size=1001`)
        .expect(400)
        .expect((res) => expect(res.body.error.details.fields[0].field).toBe('page_size'));

      const timeline = await app.http.get(`/v1/incidents/${id}/timeline?page_size=100`).expect(200);
      expect(timeline.body).toHaveLength(100);
      const total = Number(timeline.headers['x-total-count']);
      expect(total).toBeGreaterThanOrEqual(1201);
      expect(timeline.body[0].event_type).toBe('created');

      const detail = await app.http.get(`/v1/incidents/${id}`).expect(200);
      expect(detail.body.timeline).toHaveLength(500);
      expect(detail.body.timeline_total).toBe(total);
      const last = await app.http.get(`/v1/incidents/${id}/timeline?page=${Math.ceil(total / 100)}&page_size=100`).expect(200);
      // The detail ends where the timeline ends: its entries are the newest.
      expect(detail.body.timeline.at(-1)).toEqual(last.body.at(-1));
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});

describe('HEAD on the event stream', () => {
  it('answers the headers and ends, instead of holding the connection without a word (found by the fuzzer)', async () => {
    const store = await TestStore.create('sqlite');
    const app = await startApp(store);
    try {
      const res = await app.http.head('/v1/incidents/events').timeout(5_000).expect(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      // The stream slot it took is given back: the key can still open its streams.
      for (let i = 0; i < 20; i++) await app.http.head('/v1/incidents/events').timeout(5_000).expect(200);
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});

describe('silences stored before the matcher limits', () => {
  it('are still read: one past the repetition limit still silences, one RE2 refuses matches nothing, and neither fails a request', async () => {
    const store = await TestStore.create('sqlite');
    const app = await startApp(store);
    try {
      const create = async (team: string) =>
        (
          await app.http
            .post('/v1/silences')
            .send({ matchers: [`team="${team}"`], ends_at: new Date(Date.now() + 3_600_000).toISOString(), comment: team, created_by: 'test' })
            .expect(201)
        ).body.id;
      const long = await create('old-long');
      const refused = await create('old-refused');
      // As an older version stored them: a hostname pattern past today's request limit, a lookahead.
      const opened = openDatabase(store.config());
      try {
        await opened.db
          .updateTable('silences')
          .set({ matchers: JSON.stringify(['team="old-long"', 'host=~".*[a-z0-9-]{1,253}"']) })
          .where('id', '=', long)
          .execute();
        await opened.db
          .updateTable('silences')
          .set({ matchers: JSON.stringify(['team="old-refused"', 'x=~"(?=a)a"']) })
          .where('id', '=', refused)
          .execute();
      } finally {
        await opened.close();
      }
      // A new one with the same pattern is refused, naming it.
      const now = await app.http
        .post('/v1/silences')
        .send({ matchers: ['host=~".*[a-z0-9-]{1,253}"'], ends_at: new Date(Date.now() + 3_600_000).toISOString(), comment: 'new', created_by: 'test' })
        .expect(400);
      expect(now.body.error.details.fields[0].field).toBe('matchers[0]');

      const silenced = await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'old long', labels: { team: 'old-long', host: 'db-1' } }))
        .expect(200);
      const notSilenced = await app.http
        .post('/v1/alerts')
        .send(alert({ title: 'old refused', labels: { team: 'old-refused', x: 'a' } }))
        .expect(200);
      const explain = async (id: string) =>
        (await app.http.post('/v1/routing/explain').send({ incident_id: id }).expect(200)).body.silenced_by.map((s: { id: string }) => s.id);
      expect(await explain(silenced.body.incident_id)).toEqual([long]);
      expect(await explain(notSilenced.body.incident_id)).toEqual([]);
      expect((await app.http.get('/v1/silences').expect(200)).body.map((s: { id: string }) => s.id).sort()).toEqual([long, refused].sort());
      await app.http.post(`/v1/silences/${refused}/expire`).send({}).expect(200);
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});
