#!/usr/bin/env node
/**
 * What authentication costs on the single-alert ingest benchmark: bench/alerts.js with
 * `--batch 1`, run alternately against a service with [auth] enabled = false and one with it on
 * (every request then carries a Bearer key that is parsed, looked up in the key cache, hashed
 * and compared), in the same run so that machine drift hits both alike.
 *
 *   node bench/auth-cost.js [--rounds 3] [--n 10000] [--c 32] [--transport rest|grpc]
 *
 * Prints each run, then the medians and the ratios on/off. Run `npm run build` first.
 *
 * The two services differ by a few microseconds a request, less than this machine's run-to-run
 * drift, so the run ends by timing the part that differs on its own, in this process:
 * ApiKeysService.authenticate (parse, cache lookup, SHA-256, constant-time compare) on the
 * built code, against the service's CPU time per alert.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

function args() {
  const out = { rounds: 3, n: 10000, c: 32, transport: 'rest' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out)) throw new Error(`unknown option --${key}`);
    out[key] = typeof out[key] === 'string' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return out;
}

function run(auth, opts) {
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'alerts.js'), '--n', String(opts.n), '--c', String(opts.c), '--batch', '1', '--transport', opts.transport, '--auth', auth],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Microseconds per authenticate() of a cached key, on the built code. */
async function authenticateMicros() {
  require('reflect-metadata');
  const { ApiKeysService } = require('../dist/auth/api-keys.service');
  const { hashSecret, generateApiKey } = require('../dist/auth/api-key-format');
  const { Clock } = require('../dist/common/clock');
  const { id, secret, key } = generateApiKey();
  const record = {
    id,
    name: 'bench',
    scopes: ['admin'],
    secret_hash: hashSecret(secret),
    created_at: '',
    created_by: null,
    last_used_at: null,
    expires_at: null,
    revoked_at: null,
  };
  const keys = new ApiKeysService({ auth: { key_cache_secs: 2 } }, { find: async () => record, touch: async () => undefined }, new Clock());
  const header = `Bearer ${key}`;
  const n = 200_000;
  const samples = [];
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await keys.authenticate(header);
    samples.push(Number(process.hrtime.bigint() - started) / 1e3 / n);
  }
  return median(samples);
}

const opts = args();
const results = { off: [], on: [] };
for (let round = 1; round <= opts.rounds; round++) {
  // Alternate which goes first, so neither always gets the warmer machine.
  for (const auth of round % 2 === 1 ? ['off', 'on'] : ['on', 'off']) {
    const r = run(auth, opts);
    results[auth].push(r);
    console.log(
      JSON.stringify({ round, auth, alerts_per_sec: r.alerts_per_sec, latency_ms_p50: r.latency_ms_p50, service_cpu_us_per_alert: r.service_cpu_us_per_alert }),
    );
  }
}
const summary = {};
for (const auth of ['off', 'on']) {
  summary[auth] = {
    alerts_per_sec: median(results[auth].map((r) => r.alerts_per_sec)),
    service_cpu_us_per_alert: median(results[auth].map((r) => r.service_cpu_us_per_alert)),
    latency_ms_p50: median(results[auth].map((r) => r.latency_ms_p50)),
  };
}
void authenticateMicros().then((us) =>
  console.log(
    JSON.stringify({
      transport: opts.transport,
      rounds: opts.rounds,
      median: summary,
      throughput_on_over_off: Number((summary.on.alerts_per_sec / summary.off.alerts_per_sec).toFixed(3)),
      cpu_per_alert_on_over_off: Number((summary.on.service_cpu_us_per_alert / summary.off.service_cpu_us_per_alert).toFixed(3)),
      // Each round's two runs are back to back, so a round's ratio cancels the slower drift.
      paired_median_throughput_on_over_off: Number(median(results.on.map((r, i) => r.alerts_per_sec / results.off[i].alerts_per_sec)).toFixed(3)),
      paired_median_cpu_on_over_off: Number(median(results.on.map((r, i) => r.service_cpu_us_per_alert / results.off[i].service_cpu_us_per_alert)).toFixed(3)),
      authenticate_us: Number(us.toFixed(2)),
      authenticate_share_of_cpu_per_alert: Number((us / summary.off.service_cpu_us_per_alert).toFixed(4)),
    }),
  ),
);
