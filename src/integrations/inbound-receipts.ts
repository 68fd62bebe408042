import { Inject, Injectable } from '@nestjs/common';
import { Kysely } from 'kysely';
import type { Database } from '../database/schema';
import { DATABASE } from '../database/tokens';

/** Where a callback came from; each source names its own ids. */
export type ReceiptSource = 'ack_link' | 'twilio_sms' | 'twilio_gather' | 'twilio_status' | 'pagerduty_webhook';

/**
 * Makes an inbound callback count once: the first receipt of (source, id) is taken, any later one
 * is a replay. Receipts older than `keepMs` are dropped as new ones arrive; a source keeps them at
 * least as long as its callbacks may be valid.
 */
@Injectable()
export class InboundReceipts {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  /** True the first time (source, id) is seen; false for a replay. */
  async first(source: ReceiptSource, id: string, now: Date, keepMs: number): Promise<boolean> {
    await this.db
      .deleteFrom('inbound_receipts')
      .where('source', '=', source)
      .where('received_at', '<', new Date(now.getTime() - keepMs).toISOString())
      .execute();
    const inserted = await this.db
      .insertInto('inbound_receipts')
      .values({ source, id, received_at: now.toISOString() })
      .onConflict((oc) => oc.columns(['source', 'id']).doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /**
   * Drops a receipt whose callback was not applied for a fault here (the store went away
   * mid-way): the sender retries, and the retry must not count as a replay. Best effort.
   */
  async forget(source: ReceiptSource, id: string): Promise<void> {
    try {
      await this.db.deleteFrom('inbound_receipts').where('source', '=', source).where('id', '=', id).execute();
    } catch {
      // The store is still away: the receipt stays, and the sender's retry is refused as a replay.
    }
  }
}
