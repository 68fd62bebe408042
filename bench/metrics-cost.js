#!/usr/bin/env node
/**
 * What the Prometheus metrics cost on the single-alert ingest benchmark: bench/alerts.js with
 * `--batch 1`, run alternately against a service with [metrics] enabled = false
 * (LLM_IM__METRICS__ENABLED=false: nothing is counted, no hooks) and one with it on (the HTTP
 * or gRPC hook, the alert counter, the transaction histogram, the transition counter), in the
 * same run so that machine drift hits both alike.
 *
 *   node bench/metrics-cost.js [--rounds 5] [--n 8000] [--c 32] [--transport rest|grpc]
 *
 * Prints each run, then the medians and the median of each round's on/off ratio (a round's two
 * runs are back to back, so its ratio cancels the slower drift). Run `npm run build` first.
 *
 * The difference is near this machine's run-to-run drift, so the run ends by timing what an
 * alert records, on its own, in this process (the built MetricsService): one HTTP observation,
 * one alert count, one transition (an upper bound: half the benchmark's alerts open incidents)
 * and one transaction observation (also an upper bound: a group commit serves many alerts).
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

function args() {
  const out = { rounds: 5, n: 8000, c: 32, transport: 'rest' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out)) throw new Error(`unknown option --${key}`);
    out[key] = typeof out[key] === 'string' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return out;
}

function run(metrics, opts) {
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'alerts.js'), '--n', String(opts.n), '--c', String(opts.c), '--batch', '1', '--transport', opts.transport],
    // bench/lib.js starts the service with this process's environment.
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LLM_IM__METRICS__ENABLED: metrics === 'on' ? 'true' : 'false' } },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Microseconds of metric recording per alert, on the built code. */
function recordingMicros() {
  require('reflect-metadata');
  const { MetricsService } = require('../dist/metrics/metrics.service');
  const metrics = new MetricsService({ metrics: { enabled: true, port: 0 } });
  const n = 200_000;
  const samples = [];
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      metrics.httpRequest('POST', '/v1/alerts', 200, 0.012);
      metrics.alertReceived('bench-source', i % 2 === 0 ? 'accepted' : 'duplicate', 'api');
      metrics.incidentTransition(null, 'Detected');
      metrics.transaction('grouped', 0.002);
    }
    samples.push(Number(process.hrtime.bigint() - started) / 1e3 / n);
  }
  return median(samples);
}

const opts = args();
const results = { off: [], on: [] };
for (let round = 1; round <= opts.rounds; round++) {
  // Alternate which goes first, so neither always gets the warmer machine.
  for (const metrics of round % 2 === 1 ? ['off', 'on'] : ['on', 'off']) {
    const r = run(metrics, opts);
    results[metrics].push(r);
    console.log(
      JSON.stringify({
        round,
        metrics,
        alerts_per_sec: r.alerts_per_sec,
        latency_ms_p50: r.latency_ms_p50,
        service_cpu_us_per_alert: r.service_cpu_us_per_alert,
      }),
    );
  }
}
const summary = {};
for (const metrics of ['off', 'on']) {
  summary[metrics] = {
    alerts_per_sec: median(results[metrics].map((r) => r.alerts_per_sec)),
    service_cpu_us_per_alert: median(results[metrics].map((r) => r.service_cpu_us_per_alert)),
    latency_ms_p50: median(results[metrics].map((r) => r.latency_ms_p50)),
  };
}
const recording = recordingMicros();
console.log(
  JSON.stringify({
    transport: opts.transport,
    rounds: opts.rounds,
    n: opts.n,
    median: summary,
    paired_median_throughput_on_over_off: Number(median(results.on.map((r, i) => r.alerts_per_sec / results.off[i].alerts_per_sec)).toFixed(3)),
    paired_median_cpu_on_over_off: Number(median(results.on.map((r, i) => r.service_cpu_us_per_alert / results.off[i].service_cpu_us_per_alert)).toFixed(3)),
    recording_us_per_alert: Number(recording.toFixed(2)),
    recording_share_of_cpu_per_alert: Number((recording / summary.off.service_cpu_us_per_alert).toFixed(4)),
  }),
);
