import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * When TEST_DATABASE_URL is set every storage test also runs on PostgreSQL. An unreachable
 * server fails the run under CI=true; elsewhere the PostgreSQL runs are left out with a warning.
 */
export default async function globalSetup(): Promise<void> {
  // The console's pages are served from its build (test/console-api.spec.ts reads /).
  execFileSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'build-console.js')], { stdio: 'inherit' });
  // Names this run's PostgreSQL schemas (the workers inherit it), so teardown drops only them.
  process.env.TEST_RUN_ID = Date.now().toString(36);
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    const message = `TEST_DATABASE_URL=${url.replace(/\/\/[^@]*@/, '//***@')} is unreachable: ${(err as Error).message}`;
    if (process.env.CI === 'true') throw new Error(message);
    process.stderr.write(`\nWARNING: ${message}; running the SQLite tests only\n`);
    delete process.env.TEST_DATABASE_URL;
  } finally {
    await client.end().catch(() => undefined);
  }
}
