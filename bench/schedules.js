#!/usr/bin/env node
/**
 * The worst case of schedule arithmetic a request may ask for, on the built code (npm run build):
 *
 *   node bench/schedules.js [--reps 5]
 *
 * The largest schedule the API accepts (10 layers of 100 members, a 1-hour rotation, 14
 * restrictions each, in a zone with daylight saving) and 1,000 overrides, over the longest range
 * the shifts API answers (93 days); and the on-call answer of one such schedule at one moment
 * (what GET /v1/on-call computes per schedule). Milliseconds of one call, which holds the event loop.
 */
'use strict';
const { parseArgs } = require('./lib');
const { finalSchedule, onCallAt } = require('../dist/people/schedules/final-shifts');

const { reps } = parseArgs({ reps: 5 });
const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const layers = Array.from({ length: 10 }, (_, l) => ({
  name: `layer ${l}`,
  members: Array.from({ length: 100 }, (_, m) => `user-${l}-${m}`),
  rotation: '1h',
  handoff_time: '09:00',
  start_date: '2026-01-05',
  // 14 windows: every day twice, so the restricted spans are many and short.
  restrictions: days.flatMap((d) => [
    { days: [d], start: '00:00', end: '11:00' },
    { days: [d], start: '12:00', end: '23:00' },
  ]),
}));
const from = Date.parse('2027-02-01T00:00:00Z');
const to = from + 93 * 24 * 3600 * 1000;
const overrides = Array.from({ length: 1000 }, (_, i) => ({
  id: `o${i}`,
  user_id: `cover-${i}`,
  start: from + i * 7_200_000,
  end: from + i * 7_200_000 + 3_600_000,
}));
const active = () => true;

function time(label, fn) {
  const runs = [];
  const cold = process.hrtime.bigint();
  let out = fn();
  console.log(`${label}: first call (code not yet optimised) ${(Number(process.hrtime.bigint() - cold) / 1e6).toFixed(1)} ms`);
  for (let i = 0; i < 5; i++) fn(); // warm, as in a service that has run a while
  for (let i = 0; i < reps; i++) {
    const started = process.hrtime.bigint();
    out = fn();
    runs.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  runs.sort((a, b) => a - b);
  console.log(`  then: median ${runs[Math.floor(runs.length / 2)].toFixed(1)} ms, max ${runs[runs.length - 1].toFixed(1)} ms`);
  return out;
}

const final = time('shifts: 10 layers × 1h rotation × 14 restrictions + 1,000 overrides, 93 days, Europe/Berlin', () =>
  finalSchedule(layers, overrides, 'Europe/Berlin', from, to, active),
);
console.log(`  → ${final.shifts.length} shifts, ${final.gaps.length} gaps`);
time('on call at one moment, the same schedule', () => onCallAt(layers, overrides, 'Europe/Berlin', from + 40 * 24 * 3600 * 1000, active));
