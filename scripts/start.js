#!/usr/bin/env node
// `npm start`: compiles the service when dist/ is missing or older than any source file, then
// runs it. Keeps the README's quick start to two commands on a fresh clone.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'main.js');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const inputs = Math.max(
  newestMtime(join(root, 'src')),
  statSync(join(root, 'nest-cli.json')).mtimeMs,
  statSync(join(root, 'tsconfig.json')).mtimeMs,
  statSync(join(root, 'tsconfig.build.json')).mtimeMs,
);
if (!existsSync(entry) || statSync(entry).mtimeMs < inputs) {
  process.stderr.write('building dist/ ...\n');
  // The same build as `npm run build` (nest-cli.json: tsconfig.build.json, dist/ emptied first).
  execFileSync(process.execPath, [require.resolve('@nestjs/cli/bin/nest.js'), 'build'], { stdio: 'inherit', cwd: root });
}
require('./build-console').buildConsoleIfStale();
require(entry);
