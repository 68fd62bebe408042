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
console.log(
  JSON.stringify({
    transport: opts.transport,
    rounds: opts.rounds,
    median: summary,
    throughput_on_over_off: Number((summary.on.alerts_per_sec / summary.off.alerts_per_sec).toFixed(3)),
    cpu_per_alert_on_over_off: Number((summary.on.service_cpu_us_per_alert / summary.off.service_cpu_us_per_alert).toFixed(3)),
  }),
);
