import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/** Runs src/main.ts as a real process with the given environment. */
function runService(env: Record<string, string>, untilReady?: (port: number) => Promise<void>, port = 0): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', './test/support/ts-register.js', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      if (untilReady && stdout.includes('LLM Incident Manager listening')) {
        const check = untilReady;
        untilReady = undefined;
        check(port).then(() => child.kill('SIGTERM'), reject);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, stdout });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('the service process', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'llm-im-proc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an unknown key in the file', '[server]\nhttp_prot = 8080\n', {}, 'server.http_prot'],
    ['a value of the wrong type', '[processing]\ndeduplication_window_secs = "15m"\n', {}, 'processing.deduplication_window_secs'],
    ['a bad env override', '', { LLM_IM__SERVER__HTTP_PORT: 'eighty' }, 'LLM_IM__SERVER__HTTP_PORT'],
    ['postgres without its URL', '[storage]\ndriver = "postgres"\npostgres_url_env = "NO_SUCH_VAR"\n', {}, 'storage.postgres_url_env'],
  ])('stops at startup on %s, naming the key', async (_name, toml, env, key) => {
    const path = join(dir, 'config.toml');
    writeFileSync(path, toml);
    const result = await runService({ CONFIG_PATH: path, LLM_IM__STORAGE__SQLITE_PATH: join(dir, 'incidents.db'), ...env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(key);
    expect(existsSync(join(dir, 'incidents.db'))).toBe(false);
  });

  it('starts on the embedded default, serves, and shuts down cleanly on SIGTERM', async () => {
    const port = await freePort();
    const db = join(dir, 'data', 'incidents.db');
    const result = await runService(
      { LLM_IM__SERVER__HOST: '127.0.0.1', LLM_IM__SERVER__HTTP_PORT: String(port), LLM_IM__STORAGE__SQLITE_PATH: db },
      async (p) => {
        const ready = await fetch(`http://127.0.0.1:${p}/health/ready`);
        expect(ready.status).toBe(200);
        const res = await fetch(`http://127.0.0.1:${p}/v1/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ source: 's', title: 't', description: 'd', severity: 'P2', alert_type: 'Data' }),
        });
        expect(res.status).toBe(200);
      },
      port,
    );
    expect(result.signal === 'SIGTERM' || result.code === 0 || result.code === 143).toBe(true);
    // The SQLite folder was created, and a clean close folds the WAL back into the database file.
    expect(existsSync(db)).toBe(true);
    expect(existsSync(`${db}-wal`)).toBe(false);
    // Every log line is one JSON object.
    for (const line of result.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});
