import type { AttemptResult } from '../delivery.repository';

/** How long outcomes gather before they are written in one transaction. */
export const FLUSH_DELAY_MS = 2;
/** How long to wait before writing again after a failed write. */
export const RETRY_WRITE_MS = 1000;
/** Outcomes per write: what piles up while the store is away is written back in bounded transactions. */
export const MAX_RESULTS_PER_WRITE = 1000;

/**
 * Gathers attempt outcomes and writes them in batches, one transaction per batch: outcomes that
 * finish within FLUSH_DELAY_MS of each other share a commit. A batch whose write fails is kept,
 * in order, and written again; if the process dies first, the leases expire and the deliveries
 * are sent again: at least once, never lost.
 */
export class OutcomeRecorder {
  private results: AttemptResult[] = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly write: (batch: AttemptResult[]) => Promise<void>,
    /** Told of each batch once it is written. */
    private readonly recorded: (batch: AttemptResult[]) => void,
    private readonly failed: (err: Error) => void,
  ) {}

  get waiting(): number {
    return this.results.length;
  }

  add(result: AttemptResult): void {
    this.results.push(result);
    this.schedule(FLUSH_DELAY_MS);
  }

  /** No more retries on a timer (shutdown); flush() still writes what waits. */
  stop(): void {
    this.stopped = true;
  }

  /** Writes whatever waits now, in batches of at most MAX_RESULTS_PER_WRITE; rejects if a write fails (its batch is kept). */
  async flush(): Promise<void> {
    for (;;) {
      // One write at a time, so that a failed batch goes back in front of what came after it.
      while (this.flushing) await this.flushing;
      if (this.results.length === 0) return;
      await this.flushBatch();
    }
  }

  private async flushBatch(): Promise<void> {
    const batch = this.results.slice(0, MAX_RESULTS_PER_WRITE);
    this.results = this.results.slice(batch.length);
    this.flushing = this.write(batch)
      .then(() => this.recorded(batch))
      .catch((err: Error) => {
        // Back in front, in order (concat: a spread of a long backlog would overflow the stack).
        this.results = batch.concat(this.results);
        this.failed(err);
        if (!this.stopped) this.schedule(RETRY_WRITE_MS);
        throw err;
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  private schedule(ms: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.flush().catch(() => undefined);
    }, ms).unref();
  }
}
