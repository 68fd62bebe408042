#!/usr/bin/env node
/**
 * What validating one alert costs, on the built code (npm run build): toValidDto (the compiled
 * Ajv path of src/common/compiled-validation.ts) against the class-transformer + class-validator
 * path it replaced (toValidDtoSlowPath), in microseconds per call.
 *
 *   node bench/validation.js [--ms 1000]
 *
 * Cases: a typical alert; the worst legal alert (every field at its limit: a 20,000-character
 * description, 64 labels of 1,024 characters, 64 annotations of 8,192, 100 services of 255); the
 * same made of the characters validator.js's isLength is slowest on (a character and its variation
 * selector, counted as one, so twice the UTF-16 units); and a refused alert (which both paths pay
 * in full: a refusal is always the slow path's, for its messages). Each runs for `ms` milliseconds
 * per path; `mean_us` is the mean time per call, `max_us` the longest single call (the longest the
 * event loop was held by one validation).
 */
'use strict';
require('reflect-metadata');
const { parseArgs } = require('./lib');
const { AlertDto } = require('../dist/alerts/dto/alert.dto');
const { compiledValidatorFor } = require('../dist/common/compiled-validation');
const { toValidDto, toValidDtoSlowPath } = require('../dist/common/validation');

const opts = parseArgs({ ms: 1000 });

const map = (keys, length, unit = 'v') => Object.fromEntries(Array.from({ length: keys }, (_, i) => [`key-${i}`, unit.repeat(length)]));

const typical = {
  source: 'prometheus',
  title: 'High error rate on api-gateway',
  description: '5xx ratio above 5% for 5 minutes',
  severity: 'P2',
  alert_type: 'Application',
  external_id: 'alertmanager-7f3a9c',
  labels: { env: 'prod', team: 'payments', region: 'eu-west-1', instance: 'api-gateway-7d9f' },
  affected_services: ['api-gateway', 'payments'],
  runbook_url: 'https://runbooks.example.com/api-gateway',
  annotations: { summary: 'error rate above threshold' },
};

/** Every field at its limit, `unit` being one character for isLength. */
function worst(unit) {
  return {
    source: unit.repeat(255),
    title: unit.repeat(500),
    description: unit.repeat(20_000),
    severity: 'P0',
    alert_type: 'Infrastructure',
    external_id: unit.repeat(255),
    dedup_key: unit.repeat(255),
    labels: map(64, 1024),
    affected_services: Array.from({ length: 100 }, () => unit.repeat(255)),
    runbook_url: `https://runbooks.example.com/${'r'.repeat(2048 - 'https://runbooks.example.com/'.length)}`,
    annotations: map(64, 8192),
  };
}

const refused = { ...typical, severity: 'P9' };

/** Mean and longest time of one call of `fn`, over `ms` milliseconds after a warm-up. */
function time(fn) {
  for (let i = 0; i < 200; i++) fn();
  let calls = 0;
  let max = 0n;
  const started = process.hrtime.bigint();
  const until = started + BigInt(opts.ms) * 1_000_000n;
  for (let now = started; now < until;) {
    const before = now;
    fn();
    now = process.hrtime.bigint();
    if (now - before > max) max = now - before;
    calls++;
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  return { calls, mean_us: Number((elapsed / calls / 1000).toFixed(2)), max_us: Number((Number(max) / 1000).toFixed(1)) };
}

/** Runs the validation; a refusal (ValidationFailed) is an answer like any other. */
const call = (validate, alert) => () => {
  try {
    validate(AlertDto, alert);
  } catch (err) {
    if (err.code !== 'VALIDATION_FAILED') throw err;
  }
};

if (!compiledValidatorFor(AlertDto)) throw new Error('AlertDto has no compiled validator: the fast path would not be measured');
const cases = { typical, worst: worst('w'), worst_variation_selectors: worst('\u2600\uFE0F'), refused };
const rows = Object.entries(cases).map(([name, alert]) => {
  const fast = time(call(toValidDto, alert));
  const slow = time(call(toValidDtoSlowPath, alert));
  return { case: name, fast, slow, speedup: Number((slow.mean_us / fast.mean_us).toFixed(1)) };
});
for (const { case: name, fast, slow, speedup } of rows) {
  console.log(
    `${name.padEnd(26)} fast ${String(fast.mean_us).padStart(9)} µs/call (max ${fast.max_us})  slow ${String(slow.mean_us).padStart(9)} µs/call (max ${slow.max_us})  ×${speedup}`,
  );
}
console.log(JSON.stringify(rows));
