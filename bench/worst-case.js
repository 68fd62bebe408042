#!/usr/bin/env node
/**
 * The largest legal request of each heavy route and RPC, on the built service (npm run build):
 * what one costs in CPU and how long it holds the event loop.
 *
 *   node bench/worst-case.js [--reps 3] [--only name-substring]
 *
 * For each case: `cpu_ms`, the service's CPU (user + system, from /proc, 10 ms ticks) per request,
 * averaged over `reps` requests sent one after another; `loop_held_ms`, the longest wait of a
 * `GET /health/live` probe sent back to back on its own connection meanwhile, which is the longest
 * time one task held the event loop (the probe's own round trip, about 1 ms, included). A route
 * whose request costs more than 100 ms of CPU must split its work, so that `loop_held_ms` stays
 * under 100.
 *
 * The store is SQLite (the embedded default, where statements run on the event loop); the service
 * starts with the default config and the per-key abuse limits lifted. Targets loopback only.
 */
'use strict';
const http = require('node:http');
const { spawn } = require('node:child_process');
const { parseArgs, startService, request, cpuSeconds, BENCH_KEY } = require('./lib');

const opts = parseArgs({ reps: 3, only: '' });
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let seq = 0;

const labels = (n, valueLength, prefix = 'k') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v'.repeat(valueLength)]));

/** A new alert (its own incident) of about `bytes` in JSON. */
function bigAlert(bytes, extra = {}) {
  const n = ++seq;
  const labelCount = 64;
  // 64 labels share what is left after the description.
  const description = 'd'.repeat(Math.min(20_000, Math.max(0, bytes - 64 * 40)));
  const valueLength = Math.min(1024, Math.max(1, Math.floor((bytes - description.length) / labelCount) - 12));
  return {
    source: 'bench',
    title: `worst case ${n}`,
    description,
    severity: 'P3',
    alert_type: 'Infrastructure',
    labels: { ...labels(labelCount - 1, valueLength), n: String(n) },
    ...extra,
  };
}

/** An Alertmanager webhook alert of about `bytes` in JSON, its own group. */
function amAlert(bytes) {
  const n = ++seq;
  const valueLength = Math.max(1, Math.floor(bytes / 2 / 63) - 12);
  return {
    status: 'firing',
    labels: { ...labels(62, valueLength), alertname: `Worst${n}`, severity: 'warning' },
    annotations: { summary: `worst case ${n}`, description: 'd'.repeat(Math.min(8192, bytes / 2)) },
    startsAt: new Date().toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.local/graph',
    fingerprint: `f${n}`,
  };
}

function amBody(alerts) {
  return {
    version: '4',
    groupKey: `{}:{n="${++seq}"}`,
    status: 'firing',
    receiver: 'im',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am',
    alerts,
  };
}

/**
 * Runs `work` while a probe in a process of its own (so that this process's own encoding cannot
 * delay it) times /health/live back to back; the longest single wait.
 */
async function longestLivenessWait(url, work) {
  const prober = spawn(
    process.execPath,
    [
      '-e',
      `const http = require('node:http');
       const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
       let longest = 0, running = true;
       process.on('message', () => { running = false; });
       (async () => {
         process.send('started');
         while (running) {
           const started = process.hrtime.bigint();
           await new Promise((resolve, reject) => http.get(process.argv[1] + '/health/live', { agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
           longest = Math.max(longest, Number(process.hrtime.bigint() - started) / 1e6);
         }
         process.send(longest, () => process.exit(0));
       })();`,
      url,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const messages = [];
  let notify;
  prober.on('message', (m) => (messages.push(m), notify?.()));
  const next = () => new Promise((resolve) => (messages.length > 0 ? resolve(messages.shift()) : (notify = () => resolve(messages.shift()))));
  await next(); // started
  try {
    await work();
  } finally {
    prober.send('stop');
  }
  return next();
}

function grpcClients(address) {
  const grpc = require('@grpc/grpc-js');
  const protoLoader = require('@grpc/proto-loader');
  const { INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } = require('../dist/grpc/grpc.server');
  const v1 = grpc.loadPackageDefinition(protoLoader.loadSync([INCIDENT_MANAGER_PROTO], PROTO_LOADER_OPTIONS)).llm_incident_manager.v1;
  const options = { 'grpc.max_send_message_length': 64 * 1024 * 1024 };
  const ingestion = new v1.AlertIngestion(address, grpc.credentials.createInsecure(), options);
  const incidents = new v1.IncidentService(address, grpc.credentials.createInsecure(), options);
  const metadata = () => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${BENCH_KEY}`);
    return m;
  };
  const call = (client, method, req) =>
    new Promise((resolve) =>
      client[method](req, metadata(), (error, value) => resolve(error ? { error: `${grpc.status[error.code]}: ${error.details}` } : { value })),
    );
  return { ingestion, incidents, call, close: () => (ingestion.close(), incidents.close()) };
}

async function main() {
  const service = await startService();
  const { url, key, pid } = service;
  const rpc = grpcClients(service.grpc);
  // Any 2xx is an answer (a silence is created with 201).
  const post = (path, body) =>
    request(agent, 'POST', `${url}${path}`, body, key).catch((err) => {
      if (/^HTTP 20\d:/.test(err.message)) return undefined;
      throw err;
    });
  const get = (path) => request(agent, 'GET', `${url}${path}`, undefined, key);
  const results = [];

  /** `make()` builds each request's input before the clock starts (the client runs in this process, not the service's). */
  async function measure(name, make, send, reps = opts.reps) {
    if (opts.only && !name.includes(opts.only)) return;
    const inputs = Array.from({ length: reps }, make);
    let answered = '';
    const cpuBefore = cpuSeconds(pid);
    const loopHeld = await longestLivenessWait(url, async () => {
      for (const input of inputs) answered = await send(input);
    });
    const cpuMs = ((cpuSeconds(pid) - cpuBefore) * 1000) / reps;
    const row = { case: name, cpu_ms: Math.round(cpuMs), loop_held_ms: Math.round(loopHeld), answer: String(answered).slice(0, 80) };
    results.push(row);
    console.error(JSON.stringify(row));
  }
  const ok = (promise) =>
    promise.then(
      (body) => `200 ${Array.isArray(body) ? `${body.length} items` : body && body.items ? `${body.items.length} items` : ''}`.trim(),
      (err) => err.message.slice(0, 80),
    );
  const grpcOk = (promise) =>
    promise.then(
      ({ error, value }) => error ?? `OK ${value.acks ? `${value.acks.length} acks` : value.incidents ? `${value.incidents.length} incidents` : ''}`.trim(),
    );

  // Ingest: a batch of 1,000 new incidents as large as the 5 MiB body allows.
  await measure(
    'POST /v1/alerts: 1,000 new incidents, 4.9 MB',
    () => Array.from({ length: 1000 }, () => bigAlert(4900)),
    (b) => ok(post('/v1/alerts', b)),
  );
  await measure(
    'POST /v1/alerts: one alert of every field at its longest',
    () => bigAlert(90_000, { description: 'd'.repeat(20_000) }),
    (b) => ok(post('/v1/alerts', b)),
  );
  await measure(
    'POST /v1/integrations/alertmanager: 1,000 alerts, 4.9 MB',
    () => amBody(Array.from({ length: 1000 }, () => amAlert(4800))),
    (b) => ok(post('/v1/integrations/alertmanager', b)),
  );
  await measure(
    'POST /v1/integrations/grafana: 1,000 alerts, 4.9 MB',
    () => amBody(Array.from({ length: 1000 }, () => amAlert(4800))),
    (b) => ok(post('/v1/integrations/grafana', b)),
  );
  await measure(
    'POST /v2/enqueue: one event, custom details at their 8 KB limit',
    () => ({
      routing_key: key,
      event_action: 'trigger',
      dedup_key: `d${++seq}`,
      payload: { summary: 's'.repeat(1024), source: 'bench', severity: 'critical', custom_details: labels(8, 1000) },
    }),
    (b) => ok(post('/v2/enqueue', b)),
  );
  await measure(
    'gRPC SubmitAlerts: 1,000 new incidents of 64 labels, 3.9 MB (the 4 MiB message limit)',
    () => ({ alerts: Array.from({ length: 1000 }, () => ({ ...bigAlert(3900), alert_type: 'INFRASTRUCTURE' })) }),
    (r) => grpcOk(rpc.call(rpc.ingestion, 'SubmitAlerts', r)),
  );
  await measure(
    'gRPC SubmitAlert: 100,000 labels (refused)',
    () => ({ alert: { source: 'bench', title: 't', description: '', severity: 'P3', alert_type: 'INFRASTRUCTURE', labels: labels(100_000, 1) } }),
    (r) => grpcOk(rpc.call(rpc.ingestion, 'SubmitAlert', r)),
  );

  // One incident that absorbed 10,000 alerts (a flapping alert over days).
  const flapping = await post('/v1/alerts', { ...bigAlert(2000), title: 'flapping' });
  const id = flapping.incident_id;
  for (let i = 0; i < 10; i++)
    await post(
      '/v1/alerts',
      Array.from({ length: 1000 }, () => ({ ...bigAlert(2000), title: 'flapping', labels: {} })),
    );
  await measure(
    'GET /v1/incidents/{id}: 10,000 alerts folded in',
    () => id,
    (i) => ok(get(`/v1/incidents/${i}`)),
  );
  await measure(
    'GET /v1/incidents/{id}/timeline: 10,000 alerts folded in',
    () => id,
    (i) => ok(get(`/v1/incidents/${i}/timeline`)),
  );
  await measure(
    'GET /v1/incidents/{id}/alerts: 10,000 alerts folded in',
    () => id,
    (i) => ok(get(`/v1/incidents/${i}/alerts`)),
  );
  await measure(
    'gRPC GetIncident: 10,000 alerts folded in',
    () => ({ id }),
    (r) => grpcOk(rpc.call(rpc.incidents, 'GetIncident', r)),
  );

  // Reads over the incidents opened above (several thousand, 64 labels each).
  await measure(
    'GET /v1/incidents?page_size=500',
    () => null,
    () => ok(get('/v1/incidents?page_size=500')),
  );
  await measure(
    'GET /v1/incidents?page_size=500&q=zzz (a text search that matches none)',
    () => null,
    () => ok(get('/v1/incidents?page_size=500&q=zzz')),
  );
  await measure(
    'gRPC ListIncidents: page_size 200 (its largest)',
    () => ({ page_size: 200 }),
    (r) => grpcOk(rpc.call(rpc.incidents, 'ListIncidents', r)),
  );
  const matchers = Array.from({ length: 50 }, (_, i) => `k${i}=~"${'(v|w)*'.repeat(150)}[^v]"`);
  await measure(
    'POST /v1/silences/preview: 50 regex matchers of 900 characters',
    () => ({ matchers }),
    (b) => ok(post('/v1/silences/preview', b)),
  );
  const silence = { matchers, ends_at: new Date(Date.now() + 3_600_000).toISOString(), comment: 'bench', created_by: 'bench' };
  await measure(
    'POST /v1/silences: 50 regex matchers of 900 characters, checked against the open incidents',
    () => silence,
    (b) => ok(post('/v1/silences', b)),
  );
  while ((await get('/v1/silences')).length < 50) await post('/v1/silences', silence);
  await measure(
    'POST /v1/routing/explain: 100 labels of 1,000 characters, 50 such silences stored',
    () => ({ severity: 'P1', labels: labels(100, 1000) }),
    (b) => ok(post('/v1/routing/explain', b)),
  );
  await measure(
    'POST /v1/alerts: one alert, 50 regex silences of 50 matchers stored',
    () => bigAlert(70_000),
    (b) => ok(post('/v1/alerts', b)),
  );
  await measure(
    'GET /v1/notifications/dead-letters?page_size=500',
    () => null,
    () => ok(get('/v1/notifications/dead-letters?page_size=500')),
  );
  await measure(
    'GET /v1/notifications/stats',
    () => null,
    () => ok(get('/v1/notifications/stats')),
  );
  await measure(
    'GET /metrics',
    () => null,
    () =>
      new Promise((resolve) =>
        http.get(
          `${url}/metrics`,
          { agent, headers: { authorization: `Bearer ${key}` } },
          (res) => (res.resume(), res.on('end', () => resolve(String(res.statusCode)))),
        ),
      ),
  );

  rpc.close();
  await service.stop();
  console.log(JSON.stringify({ bench: 'worst-case', reps: opts.reps, store: 'sqlite', results }));
  const over = results.filter((r) => r.loop_held_ms > 100);
  if (over.length > 0) console.error(`held the event loop over 100 ms: ${over.map((r) => r.case).join('; ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
