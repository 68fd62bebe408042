import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, sql, PostgresDialect, SqliteDatabase as SqliteDialectDatabase, SqliteDialect, SqliteStatement } from 'kysely';
import { Pool } from 'pg';
import type { AppConfig } from '../config/config.schema';
import { StaticMigrationProvider } from './migrations';
import type { Database, Dialect } from './schema';
import { SqliteCheckpointer } from './sqlite-checkpointer';
import { observedDialect } from './observed-dialect';
import { StoreErrorSink } from './store-faults';

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** The WAL is checkpointed in the background and restarted once it passes this size. */
const MAX_WAL_BYTES = 64 * 1024 * 1024;

/** The name the service's PostgreSQL sessions carry (pg_stat_activity), unless the URL names one. */
export const POSTGRES_APPLICATION_NAME = 'llm-incident-manager';

/**
 * Opens the configured store. Every error its connections raise is reported to `errors` (the
 * store's health listens) and none of them can end the process.
 */
export function openDatabase(config: AppConfig, errors: StoreErrorSink = new StoreErrorSink()): OpenedDatabase {
  if (config.storage.driver === 'postgres') {
    const named = /[?&]application_name=/.test(config.database_url ?? '');
    const pool = new Pool({
      connectionString: config.database_url,
      ...(named ? {} : { application_name: POSTGRES_APPLICATION_NAME }),
      max: 10,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    // An idle client that loses its server must not crash the process.
    pool.on('error', (err) => errors.report(err));
    pool.on('connect', (client) => {
      // pg-pool listens for errors on a client only while it is idle, and removes its listener
      // while the client is checked out: a FATAL that arrives between two queries of a
      // transaction (a server restart, pg_terminate_backend) would be emitted with nobody
      // listening, and an 'error' event without a listener ends the process. This listener
      // stays for the client's whole life; the broken client is discarded by the pool when it
      // is released (pg marks it not queryable).
      client.on('error', (err) => errors.report(err));
      // A lock held by a stuck or cut-off instance must not stop this one's writes for long:
      // waits for a lock give up after 5 s, and a transaction left idle is ended after 60 s.
      client.query('set lock_timeout = 5000; set idle_in_transaction_session_timeout = 60000').catch(() => undefined);
    });
    const db = new Kysely<Database>({ dialect: observedDialect(new PostgresDialect({ pool }), errors) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  const path = config.storage.sqlite_path;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  // In WAL mode NORMAL keeps every commit across a process crash; only an OS crash or power
  // loss can drop the last transactions. FULL would fsync on every commit.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -65536'); // 64 MiB of page cache instead of 2 MiB
  sqlite.pragma('temp_store = MEMORY');
  let checkpointer: SqliteCheckpointer | undefined;
  if (path !== ':memory:') {
    sqlite.pragma('wal_autocheckpoint = 0');
    sqlite.pragma(`journal_size_limit = ${MAX_WAL_BYTES}`);
    checkpointer = new SqliteCheckpointer(
      path,
      () => {
        // Without the worker, the main connection checkpoints again, as SQLite does by default.
        if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
      },
      { intervalMs: 250, maxWalBytes: MAX_WAL_BYTES },
    );
  }
  const db = new Kysely<Database>({ dialect: observedDialect(new SqliteDialect({ database: new StatementCache(sqlite) }), errors) });
  return {
    db,
    dialect: 'sqlite',
    // The worker's connection closes first, so the last one to close folds the WAL back in.
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/**
 * The SQLite connection as Kysely sees it. Kysely prepares every statement on every execution;
 * preparing costs as much as running a small query. Queries are built from a few fixed shapes,
 * so their prepared statements are kept.
 */
class StatementCache implements SqliteDialectDatabase {
  private readonly statements = new Map<string, SqliteStatement>();

  constructor(
    private readonly sqlite: SqliteDatabase.Database,
    private readonly capacity = 256,
  ) {}

  prepare(sql: string): SqliteStatement {
    // Kysely opens transactions with a plain (deferred) BEGIN, which takes the write lock only at
    // the first write; if another connection (the checkpointer, another process) holds it then,
    // SQLite fails at once with SQLITE_BUSY instead of waiting. Every transaction here writes,
    // so take the lock up front, where busy_timeout applies.
    if (sql === 'begin') sql = 'begin immediate';
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.sqlite.prepare(sql);
      // Shapes are few; should they ever overflow, the oldest goes first.
      if (this.statements.size >= this.capacity) this.statements.delete(this.statements.keys().next().value as string);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.statements.clear();
    this.sqlite.close();
  }
}

export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  // Kysely looks its bookkeeping tables up in every schema; name ours, so that a database with
  // several schemas (one per test run, or per tenant) migrates each on its own.
  const schema = dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider(dialect), migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String((error as Error)?.message ?? error)}`);
  }
}
