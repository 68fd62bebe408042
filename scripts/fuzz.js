// Longer fuzz runs: `npm run fuzz -- --runs 100000 --seed 7` runs test/fuzz.spec.ts with FUZZ_RUNS and FUZZ_SEED.
'use strict';
const { spawnSync } = require('node:child_process');

const args = process.argv.slice(2);
const env = { ...process.env };
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split('=');
  const value = inline ?? args[++i];
  if (flag === '--runs') env.FUZZ_RUNS = value;
  else if (flag === '--seed') env.FUZZ_SEED = value;
  else if (flag === '--pg-runs') env.FUZZ_PG_RUNS = value;
  else {
    console.error(`unknown option ${flag}; use --runs N --seed S [--pg-runs N]`);
    process.exit(2);
  }
}
const jest = require.resolve('jest/bin/jest');
const result = spawnSync(process.execPath, [jest, 'test/fuzz.spec.ts', '--runInBand'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
