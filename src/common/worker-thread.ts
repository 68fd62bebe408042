import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module of this project, given its path without extension. The
 * build compiles it beside its caller (`.js`). Run from the TypeScript sources (jest, `npm run
 * example`, the process tests), the worker loads the `.ts` through the same transpile-on-require
 * hook as the process tests: Node refuses a `.ts` file as a worker's entry, hence the one-line
 * loader.
 */
export function startWorker(modulePath: string, options: WorkerOptions): Worker {
  if (existsSync(`${modulePath}.js`)) return new Worker(`${modulePath}.js`, options);
  const hook = join(__dirname, '..', '..', 'scripts', 'ts-register.js');
  return new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(`${modulePath}.ts`)});`, { ...options, eval: true });
}
