/**
 * What the examples share: the service started in-process on a temporary SQLite file with the
 * given [notifications] settings, and small helpers over its REST API. Run an example with
 * `npm run example examples/notifications/<name>.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app';
import { generateApiKey } from '../../src/auth/api-key-format';
import { buildConfig } from '../../src/config/config.loader';

export interface RunningService {
  url: string;
  post(path: string, body: unknown): Promise<any>;
  get(path: string): Promise<any>;
  /** Waits until every delivery of the incident is sent, failed or cancelled; answers the log. */
  deliveries(incidentId: string, count: number): Promise<any[]>;
  stop(): Promise<void>;
}

export async function startService(notifications: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Promise<RunningService> {
  const dir = mkdtempSync(join(tmpdir(), 'llm-im-example-'));
  // The service starts with this admin key (auth.bootstrap_key_env) and every call sends it.
  const key = generateApiKey().key;
  const config = buildConfig(
    { storage: { sqlite_path: join(dir, 'incidents.db') }, notifications: { retry_backoff_secs: 1, ...notifications } },
    { ...env, LLM_IM_BOOTSTRAP_KEY: key },
  );
  const app = await createApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: any = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    url,
    post: (path, body) => call('POST', path, body),
    get: (path) => call('GET', path),
    async deliveries(incidentId, count) {
      for (let i = 0; i < 300; i++) {
        const log = (await call('GET', `/v1/incidents/${incidentId}/notifications`)) as any[];
        if (log.length >= count && log.every((d) => ['sent', 'failed', 'cancelled'].includes(d.status))) return log;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('deliveries did not settle within 30 s');
    },
    async stop() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function printLog(log: any[]): void {
  console.table(
    log.map((d) => ({
      event: d.event,
      channel: d.channel,
      action: d.action,
      target: d.target,
      status: d.status,
      attempts: d.attempts,
      error: d.last_error ?? '',
    })),
  );
}

export function alert(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: 'llm-sentinel',
    title: 'API Gateway Down',
    description: 'All requests returning 503 errors',
    severity: 'P0',
    alert_type: 'Availability',
    affected_services: ['api-gateway'],
    labels: { environment: 'production' },
    ...overrides,
  };
}

export const resolution = { resolved_by: 'alice', method: 'Manual', notes: 'Rolled back the gateway deploy', root_cause: 'Bad config push' };
