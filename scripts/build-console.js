// Builds the web console (console/ → console/dist) when it is missing or older than its sources.
// Used by `npm start` and by the tests' global setup, so a fresh clone needs no extra step.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const consoleDir = join(root, 'console');

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function buildConsoleIfStale() {
  const built = join(consoleDir, 'dist', 'index.html');
  const inputs = Math.max(newestMtime(join(consoleDir, 'src')), newestMtime(join(consoleDir, 'index.html')), newestMtime(join(consoleDir, 'vite.config.mts')));
  if (existsSync(built) && statSync(built).mtimeMs >= inputs) return;
  process.stderr.write('building console/dist ...\n');
  // vite's package exports do not include its bin, so it is named by path.
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(consoleDir, 'vite.config.mts'), '--logLevel', 'warn'],
    {
      stdio: 'inherit',
      cwd: root,
    },
  );
}

module.exports = { buildConsoleIfStale };
if (require.main === module) buildConsoleIfStale();
