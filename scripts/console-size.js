#!/usr/bin/env node
// What the console's first load costs: the scripts and stylesheets index.html loads, gzipped as
// the service sends them (console/dist, built by `npm run build:console`). Prints one JSON line.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'console', 'dist');

function consoleSize() {
  const index = readFileSync(join(dist, 'index.html'), 'utf8');
  const assets = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(js|css))"/g)].map((m) => ({ path: m[1], kind: m[2] }));
  const size = { js_gzip_bytes: 0, css_gzip_bytes: 0, js_bytes: 0, files: assets.map((a) => a.path) };
  for (const asset of assets) {
    size[`${asset.kind}_gzip_bytes`] += readFileSync(join(dist, `${asset.path}.gz`)).length;
    if (asset.kind === 'js') size.js_bytes += readFileSync(join(dist, asset.path)).length;
  }
  return size;
}

module.exports = { consoleSize };
if (require.main === module) console.log(JSON.stringify(consoleSize()));
