#!/usr/bin/env node
/**
 * Two builds of the service on the single-alert ingest benchmark, in one run: bench/alerts.js
 * with `--batch 1` against this tree's dist/main.js and against another build's (--base, the
 * dist/main.js of a checkout of an earlier commit, built with `npm run build`), alternately
 * in rotating order so that machine drift hits both alike.
 *
 *   git worktree add /tmp/base <commit> && (cd /tmp/base && ln -s $PWD/node_modules . && npx nest build)
 *   node bench/build-ab.js --base /tmp/base/dist/main.js [--rounds 5] [--n 10000] [--c 32] [--transport rest|grpc]
 *
 * Prints each run, then the medians and the per-round ratios this / base.
 */
'use strict';
const { dirname, join } = require('node:path');
const { alternate, median, mediansOf, pairedRatios, parseArgs, rounded, singleAlertRun } = require('./lib');

const opts = parseArgs({ base: '', rounds: 5, n: 10000, c: 32, transport: 'rest' });
if (!opts.base) throw new Error('--base <path to the other build’s dist/main.js> is required');
const mains = { base: opts.base, this: join(__dirname, '..', 'dist', 'main.js') };
// Each build reads its own tree's config file (a newer file may hold keys the older build refuses).
const configOf = (main) => join(dirname(dirname(main)), 'config', 'default.toml');
const runs = alternate(
  Object.keys(mains),
  opts.rounds,
  (variant) => singleAlertRun(opts, { env: { BENCH_MAIN: mains[variant], CONFIG_PATH: configOf(mains[variant]) } }),
  'build',
);
const ratios = (field) => pairedRatios(runs.this, runs.base, field).map((r) => rounded(r));
console.log(
  JSON.stringify({
    medians: { base: mediansOf(runs.base), this: mediansOf(runs.this) },
    ratio_this_to_base: {
      alerts_per_sec: median(ratios('alerts_per_sec')),
      service_cpu_us_per_alert: median(ratios('service_cpu_us_per_alert')),
      per_round: { alerts_per_sec: ratios('alerts_per_sec'), service_cpu_us_per_alert: ratios('service_cpu_us_per_alert') },
    },
  }),
);
