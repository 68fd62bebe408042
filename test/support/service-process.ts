import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './harness';

const ROOT = join(__dirname, '..', '..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

export interface ServiceProcess {
  url: string;
  /** What the process has written to stdout so far. */
  stdout: () => string;
  child: ChildProcess;
  exited: Promise<Exit>;
}

/** Runs src/main.ts as a real process; resolves once it listens, or with its exit if it stops first. */
export async function spawnService(env: Record<string, string>): Promise<ServiceProcess | Exit> {
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(process.execPath, ['-r', './scripts/ts-register.js', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'info',
      LLM_IM__SERVER__HOST: '127.0.0.1',
      LLM_IM__SERVER__HTTP_PORT: String(port),
      LLM_IM__SERVER__GRPC_PORT: String(grpcPort),
      ...env,
    },
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, stdout });
    }),
  );
  const listening = new Promise<void>((resolve) =>
    child.stdout?.on('data', (d) => {
      stdout += d;
      if (stdout.includes('LLM Incident Manager listening')) resolve();
    }),
  );
  const first = await Promise.race([listening.then(() => 'listening' as const), exited]);
  if (first !== 'listening') return first;
  return { url: `http://127.0.0.1:${port}`, child, exited, stdout: () => stdout };
}

export function isRunning(p: ServiceProcess | Exit): p is ServiceProcess {
  return 'child' in p;
}
