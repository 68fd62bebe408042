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
const { alternate, median, mediansOf, pairedRatios, parseArgs, rounded, singleAlertRun } = require('./lib');

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

const opts = parseArgs({ rounds: 3, n: 10000, c: 32, transport: 'rest' });
const results = alternate(['off', 'on'], opts.rounds, (auth) => singleAlertRun(opts, { args: ['--auth', auth] }), 'auth');
const summary = { off: mediansOf(results.off), on: mediansOf(results.on) };
void authenticateMicros().then((us) =>
  console.log(
    JSON.stringify({
      transport: opts.transport,
      rounds: opts.rounds,
      median: summary,
      throughput_on_over_off: rounded(summary.on.alerts_per_sec / summary.off.alerts_per_sec),
      cpu_per_alert_on_over_off: rounded(summary.on.service_cpu_us_per_alert / summary.off.service_cpu_us_per_alert),
      paired_median_throughput_on_over_off: rounded(median(pairedRatios(results.on, results.off, 'alerts_per_sec'))),
      paired_median_cpu_on_over_off: rounded(median(pairedRatios(results.on, results.off, 'service_cpu_us_per_alert'))),
      authenticate_us: rounded(us, 2),
      authenticate_share_of_cpu_per_alert: rounded(us / summary.off.service_cpu_us_per_alert, 4),
    }),
  ),
);
