import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Kysely, sql } from 'kysely';
import { newId } from '../common/ids';
import { MetricsService } from '../metrics/metrics.service';
import type { Database, Dialect } from './schema';
import { StoreErrorSink, StoreFault, StoreFaultKind, storeFaultOf } from './store-faults';
import { DATABASE, DIALECT } from './tokens';

/** How often the store is probed while it is down or full, to notice it is back. */
const RECOVERY_PROBE_MS = 1000;
/** Readiness checks within this long of each other share one probe (the route is public). */
const CHECK_REUSE_MS = 1000;
/** A probe that takes longer than this counts as a failure. */
const PROBE_TIMEOUT_MS = 2000;
/** The probe's row: big enough to need new pages wherever the store would, rolled back every time. */
const PROBE_FILLER_BYTES = 8192;

export type StoreStatus = 'ok' | StoreFaultKind;

export interface StoreCheck {
  ok: boolean;
  status: StoreStatus;
  /** The store's own words for what failed. */
  error?: string;
  /** When the current outage or full-disk episode began. */
  since?: string;
}

/** Thrown inside the probe's transaction so that it rolls back. */
class ProbeRollback extends Error {}

/**
 * Whether the store can be read and written, learnt from every error its connections raise
 * (StoreErrorSink) and from probes:
 *
 * - The first store fault (an unreachable PostgreSQL, SQLITE_FULL, ...) starts an episode: it
 *   is logged once with its cause, the metric llm_im_store_up drops to 0, and readiness fails.
 *   Requests meanwhile answer 503 STORE_UNAVAILABLE or STORE_FULL (the error filters), without
 *   a log line each.
 * - During an episode the store is probed every second (a read for an outage, a rolled-back
 *   write for a full disk); the first probe that succeeds ends it: logged, metric back to 1,
 *   and the background work that paused (the delivery pool, escalation) is told to resume.
 * - Readiness probes with a read and a rolled-back write, so a disk that fills up between two
 *   requests is seen without waiting for one to fail.
 */
@Injectable()
export class StoreHealth implements OnModuleDestroy {
  private readonly logger = new Logger('Store');
  private episode: { kind: StoreFaultKind; cause: string; since: string } | null = null;
  private probeTimer?: NodeJS.Timeout;
  private readonly recoveredListeners: Array<() => void> = [];
  private lastCheck: { at: number; result: Promise<StoreCheck> } | null = null;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    @Inject(DIALECT) readonly dialect: Dialect,
    sink: StoreErrorSink,
    private readonly metrics: MetricsService,
  ) {
    sink.listen((err) => this.observe(err));
    metrics.storeStatus('ok');
  }

  /** False while the store is down or full: background work waits for onRecovered. */
  get healthy(): boolean {
    return this.episode === null;
  }

  get status(): StoreStatus {
    return this.episode?.kind ?? 'ok';
  }

  /** Runs `listener` each time an episode ends. */
  onRecovered(listener: () => void): void {
    this.recoveredListeners.push(listener);
  }

  /**
   * Takes note of an error from the store; answers whether it was a store fault (an outage or
   * a full disk), which is then already logged: callers need not log it again.
   */
  observe(err: unknown): boolean {
    const fault = storeFaultOf(err);
    if (!fault) return false;
    this.begin(fault);
    return true;
  }

  /** Readiness: a read and a rolled-back write. Calls close together share one probe. */
  check(): Promise<StoreCheck> {
    const now = Date.now();
    if (this.lastCheck && now - this.lastCheck.at < CHECK_REUSE_MS) return this.lastCheck.result;
    const result = this.probe('full').then((failure) => {
      if (failure) {
        this.begin(failure);
        return { ok: false, status: failure.kind, error: failure.cause, since: this.episode?.since };
      }
      this.end();
      return { ok: true, status: 'ok' as const };
    });
    this.lastCheck = { at: now, result };
    return result;
  }

  onModuleDestroy(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }

  private begin(fault: StoreFault): void {
    if (this.episode?.kind === fault.kind) return;
    const previous = this.episode;
    this.episode = { kind: fault.kind, cause: fault.cause, since: new Date().toISOString() };
    this.lastCheck = null;
    this.metrics.storeStatus(fault.kind);
    this.logger.error({
      msg:
        fault.kind === 'full'
          ? 'The store has no room to write (disk full): writes answer 503 STORE_FULL until space is freed'
          : 'The store is unavailable: requests answer 503 STORE_UNAVAILABLE and background work waits until it is back',
      cause: fault.cause,
      ...(previous ? { previously: previous.kind } : {}),
    });
    this.scheduleProbe();
  }

  private end(): void {
    const episode = this.episode;
    if (!episode) return;
    this.episode = null;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.metrics.storeStatus('ok');
    this.logger.log({
      msg: episode.kind === 'full' ? 'The store has room to write again' : 'The store is back',
      was: episode.kind,
      since: episode.since,
      seconds: Math.round((Date.now() - Date.parse(episode.since)) / 100) / 10,
    });
    for (const listener of this.recoveredListeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ msg: 'resuming after the store came back failed', error: (err as Error).message });
      }
    }
  }

  private scheduleProbe(): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      const episode = this.episode;
      if (!episode) return;
      void this.probe(episode.kind).then((failure) => {
        if (!failure) this.end();
        else {
          // Still down (perhaps for another reason now: a restarted server with a full disk).
          if (failure.kind !== episode.kind) this.begin(failure);
          this.scheduleProbe();
        }
      });
    }, RECOVERY_PROBE_MS);
    this.probeTimer.unref();
  }

  /**
   * A read, then (for `full`) a write of a row that needs new pages, rolled back. Answers the
   * fault, or null when the store did what was asked. An error that is not a store fault (a
   * bug) counts as unavailable too: the store did not do it.
   */
  private async probe(depth: StoreFaultKind): Promise<StoreFault | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the store gave no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
      if (depth === 'full') {
        const write = this.db
          .transaction()
          .execute(async (trx) => {
            await trx
              .insertInto('store_probe')
              .values({ id: newId(), filler: randomBytes(PROBE_FILLER_BYTES / 2).toString('hex') })
              .execute();
            throw new ProbeRollback();
          })
          .catch((err: unknown) => {
            if (!(err instanceof ProbeRollback)) throw err;
          });
        await Promise.race([write, timeout]);
      }
      return null;
    } catch (err) {
      return storeFaultOf(err) ?? { kind: 'unavailable', cause: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
