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
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const VARIANTS = {
  base: {},
  als: { BENCH_NODE_ARGS: `-r ${join(__dirname, 'active-als.js')}` },
  access_log: { BENCH_ACCESS_LOG: 'true' },
};

function args() {
  const out = { rounds: 5, n: 10000, c: 32, transport: 'rest', variants: 'base,als,access_log' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out)) throw new Error(`unknown option --${key}`);
    out[key] = typeof out[key] === 'string' ? argv[i + 1] : Number(argv[i + 1]);
  }
  const variants = out.variants.split(',');
  for (const v of variants) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}; known: ${Object.keys(VARIANTS).join(', ')}`);
  if (!variants.includes('base')) variants.unshift('base');
  return { ...out, variants };
}

function run(variant, opts) {
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'alerts.js'), '--n', String(opts.n), '--c', String(opts.c), '--batch', '1', '--transport', opts.transport],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...VARIANTS[variant] } },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = (x) => Number(x.toFixed(3));

const opts = args();
const results = Object.fromEntries(opts.variants.map((v) => [v, []]));
for (let round = 1; round <= opts.rounds; round++) {
  // Rotate the order, so that no variant always gets the warmer (or the cooler) machine.
  const order = opts.variants.map((_, i) => opts.variants[(i + round) % opts.variants.length]);
  for (const variant of order) {
    const r = run(variant, opts);
    results[variant].push(r);
    console.log(
      JSON.stringify({
        round,
        variant,
        alerts_per_sec: r.alerts_per_sec,
        latency_ms_p50: r.latency_ms_p50,
        service_cpu_us_per_alert: r.service_cpu_us_per_alert,
      }),
    );
  }
}
const summary = { transport: opts.transport, rounds: opts.rounds, n: opts.n, concurrency: opts.c, median: {}, over_base: {} };
for (const variant of opts.variants) {
  const rs = results[variant];
  summary.median[variant] = {
    alerts_per_sec: median(rs.map((r) => r.alerts_per_sec)),
    service_cpu_us_per_alert: median(rs.map((r) => r.service_cpu_us_per_alert)),
    latency_ms_p50: median(rs.map((r) => r.latency_ms_p50)),
  };
  if (variant === 'base') continue;
  const cpuRatios = rs.map((r, i) => r.service_cpu_us_per_alert / results.base[i].service_cpu_us_per_alert);
  summary.over_base[variant] = {
    paired_median_cpu: ratio(median(cpuRatios)),
    paired_median_throughput: ratio(median(rs.map((r, i) => r.alerts_per_sec / results.base[i].alerts_per_sec))),
    cpu_ratio_range: [ratio(Math.min(...cpuRatios)), ratio(Math.max(...cpuRatios))],
  };
}
console.log(JSON.stringify(summary));
