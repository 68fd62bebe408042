/**
 * Who may start an exchange now: `workers` workers of `perWorker` exchanges each, and per target
 * at most three quarters of all of them (at least one), one while the target is failing, none
 * while it asked for a pause (Retry-After). A hung target therefore never holds every slot.
 */
export class ExchangeSlots {
  private readonly byWorker: number[];
  private readonly byTarget = new Map<string, number>();
  /** Failing targets: their failures in a row, and since when they fail. */
  private readonly failing = new Map<string, { failures: number; since: number }>();
  private readonly pausedUntil = new Map<string, number>();
  private total = 0;
  /** Exchanges a healthy target may hold. */
  readonly targetShare: number;

  constructor(
    workers: number,
    private readonly perWorker: number,
    private readonly nowMs: () => number,
  ) {
    this.byWorker = new Array<number>(workers).fill(0);
    const all = workers * perWorker;
    this.targetShare = Math.max(1, all - Math.max(1, Math.floor(all / 4)));
  }

  get inFlight(): number {
    return this.total;
  }

  get failingTargets(): string[] {
    return [...this.failing.keys()];
  }

  isFailing(key: string): boolean {
    return this.failing.has(key);
  }

  /** The worker (1-based) with the fewest exchanges in flight, if it has room for one more; else 0. */
  freeWorker(): number {
    let best = -1;
    for (let i = 0; i < this.byWorker.length; i++) {
      if (this.byWorker[i] < this.perWorker && (best < 0 || this.byWorker[i] < this.byWorker[best])) best = i;
    }
    return best + 1;
  }

  /** Whether the target may start another exchange now. */
  mayStart(key: string): boolean {
    return (this.byTarget.get(key) ?? 0) < this.limitOf(key);
  }

  start(worker: number, key: string): void {
    this.total += 1;
    this.byWorker[worker - 1] += 1;
    this.byTarget.set(key, (this.byTarget.get(key) ?? 0) + 1);
  }

  end(worker: number, key: string): void {
    this.total -= 1;
    this.byWorker[worker - 1] -= 1;
    const left = (this.byTarget.get(key) ?? 1) - 1;
    if (left === 0) this.byTarget.delete(key);
    else this.byTarget.set(key, left);
  }

  /** An attempt got through; answers how many failures in a row the target had until now (0: it was not failing). */
  succeeded(key: string): number {
    const failures = this.failing.get(key)?.failures ?? 0;
    this.failing.delete(key);
    return failures;
  }

  /**
   * An attempt started at `startedAtMs` failed at `nowMs` in a way worth retrying; answers the
   * target's failures in a row. The attempts already in flight when the target began to fail
   * count as that one failure: only the probes started after it add to the count.
   */
  failed(key: string, startedAtMs: number, nowMs: number): number {
    const state = this.failing.get(key);
    if (!state) {
      this.failing.set(key, { failures: 1, since: nowMs });
      return 1;
    }
    if (startedAtMs >= state.since) state.failures += 1;
    return state.failures;
  }

  /** Nothing starts on this target before `untilMs`; answers whether that moved the pause later. */
  pause(key: string, untilMs: number): boolean {
    if ((this.pausedUntil.get(key) ?? 0) >= untilMs) return false;
    this.pausedUntil.set(key, untilMs);
    return true;
  }

  private limitOf(key: string): number {
    const paused = this.pausedUntil.get(key);
    if (paused !== undefined) {
      if (paused > this.nowMs()) return 0;
      this.pausedUntil.delete(key);
    }
    return this.failing.has(key) ? 1 : this.targetShare;
  }
}
