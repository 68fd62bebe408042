import { Injectable } from '@nestjs/common';
import { Transactor } from '../database/transactor';
import { MetricsService } from '../metrics/metrics.service';
import { AttemptResult, DeliveryRepository } from './delivery.repository';
import type { Delivery, DeliveryAction, DeliveryStatus } from './notification';

/** What follows a PagerDuty trigger on the same integration: meaningless without it. */
const TRIGGER_FOLLOW_UPS: DeliveryAction[] = ['acknowledge', 'resolve'];

export type RedriveOutcome = { delivery: Delivery } | { refused: 'status' | 'overtaken'; status: DeliveryStatus };

/**
 * The rules that tie one delivery's fate to the others of its (incident, channel, target); the
 * repository only stores and loads.
 *
 * - A PagerDuty trigger given up cancels the acknowledge and resolve queued behind it: PagerDuty
 *   would drop them anyway.
 * - A re-drive makes a failed or cancelled delivery due again, unless a later delivery to the
 *   same target was already sent (it would arrive out of order); a re-driven trigger brings
 *   back the acknowledge and resolve it had cancelled.
 */
@Injectable()
export class DeliveryPolicy {
  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly transactor: Transactor,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Writes attempt outcomes, and what they imply, in one transaction: the next group commit, so
   * under load the outcomes share a commit with the alerts being taken in (one WAL write, not two).
   * Never refused as overload: the sends happened, and an outcome not written leaves its lease to
   * run out and the delivery to be sent again.
   */
  async record(owner: string, results: AttemptResult[]): Promise<void> {
    await this.transactor.runGrouped(
      async (tx) => {
        for (const given of await this.deliveries.settle(tx, owner, results)) {
          if (given.channel === 'pagerduty' && given.action === 'trigger') {
            const reason = 'cancelled: the PagerDuty trigger before it was not delivered';
            const cancelled = await this.deliveries.cancelPending(tx, given.incident_id, 'pagerduty', given.target, TRIGGER_FOLLOW_UPS, reason, given.at);
            tx.afterCommit(() => this.metrics.deliverySettled('pagerduty', 'cancelled', cancelled));
          }
        }
      },
      results.length,
      { refusable: false },
    );
  }

  async redrive(id: string, now: string): Promise<RedriveOutcome> {
    return this.transactor.run(async (tx) => {
      const d = await this.deliveries.findForUpdate(tx, id);
      if (!d) throw new Error(`delivery ${id} vanished`);
      if (d.status !== 'failed' && d.status !== 'cancelled') return { refused: 'status', status: d.status };
      if (await this.deliveries.sentAfter(tx, d)) return { refused: 'overtaken', status: d.status };
      const delivery = await this.deliveries.makeDue(tx, id, now);
      if (d.channel === 'pagerduty' && d.action === 'trigger') {
        await this.deliveries.reviveCancelled(tx, d.incident_id, 'pagerduty', d.target, TRIGGER_FOLLOW_UPS, d.seq, now);
      }
      return { delivery };
    });
  }
}
