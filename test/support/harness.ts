import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { InterceptingCall, Interceptor } from '@grpc/grpc-js';
import request from 'supertest';
import { createServer } from 'node:net';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { createApp } from '../../src/app';
import type { Tx } from '../../src/database/tx';
import type { IncidentEvent } from '../../src/incidents/domain/events';
import { INCIDENT_CHANGE_IN_TRANSACTION, IncidentChangeInTransaction } from '../../src/incidents/incident-change.event';
import { startGrpc } from '../../src/grpc/grpc.server';
import { schemaPrefix } from './schema-prefix';
import { Clock } from '../../src/common/clock';
import { buildConfig } from '../../src/config/config.loader';
import type { AppConfig } from '../../src/config/config.schema';

export type Driver = 'sqlite' | 'postgres';

/** SQLite always; PostgreSQL too when TEST_DATABASE_URL is set (CI sets it). */
export function drivers(): Driver[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A clock the test moves by hand. */
export class ManualClock extends Clock {
  private current = Date.parse('2026-01-15T14:32:00.000Z');
  override now(): Date {
    return new Date(this.current);
  }
  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

/**
 * One isolated store: a SQLite file in a temp folder, or a PostgreSQL schema of its own (the
 * connection URL selects it through search_path). Several apps may open it, one after another
 * or side by side.
 */
export class TestStore {
  private dir?: string;
  private schema?: string;

  private constructor(readonly driver: Driver) {}

  static async create(driver: Driver): Promise<TestStore> {
    const store = new TestStore(driver);
    if (driver === 'sqlite') {
      store.dir = mkdtempSync(join(tmpdir(), 'llm-im-test-'));
    } else {
      store.schema = `${schemaPrefix()}${randomBytes(6).toString('hex')}`;
      await store.admin(`create schema ${store.schema}`);
    }
    return store;
  }

  /** `env` stands for the process environment: the variables the *_env keys name (secrets). */
  config(overrides: Record<string, Record<string, unknown>> = {}, extraEnv: Record<string, string> = {}): AppConfig {
    const { storage, env } = this.settings();
    return buildConfig(
      { ...overrides, storage: { ...storage, ...(overrides.storage ?? {}) }, limits: { ...TEST_LIMITS, ...(overrides.limits ?? {}) } },
      { ...env, ...extraEnv },
    );
  }

  /** The same store as environment variables, for a service started as a process. */
  processEnv(): Record<string, string> {
    const { storage, env } = this.settings();
    const vars: Record<string, string> = { ...env };
    for (const [key, value] of Object.entries(TEST_LIMITS)) vars[`LLM_IM__LIMITS__${key.toUpperCase()}`] = String(value);
    for (const [key, value] of Object.entries(storage)) vars[`LLM_IM__STORAGE__${key.toUpperCase()}`] = value;
    return vars;
  }

  private settings(): { storage: Record<string, string>; env: Record<string, string> } {
    // Every store starts with the admin key ADMIN_KEY (auth.bootstrap_key_env's default variable).
    const keyEnv = { LLM_IM_BOOTSTRAP_KEY: ADMIN_KEY };
    if (this.driver === 'sqlite') return { storage: { driver: 'sqlite', sqlite_path: join(this.dir as string, 'incidents.db') }, env: keyEnv };
    const url = new URL(process.env.TEST_DATABASE_URL as string);
    url.searchParams.set('options', `-c search_path=${this.schema}`);
    return { storage: { driver: 'postgres', postgres_url_env: 'TEST_PG_URL' }, env: { ...keyEnv, TEST_PG_URL: url.toString() } };
  }

  async destroy(): Promise<void> {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    // PostgreSQL schemas are dropped together at the end of the run (global-teardown.ts): a
    // DROP SCHEMA while another test's migration introspects the catalog fails that migration
    // with "schema ... does not exist".
  }

  private async admin(statement: string): Promise<void> {
    const client = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }
}

/** The admin key every test store is bootstrapped with; `RunningApp.http` sends it. */
export const ADMIN_KEY = 'lim_00000000000000aa_' + 'a'.repeat(64);

/**
 * The per-key limits are lifted for tests that are about something else (thousands of alerts,
 * hundreds of concurrent requests); the tests of the limits set their own.
 */
const TEST_LIMITS = {
  ingest_rate_per_sec: 1_000_000,
  ingest_burst: 10_000_000,
  max_concurrent_requests_per_key: 100_000,
  max_streams_per_key: 10_000,
  max_expensive_reads_per_key: 10_000,
};

/** supertest on the app's server, sending `Authorization: Bearer <key>` with every request. */
export function authedHttp(server: Parameters<typeof request>[0], key = ADMIN_KEY): ReturnType<typeof request> {
  return request.agent(server).set('authorization', `Bearer ${key}`);
}

/** A grpc-js client interceptor that sends the key in the `authorization` metadata entry, as any gRPC client would. */
export function grpcKeyInterceptor(key: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${key}`);
        next(metadata, listener);
      },
    });
}

export interface RunningApp {
  app: NestFastifyApplication;
  /** Authenticated as ADMIN_KEY. */
  http: ReturnType<typeof request>;
  /** Without credentials. */
  anon: ReturnType<typeof request>;
  /** host:port of the gRPC server, when started with `grpc: true`. */
  grpcAddress: string;
  close(): Promise<void>;
}

/** Starts the real application (HTTP on an ephemeral loopback port) on the given store. */
export async function startApp(
  store: TestStore,
  options: {
    overrides?: Record<string, Record<string, unknown>>;
    clock?: Clock;
    env?: Record<string, string>;
    grpc?: boolean;
    logger?: LoggerService;
    /** What a configuration reload reads (SIGHUP, POST /v1/admin/config/reload). */
    configSource?: () => AppConfig;
  } = {},
): Promise<RunningApp> {
  const overrides = { ...options.overrides };
  if (options.grpc) overrides.server = { ...overrides.server, host: '127.0.0.1', grpc_port: await freePort() };
  const config = store.config(overrides, options.env);
  const app = await createApp(config, { clock: options.clock, logger: options.logger, configSource: options.configSource });
  await app.listen({ port: 0, host: '127.0.0.1' });
  if (options.grpc) await startGrpc(app, config);
  const server = app.getHttpServer();
  return { app, http: authedHttp(server), anon: request(server), grpcAddress: `127.0.0.1:${config.server.grpc_port}`, close: () => app.close() };
}

/**
 * A port free on the loopback interface now, for a server that binds it later (a child process, gRPC).
 * It is drawn from below the kernel's ephemeral range: a port that listen(0) hands out comes from that
 * range, where any outgoing connection on the machine (a PostgreSQL client, a test's HTTP request) may
 * take it as its local port before the server binds it, as a CI run saw (EADDRINUSE on restart).
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let tries = 0; tries < 50; tries++) {
    const candidate = 10000 + Math.floor(Math.random() * (low - 10000));
    if (await canListen(candidate)) return candidate;
  }
  throw new Error(`no free port found between 10000 and ${low}`);
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11000) return low;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152
  }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function alert(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: 'prometheus',
    title: 'High error rate on api-gateway',
    description: '5xx ratio above 5% for 5 minutes',
    severity: 'P2',
    alert_type: 'Application',
    affected_services: ['api-gateway'],
    ...overrides,
  };
}

/** Adds a listener that runs inside each incident change's transaction, as the notification outbox does. */
export function onChangeInTransaction(app: NestFastifyApplication, listener: (tx: Tx, event: IncidentEvent) => Promise<void>): void {
  // emitAsync awaits what a listener returns: a rejection rolls the change back.
  app
    .get(EventEmitter2)
    .on(INCIDENT_CHANGE_IN_TRANSACTION, ((change: IncidentChangeInTransaction) => listener(change.tx, change.event)) as (...args: unknown[]) => void);
}

/** Polls `check` until it holds; fails naming `what` after `ms`. For waits on a condition, never a fixed sleep. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
