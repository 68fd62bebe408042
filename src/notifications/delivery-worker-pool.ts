import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../common/clock';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { DIALECT } from '../database/tokens';
import { StoreHealth } from '../database/store-health';
import { MetricsService } from '../metrics/metrics.service';
import type { Dialect } from '../database/schema';
import { CHANNEL_PROVIDERS, ChannelProvider } from './channels/channel-provider';
import type { AttemptResult } from './delivery.repository';
import { DeliveryClaimsRepository } from './delivery-claims.repository';
import { DeliveryHistoryRepository } from './delivery-history.repository';
import { DeliveryPolicy } from './delivery-policy';
import { attemptBudgetMs, DeliveryAttempts } from './pool/delivery-attempts';
import { ExchangeSlots } from './pool/exchange-slots';
import { Followers } from './pool/followers';
import { HeldDeliveries } from './pool/held-deliveries';
import { OutcomeRecorder } from './pool/outcome-recorder';
import { Delivery, OutboundMessage, PRIORITY_CLASSES, SendOutcome } from './notification';
import type { DeliveryLease } from './notification-router';
import { ReadyQueue, splitKey, targetKey } from './pool/ready-queue';

/** Rows claimed per round trip to the store. */
const CLAIM_BATCH = 256;
/** Claimed deliveries waiting per target (at most a quarter of the queue): one slow target cannot fill the ready queue. */
const PER_TARGET_QUEUE_MAX = 256;
/** How often the store is polled for deliveries that fell due (retries, other instances' rows). */
const POLL_MS = 500;
/** How long in-flight sends may finish after SIGTERM. */
const SHUTDOWN_GRACE_MS = 10_000;
/** How long shutdown waits for the store (a claim in progress, the last hand-back and outcomes). */
const STORE_WAIT_AT_SHUTDOWN_MS = 5_000;

export interface PoolState {
  owner: string;
  worker_count: number;
  /** Exchanges the pool may have in flight at once: worker_threads × worker_max_in_flight. */
  max_in_flight: number;
  queue_capacity: number;
  queue_depth: number;
  in_flight: number;
  degraded_targets: string[];
}

/**
 * The worker pool: `worker_threads` workers, each holding up to `worker_max_in_flight` exchanges
 * at once, fed from an in-memory ready queue of at most `queue_size` claimed deliveries (see
 * ReadyQueue: most urgent first, targets in turn). The store is the queue of record: the pool
 * claims due rows with a lease, sends them through the channel's provider and writes each
 * outcome back. The deliveries it holds and their leases are kept by HeldDeliveries; each
 * attempt is made and settled by DeliveryAttempts.
 *
 * - A retry is a time on the row (`next_attempt_at`), never a sleep: a slot is free again as
 *   soon as its attempt ends.
 * - Only the first undelivered delivery of an (incident, channel, target) is ever claimed, so a
 *   resolve never overtakes its trigger.
 * - A target holds at most three quarters of the exchanges in flight, and one while it is
 *   failing, so a hung target cannot starve the others.
 */
@Injectable()
export class DeliveryWorkerPool implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Notifications');
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly workerCount: number;
  private readonly perWorker: number;
  private readonly capacity: number;
  private readonly perTargetMax: number;
  private readonly leaseMs: number;

  private readonly ready: ReadyQueue;
  private readonly slots: ExchangeSlots;
  private readonly held: HeldDeliveries;
  private readonly attempts: DeliveryAttempts;
  private readonly sends = new Set<Promise<void>>();

  private readonly outcomes: OutcomeRecorder;
  private claimScheduled = false;
  private fullClaimWanted = false;
  private readonly followers = new Followers();
  /** Due deliveries were left in the store because the ready queue (or a target's) was full. */
  private backlog = false;
  private claiming = false;
  private claimAgain = false;
  private pollTimer?: NodeJS.Timeout;
  private started = false;
  private stopping = false;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(DIALECT) private readonly dialect: Dialect,
    @Inject(CHANNEL_PROVIDERS) providers: ChannelProvider[],
    private readonly claims: DeliveryClaimsRepository,
    history: DeliveryHistoryRepository,
    policy: DeliveryPolicy,
    private readonly clock: Clock,
    metrics: MetricsService,
    private readonly store: StoreHealth,
  ) {
    this.outcomes = new OutcomeRecorder(
      (batch) => policy.record(this.owner, batch),
      (batch) => this.recorded(batch),
      (err) => this.store.observe(err) || this.logger.error({ msg: 'Recording delivery outcomes failed; will try again', error: err.message }),
    );
    // Claims paused while the store was away; the next one hands back what waits to be.
    store.onRecovered(() => this.wake());
    const n = config.notifications;
    this.workerCount = n.worker_threads;
    this.perWorker = n.worker_max_in_flight;
    this.slots = new ExchangeSlots(this.workerCount, this.perWorker, () => this.clock.now().getTime());
    this.capacity = n.queue_size;
    this.perTargetMax = Math.max(1, Math.min(PER_TARGET_QUEUE_MAX, Math.floor(this.capacity / 4)));
    this.ready = new ReadyQueue(this.capacity, this.perTargetMax);
    // Long enough for the slowest attempt plus the wait in the ready queue; renewed before a
    // send when less than one attempt's time is left.
    this.leaseMs = attemptBudgetMs(n) * 2 + 5_000;
    const nowMs = () => this.clock.now().getTime();
    this.held = new HeldDeliveries(claims, this.owner, this.leaseMs, nowMs);
    this.attempts = new DeliveryAttempts(n, providers, claims, history, this.held, this.slots, this.outcomes, metrics, store, this.logger, nowMs, {
      giveBack: (d) => this.giveBack(d),
      lost: (d) => {
        this.held.drop(d.id);
        this.followers.left(d.incident_id);
      },
      failing: (key, untilMs) => {
        this.shrinkQueueOf(key);
        this.pause(key, untilMs);
      },
      wake: () => this.wake(),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const n = this.config.notifications;
    this.logger.log({
      msg: 'Notification service initialized',
      slack_enabled: n.slack_enabled,
      email_enabled: n.email_enabled,
      pagerduty_enabled: n.pagerduty_enabled,
      webhook_enabled: n.webhook_enabled,
      workers: this.workerCount,
      max_in_flight: this.workerCount * this.perWorker,
      queue_size: this.capacity,
    });
    this.attempts.warnUnconfigured();
    const resumed = await this.held.releaseOrphans(this.dialect);
    if (resumed > 0) this.logger.warn({ msg: 'Resuming deliveries that were in flight when the service stopped', count: resumed });
    this.started = true;
    this.wake();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.pollTimer);
    // A claim in progress ends first (bounded: a store that stopped answering must not hold shutdown).
    for (let waited = 0; this.claiming && waited < STORE_WAIT_AT_SHUTDOWN_MS; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    // Claimed but not started: hand them back, they stay due for the next start.
    const unstarted = this.ready.drain().map((d) => d.id);
    for (const id of unstarted) this.held.drop(id);
    this.followers.clear();
    const deadline = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([Promise.allSettled([...this.sends]), deadline]);
    try {
      this.outcomes.stop();
      await withDeadline(
        (async () => {
          await this.held.releaseAll(unstarted);
          await this.outcomes.flush();
        })(),
        STORE_WAIT_AT_SHUTDOWN_MS,
      );
    } catch (err) {
      this.logger.error({ msg: 'Could not save delivery state at shutdown; leases will expire and the deliveries resume', error: (err as Error).message });
    }
    await this.attempts.close();
  }

  /**
   * New deliveries were committed (for these incidents), or some fell due: claim soon. New rows
   * of an incident whose delivery is in the pool now wait behind it, so once it settles the
   * pool looks for them.
   */
  wake(incidentIds: Iterable<string> = []): void {
    this.followers.committed(incidentIds);
    this.fullClaimWanted = true;
    this.scheduleClaim();
  }

  private scheduleClaim(): void {
    if (!this.started || this.stopping || this.claimScheduled) return;
    this.claimScheduled = true;
    setImmediate(() => {
      this.claimScheduled = false;
      void this.claim();
    });
  }

  /**
   * A lease for deliveries about to be written, so they skip the claim: granted while the ready
   * queue has room. Their rows are written as `sending`, owned by this pool; should the process
   * die before sending, they are due again like any other expired lease.
   */
  leaseForNew(priority: number, count: number): DeliveryLease | null {
    if (!this.started || this.stopping) return null;
    // Leases granted for rows not yet committed count against the room too (see HeldDeliveries.grant).
    const now = this.clock.now().getTime();
    if (!this.held.grant(now, count, (n) => this.ready.hasRoom(priority, n))) return null;
    return { owner: this.owner, until: iso(now + this.leaseMs) };
  }

  /**
   * Takes committed deliveries written with a lease from leaseForNew. What the queue has no
   * room for by now (or a failing target's share of it), or what arrives during shutdown, is
   * handed back to the store as pending, to be claimed like any other row.
   */
  adopt(deliveries: Delivery[]): void {
    const giveBack: string[] = [];
    this.held.adopted(deliveries.length);
    for (const d of deliveries) {
      const key = targetKey(d.channel, d.target);
      const failingAndFull = this.slots.isFailing(key) && this.ready.lengthOf(key) >= this.perTargetMax;
      if (this.stopping || !this.ready.hasRoom(d.priority) || failingAndFull) {
        giveBack.push(d.id);
        continue;
      }
      this.take(d, Date.parse(d.next_attempt_at) + this.leaseMs, false);
    }
    this.handBack(giveBack);
    this.dispatch();
  }

  /**
   * Returns claimed deliveries to the store as pending: the next claim writes them back (in one
   * statement), then claims again. If the store is away they wait for it (should the process
   * die first, they are due again when their lease runs out).
   */
  private handBack(ids: string[]): void {
    if (ids.length === 0) return;
    this.held.handBack(ids);
    this.backlog = true;
    this.wake();
  }

  /**
   * A target that started failing keeps only its share of the ready queue (a quarter, at most
   * 256); the rest goes back to the store, so the room serves targets that work.
   */
  private shrinkQueueOf(key: string): void {
    const excess = this.ready.trim(key, this.perTargetMax);
    if (excess.length === 0) return;
    for (const d of excess) {
      this.held.endLease(d.id);
      this.followers.left(d.incident_id);
    }
    this.handBack(excess.map((d) => d.id));
  }

  /** Nothing was sent (the store failed before or instead of the exchange): the delivery goes back. */
  private giveBack(d: Delivery): void {
    this.held.endLease(d.id);
    this.followers.left(d.incident_id);
    this.handBack([d.id]);
  }

  /** Puts a claimed delivery in the ready queue. */
  private take(d: Delivery, leaseUntilMs: number, hasFollowers: boolean): void {
    this.held.take(d.id, leaseUntilMs);
    this.followers.entered(d.incident_id, hasFollowers);
    this.ready.push(d);
  }

  state(): PoolState {
    return {
      owner: this.owner,
      worker_count: this.workerCount,
      max_in_flight: this.workerCount * this.perWorker,
      queue_capacity: this.capacity,
      queue_depth: this.ready.size,
      in_flight: this.slots.inFlight,
      degraded_targets: this.slots.failingTargets,
    };
  }

  /** Sends one message now, outside the queue (POST /v1/notifications/test). */
  sendNow(message: OutboundMessage): Promise<SendOutcome> {
    return this.attempts.callProvider(message);
  }

  private async claim(): Promise<void> {
    // While the store is down or full, claims wait: StoreHealth wakes the pool when it is back.
    if (!this.store.healthy) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    try {
      await this.held.releaseHandedBack();
      await this.held.renewLeases();
      if (this.fullClaimWanted) {
        this.fullClaimWanted = false;
        this.followers.clearWanted();
        await this.claimRounds(undefined);
      } else if (this.followers.hasWanted) {
        const incidents = this.followers.takeWanted(CLAIM_BATCH);
        await this.claimRounds(incidents);
      }
    } catch (err) {
      if (!this.store.observe(err)) this.logger.error({ msg: 'Claiming deliveries failed; will try again', error: (err as Error).message });
    } finally {
      this.claiming = false;
      if (this.claimAgain || this.fullClaimWanted || this.followers.hasWanted) {
        this.claimAgain = false;
        this.scheduleClaim();
      }
      this.schedulePoll();
    }
  }

  /**
   * Claims into the ready queue until it is full or nothing more is due (of the given incidents
   * only, when `incidents` is set), most urgent first. Targets whose queue is full are left out
   * of the claim. A full queue still takes class-0 deliveries (pages) into its reserve.
   */
  private async claimRounds(incidents: string[] | undefined): Promise<void> {
    while (!this.stopping) {
      let free = this.ready.room(PRIORITY_CLASSES - 1);
      let maxPriority: number | undefined;
      if (free <= 0) {
        this.backlog = true;
        free = this.ready.room(0);
        maxPriority = 0;
        if (free <= 0) return;
      }
      const limit = Math.min(free, CLAIM_BATCH);
      const full = this.ready.fullTargets().map(splitKey);
      const now = this.clock.now().getTime();
      const claimed = await this.claims.claimDue(this.owner, iso(now), iso(now + this.leaseMs), limit, full, incidents, maxPriority);
      for (const d of claimed) {
        if (!this.held.has(d.id)) this.take(d, now + this.leaseMs, d.has_followers);
        // Still ours (its lease ran out while it waited, or its outcome is not written yet): the claim renewed it.
        else this.held.renewed(d.id, now + this.leaseMs);
      }
      this.dispatch();
      if (claimed.length < limit) {
        // Rows of full targets (or below the reserve's priority) stay in the store; claim again
        // once there is room.
        if (incidents === undefined && maxPriority === undefined) this.backlog = full.length > 0;
        return;
      }
    }
  }

  private schedulePoll(): void {
    if (this.stopping) return;
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.wake(), POLL_MS);
    this.pollTimer.unref();
  }

  private pause(key: string, untilMs: number): void {
    if (this.slots.pause(key, untilMs)) setTimeout(() => this.dispatch(), Math.max(0, untilMs - this.clock.now().getTime()) + 5).unref();
  }

  private dispatch(): void {
    while (this.ready.size > 0 && !this.stopping) {
      const worker = this.slots.freeWorker();
      if (worker === 0) return;
      const next = this.ready.take((key) => this.slots.mayStart(key));
      if (!next) return;
      // Deliveries left in the store for want of room: claim more as room appears, at a few
      // marks rather than after every send, so an idle claim is not repeated thousands of times.
      const left = this.ready.lengthOf(next.key);
      if (this.backlog && (left === Math.floor(this.perTargetMax / 2) || left === 0 || this.ready.size === Math.floor(this.capacity / 2))) {
        this.wake();
      }
      this.start(worker, next.key, next.delivery);
    }
  }

  private start(workerId: number, key: string, d: Delivery): void {
    this.slots.start(workerId, key);
    const send = this.attempts
      .attempt(workerId, key, d)
      .catch((err) => {
        // Nothing was sent (the store failed before the exchange): the delivery goes back.
        this.giveBack(d);
        if (!this.store.observe(err)) this.logger.error({ msg: 'Delivery attempt crashed', notification_id: d.id, error: (err as Error).message });
      })
      .finally(() => {
        this.sends.delete(send);
        this.slots.end(workerId, key);
        this.dispatch();
      });
    this.sends.add(send);
  }

  /** Outcomes are written: what waited behind the settled deliveries may go now. */
  private recorded(batch: AttemptResult[]): void {
    let unblocked = false;
    for (const r of batch) {
      this.held.recorded(r.id);
      this.followers.left(r.incident_id);
      if (r.kind !== 'retry' && this.followers.settled(r.incident_id)) unblocked = true;
    }
    if (unblocked) this.scheduleClaim();
  }
}

/** `work`, or a rejection once `ms` have passed. */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
