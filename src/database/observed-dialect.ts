import type { CompiledQuery, DatabaseConnection, Dialect, Driver, Kysely, QueryResult, TransactionSettings } from 'kysely';
import type { StoreErrorSink } from './store-faults';

/**
 * The configured dialect with two changes to its driver:
 * - every error a connection or a query raises is reported to `sink` (the store's health
 *   decides whether it is an outage) before it goes on to the caller;
 * - a failed ROLLBACK no longer replaces the error that caused it. Kysely rethrows the
 *   rollback's error: after SQLITE_FULL, SQLite has already rolled back and the client saw
 *   "cannot rollback - no transaction is active" instead of the full disk; on PostgreSQL the
 *   rollback on a cut connection fails too (Kysely's PostgreSQL driver discards that
 *   connection before it rethrows, so nothing is lost by keeping the first error).
 */
export function observedDialect(dialect: Dialect, sink: StoreErrorSink): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new ObservedDriver(dialect.createDriver(), sink),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db: Kysely<unknown>) => dialect.createIntrospector(db),
  };
}

class ObservedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly sink: StoreErrorSink,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(compiledQuery);
    } catch (err) {
      this.sink.report(err);
      throw err;
    }
  }

  streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(compiledQuery, chunkSize);
  }
}

class ObservedDriver implements Driver {
  /** One wrapper per pooled connection, kept as long as the pool keeps the connection. */
  private readonly wrappers = new WeakMap<DatabaseConnection, ObservedConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly sink: StoreErrorSink,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let connection: DatabaseConnection;
    try {
      connection = await this.inner.acquireConnection();
    } catch (err) {
      this.sink.report(err);
      throw err;
    }
    let wrapper = this.wrappers.get(connection);
    if (!wrapper) this.wrappers.set(connection, (wrapper = new ObservedConnection(connection, this.sink)));
    return wrapper;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(this.unwrap(connection), settings).catch((err: unknown) => this.reported(err));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(this.unwrap(connection)).catch((err: unknown) => this.reported(err));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(this.unwrap(connection));
    } catch {
      // The error that made the transaction roll back is the one the caller gets.
    }
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(this.unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }

  private unwrap(connection: DatabaseConnection): DatabaseConnection {
    return connection instanceof ObservedConnection ? connection.inner : connection;
  }

  private reported(err: unknown): never {
    this.sink.report(err);
    throw err;
  }
}
