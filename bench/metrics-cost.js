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
const { alternate, median, mediansOf, pairedRatios, parseArgs, rounded, singleAlertRun } = require('./lib');

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

const opts = parseArgs({ rounds: 5, n: 8000, c: 32, transport: 'rest' });
const results = alternate(
  ['off', 'on'],
  opts.rounds,
  (metrics) => singleAlertRun(opts, { env: { LLM_IM__METRICS__ENABLED: metrics === 'on' ? 'true' : 'false' } }),
  'metrics',
);
const summary = { off: mediansOf(results.off), on: mediansOf(results.on) };
const recording = recordingMicros();
console.log(
  JSON.stringify({
    transport: opts.transport,
    rounds: opts.rounds,
    n: opts.n,
    median: summary,
    paired_median_throughput_on_over_off: rounded(median(pairedRatios(results.on, results.off, 'alerts_per_sec'))),
    paired_median_cpu_on_over_off: rounded(median(pairedRatios(results.on, results.off, 'service_cpu_us_per_alert'))),
    recording_us_per_alert: rounded(recording, 2),
    recording_share_of_cpu_per_alert: rounded(recording / summary.off.service_cpu_us_per_alert, 4),
  }),
);
