import type { Insertable, Transaction } from 'kysely';
import type { Database, Dialect } from './schema';

/** A running transaction, plus work to do only once it has committed (events, wake-ups). */
export interface Tx {
  readonly db: Transaction<Database>;
  readonly dialect: Dialect;
  afterCommit(fn: () => void): void;
  /**
   * Inserts a row before the transaction commits, together with the other rows deferred for
   * its table (multi-row inserts). For rows nothing in the transaction reads back by query;
   * `deferred` shows what is waiting.
   */
  deferInsert<T extends keyof Database>(table: T, row: Insertable<Database[T]>): void;
  deferred<T extends keyof Database>(table: T): readonly Insertable<Database[T]>[];
  /** Writes the deferred rows now (the transaction does so before it commits anyway). */
  flush(): Promise<void>;
  /**
   * Call once per item of a long loop: yields the event loop when the transaction has run a
   * slice (see LoopPacer), so a batch of a thousand alerts does not hold it for its whole length.
   */
  pace(): Promise<void> | undefined;
}
