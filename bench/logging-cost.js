#!/usr/bin/env node
/**
 * What request-scoped logging costs on the single-alert ingest benchmark: bench/alerts.js with
 * `--batch 1`, run against services that differ only in their logging, in alternating order in
 * one run so that machine drift hits each alike (as bench/auth-cost.js does for auth).
 *
 *   node bench/logging-cost.js [--rounds 5] [--n 10000] [--c 32] [--transport rest|grpc] [--variants base,als,access_log]
 *
 * The variants, each against `base` (the built service as the benchmarks run it: request ids on,
 * every answer carrying x-request-id, the lines the guard and the filters write tagged with it,
 * the access log off):
 *   als         base with an AsyncLocalStorage active in the service (bench/active-als.js), the
 *               mechanism nestjs-pino uses to reach lines written through Nest's Logger
 *   access_log  base with [server] access_log = true: one line per request, written to the
 *               service's stdout (a pipe to /dev/null here, so what is measured is the line's
 *               serialisation and write, not a disk)
 *
 * Prints each run, then per variant the medians and the median of the rounds' paired ratios
 * (variant / base, the two runs of a pair back to back). Run `npm run build` first.
 */
'use strict';
const { join } = require('node:path');
const { alternate, median, mediansOf, pairedRatios, parseArgs, rounded, singleAlertRun } = require('./lib');

const VARIANTS = {
  base: {},
  als: { BENCH_NODE_ARGS: `-r ${join(__dirname, 'active-als.js')}` },
  access_log: { BENCH_ACCESS_LOG: 'true' },
};

function args() {
  const out = parseArgs({ rounds: 5, n: 10000, c: 32, transport: 'rest', variants: 'base,als,access_log' });
  const variants = out.variants.split(',');
  for (const v of variants) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}; known: ${Object.keys(VARIANTS).join(', ')}`);
  if (!variants.includes('base')) variants.unshift('base');
  return { ...out, variants };
}

const opts = args();
const results = alternate(opts.variants, opts.rounds, (variant) => singleAlertRun(opts, { env: VARIANTS[variant] }));
const summary = { transport: opts.transport, rounds: opts.rounds, n: opts.n, concurrency: opts.c, median: {}, over_base: {} };
for (const variant of opts.variants) {
  summary.median[variant] = mediansOf(results[variant]);
  if (variant === 'base') continue;
  const cpuRatios = pairedRatios(results[variant], results.base, 'service_cpu_us_per_alert');
  summary.over_base[variant] = {
    paired_median_cpu: rounded(median(cpuRatios)),
    paired_median_throughput: rounded(median(pairedRatios(results[variant], results.base, 'alerts_per_sec'))),
    cpu_ratio_range: [rounded(Math.min(...cpuRatios)), rounded(Math.max(...cpuRatios))],
  };
}
console.log(JSON.stringify(summary));
