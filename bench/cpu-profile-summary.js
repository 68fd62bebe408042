#!/usr/bin/env node
'use strict';
/**
 * Where the CPU went, from a .cpuprofile: self time by function and by area (node_modules
 * package or project folder), most first.   node bench/cpu-profile-summary.js FILE [--top 30]
 */
const { readFileSync } = require('node:fs');

const [file, , topArg] = process.argv.slice(2);
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
const total = profile.samples.length;
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
console.log(`samples: ${total}`);
console.log('\nby area:');
for (const [k, n] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(n).padStart(6)}  ${k}`);
console.log('\nby function:');
for (const [k, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(n).padStart(6)}  ${k}`);
