import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } from '../src/grpc/grpc.server';
import { MetricsService } from '../src/metrics/metrics.service';
import { FakeTarget, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, authedHttp, drivers, freePort, grpcKeyInterceptor, RunningApp, startApp, TestStore } from './support/harness';

const PROMTOOL = '/usr/bin/promtool';
const AMTOOL = '/usr/bin/amtool';
const EXAMPLES = join(__dirname, '..', 'examples', 'prometheus');

/** One sample of the exposition text: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samplesOf(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and (at least) these labels; 0 when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${matching.length} samples`);
  return matching[0]?.value ?? 0;
}

async function scrape(app: RunningApp): Promise<{ text: string; samples: Sample[] }> {
  const res = await app.http.get('/metrics').expect(200);
  return { text: res.text, samples: samplesOf(res.text) };
}

/** promtool's own check of the exposition format and naming (it reads the text on stdin). */
function promtoolCheckMetrics(text: string): void {
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
}

/** GET on a listener of its own (no supertest: it would start the app's server). */
function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(drivers())('metrics on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp | undefined;
  let webhook: FakeTarget;

  beforeEach(async () => {
    store = await TestStore.create(driver);
    webhook = await webhookSink();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await webhook.close();
    await store.destroy();
  });

  const withWebhook = (overrides: Record<string, Record<string, unknown>> = {}) =>
    startApp(store, {
      overrides: { notifications: { webhook_enabled: true, default_webhook_url: `${webhook.url}/hook`, retry_backoff_secs: 0 }, ...overrides },
      env: WEBHOOK_SIGNING_ENV,
    });

  it('counts alerts by result, transitions, deliveries and requests, and passes promtool check metrics', async () => {
    app = await withWebhook();
    const first = await app.http
      .post('/v1/alerts')
      .send(alert({ external_id: 'ext-1' }))
      .expect(200);
    expect(first.body.status).toBe('Accepted');
    // The same fingerprint: folded in. The same external id again: already received.
    await app.http.post('/v1/alerts').send(alert()).expect(200);
    await app.http
      .post('/v1/alerts')
      .send(alert({ external_id: 'ext-1' }))
      .expect(200);
    await app.http
      .post('/v1/alerts')
      .send(alert({ title: '' }))
      .expect(400);
    await app.http
      .post('/v1/alerts')
      .send([alert({ severity: 'P9' }), alert({ source: 'grafana' })])
      .expect(400);
    const id: string = first.body.incident_id;
    await app.http.post(`/v1/incidents/${id}/transition`).send({ state: 'Triaged', actor: 'alice' }).expect(200);
    await app.http.get(`/v1/incidents/${id}`).expect(200);
    await app.http.get('/v1/no-such-route').expect(404);

    // Detected and Triaged each send one webhook.
    await webhook.waitFor(2);
    // The counters move when the target answers; the store's rows a few ms later, when the
    // outcome is written (the gauges read those).
    const { text, samples } = await until(
      () => scrape(app!),
      ({ samples: s }) =>
        valueOf(s, 'llm_im_deliveries_total', { channel: 'webhook', outcome: 'sent' }) === 2 &&
        valueOf(s, 'llm_im_deliveries_pending', { channel: 'webhook' }) === 0 &&
        valueOf(s, 'llm_im_deliveries_in_flight', { channel: 'webhook' }) === 0,
    );
    const alerts = (source: string, result: string) => valueOf(samples, 'llm_im_alerts_received_total', { source, result, integration: 'api' });
    expect([alerts('prometheus', 'accepted'), alerts('prometheus', 'duplicate'), alerts('prometheus', 'rejected'), alerts('grafana', 'rejected')]).toEqual([
      1, 2, 2, 1,
    ]);
    expect(valueOf(samples, 'llm_im_incident_transitions_total', { from: 'none', to: 'Detected' })).toBe(1);
    expect(valueOf(samples, 'llm_im_incident_transitions_total', { from: 'Detected', to: 'Triaged' })).toBe(1);
    expect(valueOf(samples, 'llm_im_incidents_open', { state: 'Triaged', severity: 'P2' })).toBe(1);
    expect(valueOf(samples, 'llm_im_incidents_open', { state: 'Detected', severity: 'P2' })).toBe(0);
    expect(valueOf(samples, 'llm_im_delivery_attempts_total', { channel: 'webhook', result: 'delivered' })).toBe(2);
    expect(valueOf(samples, 'llm_im_alert_to_delivery_seconds_count', { channel: 'webhook' })).toBe(2);
    expect(valueOf(samples, 'llm_im_deliveries_in_flight', { channel: 'webhook' })).toBe(0);
    expect(valueOf(samples, 'llm_im_oldest_pending_delivery_age_seconds')).toBe(0);
    expect(valueOf(samples, 'llm_im_deliveries_total', { channel: 'webhook', outcome: 'failed' })).toBe(0);

    const http = (method: string, route: string, status: string) => valueOf(samples, 'llm_im_http_requests_seconds_count', { method, route, status });
    expect([
      http('POST', '/v1/alerts', '200'),
      http('POST', '/v1/alerts', '400'),
      http('GET', '/v1/incidents/:id', '200'),
      http('GET', 'unmatched', '404'),
    ]).toEqual([3, 2, 1, 1]);
    expect(
      valueOf(samples, 'llm_im_transaction_seconds_count', { kind: 'single' }) + valueOf(samples, 'llm_im_transaction_seconds_count', { kind: 'grouped' }),
    ).toBeGreaterThan(0);
    // prom-client's process metrics, on the app's registry with the prefix.
    expect(samples.some((s) => s.name === 'llm_im_process_cpu_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'llm_im_nodejs_eventloop_lag_seconds')).toBe(true);

    // No label value is an id, a URL or the raw path.
    const values = samples.flatMap((s) => Object.values(s.labels));
    for (const value of values) {
      expect(value).not.toContain(id);
      expect(value).not.toMatch(/https?:\/\//);
      expect(value).not.toContain('no-such-route');
    }
    promtoolCheckMetrics(text);
  });

  it('counts a delivery the target refuses for good as one permanent attempt and one failed delivery', async () => {
    app = await withWebhook();
    webhook.always = { status: 400, body: 'bad request' };
    await app.http.post('/v1/alerts').send(alert()).expect(200);
    const { samples } = await until(
      () => scrape(app!),
      ({ samples: s }) => valueOf(s, 'llm_im_deliveries_total', { channel: 'webhook', outcome: 'failed' }) === 1,
    );
    expect(valueOf(samples, 'llm_im_delivery_attempts_total', { channel: 'webhook', result: 'permanent' })).toBe(1);
    expect(valueOf(samples, 'llm_im_deliveries_total', { channel: 'webhook', outcome: 'sent' })).toBe(0);
    expect(valueOf(samples, 'llm_im_alert_to_delivery_seconds_count', { channel: 'webhook' })).toBe(0);
  });

  it('refuses a metrics.port that is already the HTTP or gRPC port', () => {
    expect(() => store.config({ server: { http_port: 9464 }, metrics: { port: 9464 } })).toThrow(/metrics\.port: 9464 is already the http_port/);
    expect(() => store.config({ server: { grpc_port: 9464 }, metrics: { port: 9464 } })).toThrow(/metrics\.port: 9464 is already the grpc_port/);
  });

  it('keeps at most 20 source values (then "other"), so senders cannot grow the series', async () => {
    app = await startApp(store);
    for (let i = 0; i < 30; i++) {
      await app.http
        .post('/v1/alerts')
        .send(alert({ source: `sender-${i}`, title: `alert ${i}` }))
        .expect(200);
    }
    const { samples } = await scrape(app);
    const received = samples.filter((s) => s.name === 'llm_im_alerts_received_total');
    const sources = new Set(received.map((s) => s.labels.source));
    expect(sources.size).toBe(21);
    expect(sources.has('other')).toBe(true);
    expect(valueOf(samples, 'llm_im_alerts_received_total', { source: 'other', result: 'accepted' })).toBe(10);
    expect(received.reduce((sum, s) => sum + s.value, 0)).toBe(30);
  });

  it('needs a key with metrics:read (or admin) on the main server, and answers in the exposition content type', async () => {
    app = await startApp(store);
    const unauthenticated = await app.anon.get('/metrics').expect(401);
    expect(unauthenticated.body.error.code).toBe('UNAUTHENTICATED');
    const keyWith = async (scopes: string[]) =>
      (
        await app!.http
          .post('/v1/api-keys')
          .send({ name: scopes.join('+'), scopes })
          .expect(201)
      ).body.key as string;
    const server = app.app.getHttpServer();
    const forbidden = await authedHttp(server, await keyWith(['incidents:read', 'alerts:write']))
      .get('/metrics')
      .expect(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    const allowed = await authedHttp(server, await keyWith(['metrics:read']))
      .get('/metrics')
      .expect(200);
    expect(allowed.headers['content-type']).toBe(app.app.get(MetricsService).contentType);
    expect(allowed.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(allowed.text).toContain('# TYPE llm_im_alerts_received_total counter');
    // The scope is stated in the OpenAPI document like every other route's.
    const doc = (await app.anon.get('/docs/openapi.json').expect(200)).body;
    expect(doc.paths['/metrics'].get['x-required-scope']).toBe('metrics:read');
  });

  it('counts gRPC calls by method and final status, refusals of the access guard included', async () => {
    app = await startApp(store, { grpc: true });
    const definition = protoLoader.loadSync(INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS);
    const v1 = (grpc.loadPackageDefinition(definition) as any).llm_incident_manager.v1;
    const credentials = grpc.credentials.createInsecure();
    const authed = new v1.AlertIngestion(app.grpcAddress, credentials, { interceptors: [grpcKeyInterceptor(ADMIN_KEY)] });
    const anonymous = new v1.AlertIngestion(app.grpcAddress, credentials);
    const call = (client: any, request: object) =>
      new Promise<grpc.status>((resolve) =>
        client.SubmitAlert(request, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK)),
      );
    const good = { alert: { source: 'prometheus', title: 't', description: 'd', severity: 'P2', alert_type: 'APPLICATION' } };
    try {
      expect(await call(authed, good)).toBe(grpc.status.OK);
      expect(await call(authed, { alert: { ...good.alert, title: '' } })).toBe(grpc.status.INVALID_ARGUMENT);
      expect(await call(anonymous, good)).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      authed.close();
      anonymous.close();
    }
    const { text, samples } = await scrape(app);
    const method = '/llm_incident_manager.v1.AlertIngestion/SubmitAlert';
    const calls = (code: string) => valueOf(samples, 'llm_im_grpc_calls_total', { method, code });
    expect([calls('OK'), calls('INVALID_ARGUMENT'), calls('UNAUTHENTICATED')]).toEqual([1, 1, 1]);
    expect(valueOf(samples, 'llm_im_grpc_call_seconds_count', { method, code: 'OK' })).toBe(1);
    expect(valueOf(samples, 'llm_im_alerts_received_total', { source: 'prometheus', result: 'accepted', integration: 'api' })).toBe(1);
    expect(valueOf(samples, 'llm_im_alerts_received_total', { source: 'prometheus', result: 'rejected', integration: 'api' })).toBe(1);
    promtoolCheckMetrics(text);
  });

  it('with metrics.port set, serves them there without a key and not on the main server', async () => {
    const port = await freePort();
    app = await startApp(store, { overrides: { server: { host: '127.0.0.1' }, metrics: { port } } });
    await app.http.post('/v1/alerts').send(alert()).expect(200);
    const scraped = await get(port, '/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.type).toBe(app.app.get(MetricsService).contentType);
    expect(valueOf(samplesOf(scraped.body), 'llm_im_alerts_received_total', { source: 'prometheus', result: 'accepted' })).toBe(1);
    promtoolCheckMetrics(scraped.body);
    expect((await get(port, '/v1/incidents')).status).toBe(404);
    await app.http.get('/metrics').expect(404);
    await app.close();
    app = undefined;
    // The listener closes with the application.
    await expect(get(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('with metrics.enabled = false, serves nothing on either server', async () => {
    const port = await freePort();
    app = await startApp(store, { overrides: { server: { host: '127.0.0.1' }, metrics: { enabled: false, port } } });
    await app.http.post('/v1/alerts').send(alert()).expect(200);
    await app.http.get('/metrics').expect(404);
    await expect(get(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
    app.app.get(MetricsService).alertReceived('prometheus', 'accepted', 'api');
    expect(await app.app.get(MetricsService).registry.getSingleMetricAsString('llm_im_alerts_received_total')).not.toMatch(/\} \d/);
  });
});

describe('the examples in examples/prometheus', () => {
  it('pass promtool check config and check rules, and amtool check-config', () => {
    // The key files they name are compose.yaml's secret (/run/secrets/llm-im.key), which promtool
    // opens: here a copy of each file names a key file that exists, everything else as written.
    const dir = mkdtempSync(join(tmpdir(), 'prom-examples-'));
    try {
      writeFileSync(join(dir, 'llm-im.key'), `${ADMIN_KEY}\n`);
      for (const file of ['prometheus.yml', 'rules.yml', 'alertmanager.yml']) {
        const text = readFileSync(join(EXAMPLES, file), 'utf8');
        writeFileSync(join(dir, file), text.replaceAll('/run/secrets/llm-im.key', join(dir, 'llm-im.key')));
      }
      for (const [tool, args] of [
        [PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')]],
        [PROMTOOL, ['check', 'config', '--syntax-only', join(EXAMPLES, 'prometheus.yml')]],
        [PROMTOOL, ['check', 'rules', join(EXAMPLES, 'rules.yml')]],
        [AMTOOL, ['check-config', join(dir, 'alertmanager.yml')]],
      ] as const) {
        const result = spawnSync(tool, args, { encoding: 'utf8' });
        expect({ tool, args, status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({
          tool,
          args,
          status: 0,
          output: expect.any(String),
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('alert on metrics the service exports', async () => {
    const store = await TestStore.create('sqlite');
    const app = await startApp(store);
    try {
      const exported = new Set(samplesOf((await app.http.get('/metrics').expect(200)).text).map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
      const rules = execFileSync(PROMTOOL, ['check', 'rules', '--lint=none', join(EXAMPLES, 'rules.yml')], { encoding: 'utf8' });
      expect(rules).toMatch(/SUCCESS: \d+ rules found/);
      const text = readFileSync(join(EXAMPLES, 'rules.yml'), 'utf8');
      const used = new Set([...text.matchAll(/\b(llm_im_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, '')));
      expect(used.size).toBeGreaterThan(3);
      // Counters and histograms with no sample yet still have their HELP/TYPE lines.
      const declared = new Set([...(await app.http.get('/metrics').expect(200)).text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
      for (const name of used) expect({ name, known: exported.has(name) || declared.has(name) }).toEqual({ name, known: true });
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});
