import type { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/config.schema';
import type { StoreHealth } from '../../database/store-health';
import type { MetricsService } from '../../metrics/metrics.service';
import { parseDuration } from '../../routing/duration';
import type { ChannelProvider } from '../channels/channel-provider';
import type { DeliveryClaimsRepository } from '../delivery-claims.repository';
import type { DeliveryHistoryRepository } from '../delivery-history.repository';
import { Channel, Delivery, OutboundMessage, permanent, retry, SendOutcome, shownTarget } from '../notification';
import type { ExchangeSlots } from './exchange-slots';
import type { HeldDeliveries } from './held-deliveries';
import type { OutcomeRecorder } from './outcome-recorder';
import { nextAttemptDelay, probeDelay } from './retry-schedule';

/** Longest wait before a retry, whatever Retry-After or the backoff say. */
const MAX_RETRY_DELAY_MS = 3_600_000;

/** What the pool does about what an attempt found. */
export interface AttemptHooks {
  /** Nothing was sent: the delivery goes back to the store. */
  giveBack(d: Delivery): void;
  /** Another instance has taken the delivery over: it leaves the pool. */
  lost(d: Delivery): void;
  /** The target is failing: nothing starts on it before `untilMs`. */
  failing(key: string, untilMs: number): void;
  /** Deliveries fell due in the store (a target that answers again). */
  wake(): void;
}

/** How long the slowest attempt may take. */
export function attemptBudgetMs(n: AppConfig['notifications']): number {
  // A resolve_update on Slack makes two calls; nodemailer's timeouts bound each SMTP phase
  // (connection, greeting, each reply), so an email may take a few of them.
  return Math.max(n.webhook_timeout_secs, n.delivery_timeout_secs * 3) * 1000;
}

/**
 * One attempt of a claimed delivery: its lease renewed if it waited long, the delivery sent
 * through its channel's provider, and what came of it settled: sent, tried again later or given
 * up, counted in the metrics, logged and handed to the OutcomeRecorder. A target that fails is
 * probed one delivery at a time after a growing pause; once a probe gets through, its queue in
 * the store is due at once.
 */
export class DeliveryAttempts {
  private readonly providers = new Map<Channel, ChannelProvider>();
  private readonly pageHorizonMs: number;

  constructor(
    private readonly config: AppConfig['notifications'],
    providers: ChannelProvider[],
    private readonly claims: DeliveryClaimsRepository,
    private readonly history: DeliveryHistoryRepository,
    private readonly held: HeldDeliveries,
    private readonly slots: ExchangeSlots,
    private readonly outcomes: OutcomeRecorder,
    private readonly metrics: MetricsService,
    private readonly store: StoreHealth,
    private readonly logger: Logger,
    private readonly nowMs: () => number,
    private readonly pool: AttemptHooks,
  ) {
    // Validated by the config loader.
    this.pageHorizonMs = parseDuration(config.page_retry_horizon) ?? 0;
    for (const provider of providers) this.providers.set(provider.channel, provider);
  }

  /** Warns of each channel enabled but not configured. */
  warnUnconfigured(): void {
    for (const provider of this.providers.values()) {
      const readiness = provider.readiness();
      if (readiness.enabled && !readiness.configured) {
        this.logger.warn({
          msg: 'Notification channel enabled but not configured; its deliveries will fail',
          channel: provider.channel,
          problem: readiness.problem,
        });
      }
    }
  }

  /** Shutdown: the providers release their connections. */
  async close(): Promise<void> {
    for (const provider of this.providers.values()) await provider.close?.();
  }

  async attempt(workerId: number, key: string, d: Delivery): Promise<void> {
    const now = this.nowMs();
    const startedAt = now;
    if (this.held.leaseOf(d.id) - now < attemptBudgetMs(this.config) + 5_000) {
      // Waited long in the ready queue: renew the lease, or drop the delivery if another
      // instance has taken it over meanwhile. If the store cannot be asked, the delivery is
      // not sent (another instance may take it once the lease runs out) and is handed back.
      let renewed: boolean;
      try {
        renewed = await this.held.extendLease(d.id, now);
      } catch (err) {
        if (!this.store.observe(err))
          this.logger.error({ msg: 'Could not renew a delivery lease; handing it back', notification_id: d.id, error: (err as Error).message });
        this.pool.giveBack(d);
        return;
      }
      if (!renewed) {
        this.pool.lost(d);
        return;
      }
    }
    const outcome = await this.send(d);
    this.held.endLease(d.id);
    this.settle(workerId, key, d, outcome, startedAt);
  }

  /** Sends the delivery (a Slack reply or update goes to the thread of the incident's first message). */
  private async send(d: Delivery): Promise<SendOutcome> {
    const anchor = d.channel === 'slack' && d.action !== 'post' ? await this.history.slackAnchor(d.incident_id, d.target) : null;
    return this.callProvider({
      id: d.id,
      incident_id: d.incident_id,
      channel: d.channel,
      action: d.action,
      target: d.target,
      target_ref: d.target_ref,
      payload: d.payload,
      anchor,
    });
  }

  async callProvider(message: OutboundMessage): Promise<SendOutcome> {
    const provider = this.providers.get(message.channel);
    if (!provider) return permanent(`no provider for channel ${message.channel}`);
    const readiness = provider.readiness();
    if (!readiness.enabled) return permanent(`channel ${message.channel} is disabled (notifications.${message.channel}_enabled = false)`);
    if (!readiness.configured) return permanent(readiness.problem ?? `channel ${message.channel} is not configured`);
    try {
      return await provider.send(message);
    } catch (err) {
      return retry(`unexpected error: ${(err as Error).message}`);
    }
  }

  private settle(workerId: number, key: string, d: Delivery, outcome: SendOutcome, startedAt: number): void {
    const attempts = d.attempts + 1;
    const now = this.nowMs();
    const at = iso(now);
    const fields = { notification_id: d.id, incident_id: d.incident_id, channel: d.channel, worker_id: workerId };
    this.metrics.deliveryAttempt(d.channel, outcome.kind);
    if (outcome.kind === 'delivered') {
      this.metrics.deliverySettled(d.channel, 'sent');
      this.metrics.deliverySent(d.channel, d.created_at, now);
      // After an outage (two failures in a row at least, not one delivery the target refused).
      if (this.slots.succeeded(key) >= 2) this.targetRecovered(d.channel, d.target, at);
      this.outcomes.add({ id: d.id, incident_id: d.incident_id, kind: 'sent', at, ref: outcome.ref ?? null });
      this.logger.log({ msg: 'Notification sent successfully', ...fields, attempts });
      return;
    }
    if (outcome.kind === 'retry') {
      // The target is failing: one delivery at a time probes it, after a pause that doubles
      // with each failure; the rest of its queue waits without spending attempts.
      const failures = this.slots.failed(key, startedAt, now);
      const pause = Math.max(probeDelay(this.config.retry_backoff_secs * 1000, failures), outcome.retryAfterMs ?? 0);
      this.pool.failing(key, now + Math.min(pause, MAX_RETRY_DELAY_MS));
    }
    // Pages keep trying for the horizon, however many attempts that takes.
    const pageInHorizon = d.priority === 0 && now - Date.parse(d.created_at) < this.pageHorizonMs;
    if (outcome.kind === 'retry' && (attempts < d.max_attempts || pageInHorizon)) {
      const delay = nextAttemptDelay(this.config.retry_backoff_secs * 1000, attempts, d.max_attempts, d.priority === 0, outcome.retryAfterMs);
      const next = iso(now + Math.min(MAX_RETRY_DELAY_MS, delay));
      this.metrics.deliverySettled(d.channel, 'retried');
      this.outcomes.add({ id: d.id, incident_id: d.incident_id, kind: 'retry', at, error: outcome.error, next_attempt_at: next });
      this.logger.error({ msg: 'Failed to send notification', ...fields, attempts, error: outcome.error, next_attempt_at: next });
      return;
    }
    this.metrics.deliverySettled(d.channel, 'failed');
    this.outcomes.add({ id: d.id, incident_id: d.incident_id, kind: 'failed', at, error: outcome.error });
    this.logger.error(
      outcome.kind === 'permanent'
        ? { msg: 'Notification failed permanently', ...fields, attempts, error: outcome.error }
        : { msg: 'Notification failed after all retries', ...fields, total_attempts: attempts, error: outcome.error },
    );
  }

  /**
   * A probe got through to a target that was failing: whatever waits for it in the store,
   * retries scheduled minutes ahead included, is due now.
   */
  private targetRecovered(channel: Channel, target: string, at: string): void {
    this.claims.makeTargetDue(channel, target, at).then(
      (due) => {
        this.logger.log({ msg: 'Notification target answers again; its queue is due now', channel, target: shownTarget(channel, target), due });
        this.pool.wake();
      },
      (err: unknown) => {
        // The rows stay due at their own retry times.
        if (!this.store.observe(err)) this.logger.error({ msg: "Could not make a recovered target's queue due", channel, error: (err as Error).message });
      },
    );
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
