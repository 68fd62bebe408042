import { Inject, Injectable, Logger } from '@nestjs/common';
import { Kysely } from 'kysely';
import type { Tx } from './tx';
import { DomainError, ErrorCode } from '../common/domain-error';
import { MetricsService, TransactionKind } from '../metrics/metrics.service';
import { insertRows } from './cached-queries';
import { LoopPacer } from '../common/loop-pacer';
import { DATABASE, DIALECT } from './tokens';
import type { Database, Dialect } from './schema';

export type { Tx } from './tx';

const MAX_ATTEMPTS = 8;

/**
 * Errors after which the whole transaction is simply run again:
 * - a unique-key violation means a concurrent transaction committed the row we were about to
 *   create (the dedup target of a fingerprint, an alert's external id); the re-run sees that
 *   row and takes the other branch;
 * - PostgreSQL's deadlock (40P01) and serialization failure (40001) are resolved by a retry.
 * Not SQLITE_BUSY: better-sqlite3 already waited busy_timeout for the lock, blocking the event
 * loop; waiting again would stall every request.
 */
const RETRYABLE_CODES = new Set(['23505', '40P01', '40001', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

interface GroupedWork {
  work: (tx: Tx) => Promise<unknown>;
  weight: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Upper bound on the rows (alerts) one grouped transaction takes on, to bound its latency. */
const MAX_GROUP_WEIGHT = 2000;
/** Upper bound on the rows waiting for (or in) a grouped transaction; past it, 503 OVERLOADED. */
const MAX_WAITING_WEIGHT = 100_000;

@Injectable()
export class Transactor {
  private readonly logger = new Logger(Transactor.name);
  private readonly waiting: GroupedWork[] = [];
  private waitingWeight = 0;
  private draining = false;

  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    @Inject(DIALECT) readonly dialect: Dialect,
    private readonly metrics: MetricsService,
  ) {}

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.runAs(work, 'single');
  }

  private async runAs<T>(work: (tx: Tx) => Promise<T>, kind: TransactionKind): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const callbacks: Array<() => void> = [];
      let result: T;
      const started = process.hrtime.bigint();
      try {
        result = await this.db.transaction().execute(async (trx) => {
          const pending = new Map<keyof Database, object[]>();
          const rowsOf = (table: keyof Database): object[] => {
            let rows = pending.get(table);
            if (!rows) pending.set(table, (rows = []));
            return rows;
          };
          const pacer = new LoopPacer();
          const tx: Tx = {
            db: trx,
            pace: () => pacer.pace(),
            dialect: this.dialect,
            afterCommit: (fn) => callbacks.push(fn),
            deferInsert: (table, row) => void rowsOf(table).push(row),
            deferred: (table) => rowsOf(table) as never,
            flush: async () => {
              for (const [table, rows] of pending) {
                pending.delete(table);
                await insertRows(tx, table, rows as never);
              }
            },
          };
          const value = await work(tx);
          await tx.flush();
          return value;
        });
      } catch (err) {
        if (attempt < MAX_ATTEMPTS && isRetryable(err)) {
          // Jittered backoff, so that two instances that collided do not collide again.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
          continue;
        }
        throw err;
      } finally {
        // Every attempt, committed or not: a lock wait that ends in a retry is time spent too.
        this.metrics.transaction(kind, Number(process.hrtime.bigint() - started) / 1e9);
      }
      // Committed: nothing that happens now may fail the caller or cause a re-run.
      for (const fn of callbacks) {
        try {
          fn();
        } catch (err) {
          this.logger.error({ msg: 'after-commit callback failed', err: err instanceof Error ? err.message : String(err) });
        }
      }
      return result;
    }
  }

  /**
   * Group commit: units of work that arrive while a transaction is running share the next one,
   * so one commit (the costly part of a small write) serves many requests. Each caller still
   * gets its own result only after the shared commit, and its after-commit callbacks run then.
   * If one unit's work (or its deferred rows) fails, the group rolls back and each unit is run
   * alone, so one failing unit never takes the others down; if BEGIN or COMMIT fails, every unit
   * gets the error and none is re-run. `weight` (rows written) bounds the size of a group; past
   * MAX_WAITING_WEIGHT waiting, refusable work is refused with OVERLOADED.
   */
  runGrouped<T>(work: (tx: Tx) => Promise<T>, weight = 1, { refusable = true }: { refusable?: boolean } = {}): Promise<T> {
    // Not refusable: writes of work already done (delivery outcomes), which no caller could retry
    // later instead; refused, they would only grow while the deliveries' leases ran out.
    if (refusable && this.waitingWeight + weight > MAX_WAITING_WEIGHT) {
      // The store is not keeping up (or a lock holds it): refuse rather than queue without end.
      return Promise.reject(new DomainError(ErrorCode.OVERLOADED, 'too many writes are waiting for the store; retry later', { waiting: this.waitingWeight }));
    }
    this.waitingWeight += weight;
    return new Promise<T>((resolve, reject) => {
      const settle =
        <A extends unknown[]>(fn: (...args: A) => void) =>
        (...args: A) => {
          this.waitingWeight -= weight;
          fn(...args);
        };
      this.waiting.push({ work, weight, resolve: settle(resolve as (value: unknown) => void), reject: settle(reject) });
      this.scheduleDrain();
    });
  }

  /**
   * better-sqlite3 runs a whole transaction inside one macrotask (its awaits are microtasks), so
   * starting at once would leave every group at one unit. Draining from setImmediate lets the
   * requests read in the same I/O phase join the group first.
   */
  private scheduleDrain(): void {
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      if (this.waiting.length > 0) {
        let weight = 0;
        let count = 0;
        while (count < this.waiting.length && (count === 0 || weight + this.waiting[count].weight <= MAX_GROUP_WEIGHT)) {
          weight += this.waiting[count].weight;
          count += 1;
        }
        await this.commitGroup(this.waiting.splice(0, count));
      }
    } finally {
      this.draining = false;
      if (this.waiting.length > 0) this.scheduleDrain();
    }
  }

  private async commitGroup(group: GroupedWork[]): Promise<void> {
    if (group.length === 1) {
      await this.run(group[0].work).then(group[0].resolve, group[0].reject);
      return;
    }
    let unitFailed = false;
    try {
      const results = await this.runAs(async (tx) => {
        unitFailed = false;
        const out: unknown[] = [];
        try {
          for (const unit of group) {
            out.push(await unit.work(tx));
            await tx.pace();
          }
          // The units' deferred rows: a failure here is one unit's data too.
          await tx.flush();
        } catch (err) {
          unitFailed = true;
          throw err;
        }
        return out;
      }, 'grouped');
      group.forEach((unit, i) => unit.resolve(results[i]));
      return;
    } catch (err) {
      // BEGIN or COMMIT failed, or the connection did: the group may even have committed, so
      // nothing is run again; every caller gets the error.
      if (!unitFailed) {
        for (const unit of group) unit.reject(err);
        return;
      }
    }
    // One unit's own work failed and the shared transaction rolled back: run each alone, so
    // the failing one gets its error and the others commit.
    for (const unit of group) await this.run(unit.work).then(unit.resolve, unit.reject);
  }
}
