#!/usr/bin/env node
/**
 * What RE2 matching costs, against the V8 RegExp it replaced, on the built code (npm run build):
 *
 *   node bench/matchers.js [--n 200000]
 *
 * - ordinary patterns (alternation, a class, a prefix) on ordinary values: time per match with
 *   the service's matchers (RE2) and with V8's RegExp compiled the way the service used to;
 * - the worst case of RE2 on the patterns that froze the service (nested quantifiers, ambiguous
 *   alternation) against values of the longest legal label (1,024 characters): milliseconds.
 */
'use strict';
const { parseArgs } = require('./lib');
const { parseMatchers, matches } = require('../dist/routing/matchers');

const { n } = parseArgs({ n: 200_000 });
const subject = (value) => ({ severity: 'P2', source: 'prometheus', incident_type: 'Application', affected_resources: [], labels: { v: value } });

function perMatchNs(fn) {
  for (let i = 0; i < 10_000; i++) fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - started) / n;
}

const ordinary = [
  ['prod|staging', 'staging'],
  ['db-[0-9]+', 'db-42'],
  ['payments.*', 'payments-eu-west-1'],
  ['(?i)critical', 'CRITICAL'],
];
const rows = ordinary.map(([pattern, value]) => {
  const [m] = parseMatchers(`v=~"${pattern}"`);
  const s = subject(value);
  const v8 = new RegExp(`^(?:${pattern.replace('(?i)', '')})$`, pattern.includes('(?i)') ? 'iu' : 'u');
  return { pattern, value, re2_ns: Math.round(perMatchNs(() => matches(m, s))), v8_ns: Math.round(perMatchNs(() => v8.test(value))) };
});

const worst = [
  ['(a+)+', `${'a'.repeat(1023)}!`],
  ['(.|.|.|.|.)*Z', 'x'.repeat(1024)],
  ['(a|aa)*b', 'a'.repeat(1024)],
  ['(x+x+)+y', 'x'.repeat(1024)],
  // Counted repetitions at their limit (100 characters expanded): RE2's largest programs.
  ['.*a.{0,100}', `${'a'.repeat(500)}${'b'.repeat(524)}`],
  ['(.{0,10}){10}a', 'ab'.repeat(512)],
].map(([pattern, value]) => {
  const [m] = parseMatchers(`v=~"${pattern}"`);
  const s = subject(value);
  let max = 0;
  for (let i = 0; i < 200; i++) {
    const started = process.hrtime.bigint();
    matches(m, s);
    max = Math.max(max, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { pattern, value_length: value.length, re2_max_ms: Number(max.toFixed(3)) };
});

console.log(JSON.stringify({ ordinary: rows, worst_case_1024_chars: worst }));
