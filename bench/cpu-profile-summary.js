#!/usr/bin/env node
'use strict';
/**
 * Where the CPU went, from a .cpuprofile: self time by function and by area (node_modules
 * package or project folder), most first.
 *
 *   node bench/cpu-profile-summary.js FILE [--top 30] [--steady]
 *
 * --steady leaves out start-up (samples under module loading or Nest's bootstrap) and idle
 * time, so the shares are of the work done while the benchmark ran.
 */
const { readFileSync } = require('node:fs');

const argv = process.argv.slice(2);
const file = argv[0];
const top = argv.includes('--top') ? Number(argv[argv.indexOf('--top') + 1]) : 30;
const steady = argv.includes('--steady');
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
const STARTUP = /^(Module\._compile|Module\._load|bootstrap|createApp|NestFactory.*|\(idle\))$/;
/** Whether a sample is start-up or idle: some frame of its stack is module loading, Nest's bootstrap or idleness. */
function startupOrIdle(id) {
  for (let at = id; at !== undefined; at = parentOf.get(at)) if (STARTUP.test(byId.get(at).callFrame.functionName)) return true;
  return false;
}
const counts = new Map();
let total = 0;
for (const id of profile.samples) {
  if (steady && startupOrIdle(id)) continue;
  counts.set(id, (counts.get(id) ?? 0) + 1);
  total += 1;
}
const byFunction = new Map();
const byArea = new Map();
function areaOf(url) {
  if (!url) return '(native/idle)';
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1];
  const own = /\/(dist|src)\/([^/]+)/.exec(url);
  if (own) return `service:${own[2]}`;
  if (url.startsWith('node:')) return 'node core';
  return url;
}
for (const [id, n] of counts) {
  const node = byId.get(id);
  const f = node.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${f.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + n);
  const area = f.functionName === '(idle)' ? '(idle)' : f.functionName === '(garbage collector)' ? '(gc)' : areaOf(f.url);
  byArea.set(area, (byArea.get(area) ?? 0) + n);
}
const pct = (n) => `${((n / total) * 100).toFixed(1)}%`;
console.log(`samples: ${total}${steady ? ' (start-up and idle left out)' : ''}`);
console.log('\nby area:');
for (const [k, n] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(n).padStart(6)}  ${k}`);
console.log('\nby function:');
for (const [k, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(n).padStart(6)}  ${k}`);
