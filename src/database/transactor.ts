import { Inject, Injectable } from '@nestjs/common';
import { Kysely, Transaction } from 'kysely';
import { DATABASE, DIALECT } from './tokens';
import type { Database, Dialect } from './schema';

/** A running transaction, plus work to do only once it has committed (events, wake-ups). */
export interface Tx {
  readonly db: Transaction<Database>;
  readonly dialect: Dialect;
  afterCommit(fn: () => void): void;
}

const MAX_ATTEMPTS = 8;

/**
 * A unique-key violation means a concurrent transaction committed the row we were about to
 * create (an open incident for the fingerprint, an alert's external id). Re-running the whole
 * transaction then sees that row and takes the other branch.
 */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown } | null;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

@Injectable()
export class Transactor {
  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    @Inject(DIALECT) readonly dialect: Dialect,
  ) {}

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const callbacks: Array<() => void> = [];
      try {
        const result = await this.db.transaction().execute((trx) =>
          work({ db: trx, dialect: this.dialect, afterCommit: (fn) => callbacks.push(fn) }),
        );
        for (const fn of callbacks) fn();
        return result;
      } catch (err) {
        if (attempt < MAX_ATTEMPTS && isUniqueViolation(err)) continue;
        throw err;
      }
    }
  }
}
