/**
 * Long work on the event loop, cut into slices: `pace()` resolves at once until the current
 * slice has run `sliceMs`, then lets everything that is waiting (other requests, the liveness
 * probe, timers) run before it resolves. A loop over a thousand alerts calls it once per item, so
 * no task holds the loop much past one slice however large the request.
 *
 * On SQLite a transaction's statements run synchronously on this thread, and other queries
 * wait on the connection's mutex while it yields: the transaction stays whole, only the loop is
 * shared.
 */
export class LoopPacer {
  private sliceStartedAt = performance.now();

  constructor(private readonly sliceMs = DEFAULT_SLICE_MS) {}

  pace(): Promise<void> | undefined {
    if (performance.now() - this.sliceStartedAt < this.sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.sliceStartedAt = performance.now();
        resolve();
      }),
    );
  }
}

/** Short enough that a probe waits well under 100 ms; long enough that yielding costs nothing measurable. */
export const DEFAULT_SLICE_MS = 25;
