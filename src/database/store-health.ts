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
/** The one row the probe keeps, updated at each probe: a committed write. */
const HEARTBEAT_ID = 'heartbeat';

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
 * - During an episode the store is probed every second (a read, a write that needs new pages,
 *   rolled back, and a committed write); the first probe that succeeds ends it: logged, metric
 *   back to 1, and the background work that paused (the delivery pool, escalation) is told to
 *   resume.
 * - Readiness runs the same probe (at most once a second), so a disk that fills up between two
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

  /**
   * Readiness: a read and two writes (see probe). Calls close together share one probe. A fault
   * starts an episode; a failure that is not one (a timeout of a busy pool, a read-only
   * replica) only fails readiness.
   */
  check(): Promise<StoreCheck> {
    const now = Date.now();
    if (this.lastCheck && now - this.lastCheck.at < CHECK_REUSE_MS) return this.lastCheck.result;
    const episode = this.episode;
    const result = this.probe().then((failure) => {
      if (failure) {
        if (failure.fault) this.begin(failure.fault);
        return { ok: false, status: failure.fault?.kind ?? 'unavailable', error: failure.cause, since: this.episode?.since };
      }
      // Only the episode this probe was started in ends: one that began meanwhile is newer news.
      if (this.episode === episode) this.end();
      return { ok: !this.episode, status: this.status, ...(this.episode ? { error: this.episode.cause, since: this.episode.since } : {}) };
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
      void this.probe().then((failure) => {
        if (this.episode !== episode) return; // ended or replaced meanwhile
        if (!failure) this.end();
        else {
          // Still down (perhaps for another reason now: a restarted server with a full disk).
          if (failure.fault && failure.fault.kind !== episode.kind) this.begin(failure.fault);
          this.scheduleProbe();
        }
      });
    }, RECOVERY_PROBE_MS);
    this.probeTimer.unref();
  }

  /**
   * What the store must do for the service to work: answer a read; allocate new pages (a row
   * of 8 KiB inserted and rolled back: fails when the file may not grow, SQLITE_FULL under
   * max_page_count, or PostgreSQL cannot extend the table); and commit a write (a heartbeat row
   * updated: the commit appends to the WAL, which fails when the disk has no room for it).
   * Answers null when all three succeed, else the failure and, when it is one, the fault.
   */
  private async probe(): Promise<{ fault: StoreFault | null; cause: string } | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the store gave no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    const work = async () => {
      await sql`select 1`.execute(this.db);
      await this.db
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
      await this.db
        .insertInto('store_probe')
        .values({ id: HEARTBEAT_ID, filler: new Date().toISOString() })
        .onConflict((oc) => oc.column('id').doUpdateSet({ filler: new Date().toISOString() }))
        .execute();
    };
    try {
      await Promise.race([work(), timeout]);
      return null;
    } catch (err) {
      const fault = storeFaultOf(err);
      return { fault, cause: fault?.cause ?? (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
