import { Inject, Injectable } from '@nestjs/common';
import { Kysely } from 'kysely';
import type { Database } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import type { Tx } from '../../database/transactor';

const TABLE = 'notification_deliveries';

/** A folded text still waiting for its window to end. */
export interface PendingDigest {
  id: string;
  payload: string;
  next_attempt_at: string;
}

/** The deliveries to one phone: what folding and replies need to know of them. */
@Injectable()
export class PhoneDeliveryRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  /** When the newest text to `phone` since `since` was written (not one a silence kept back or that was cancelled). */
  async lastTextSince(tx: Tx, phone: string, since: string): Promise<string | null> {
    const row = await tx.db
      .selectFrom(TABLE)
      .select('created_at')
      .where('channel', '=', 'sms')
      .where('target', '=', phone)
      .where('created_at', '>=', since)
      .where('status', 'not in', ['suppressed', 'cancelled'])
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.created_at ?? null;
  }

  /** The newest call to `phone` written since `since` (not kept back by a silence, not cancelled). */
  async lastCallSince(tx: Tx, phone: string, since: string): Promise<string | null> {
    const row = await tx.db
      .selectFrom(TABLE)
      .select('id')
      .where('channel', '=', 'voice')
      .where('target', '=', phone)
      .where('created_at', '>=', since)
      .where('status', 'not in', ['suppressed', 'cancelled'])
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  /** The folded text to `phone` not yet due, if there is one. */
  async pendingDigest(tx: Tx, phone: string, now: string): Promise<PendingDigest | null> {
    const row = await tx.db
      .selectFrom(TABLE)
      .select(['id', 'payload', 'next_attempt_at'])
      .where('channel', '=', 'sms')
      .where('target', '=', phone)
      .where('action', '=', 'digest')
      .where('status', '=', 'pending')
      .where('attempts', '=', 0)
      .where('next_attempt_at', '>', now)
      .orderBy('next_attempt_at')
      .limit(1)
      .executeTakeFirst();
    return row ?? null;
  }

  async rewritePayload(tx: Tx, id: string, payload: string, now: string): Promise<void> {
    await tx.db.updateTable(TABLE).set({ payload, updated_at: now }).where('id', '=', id).where('status', '=', 'pending').execute();
  }

  /** Texts and calls to `phone` since `since`: their payloads name the incidents they told of. */
  async toPhoneSince(phone: string, since: string): Promise<{ id: string; incident_id: string; channel: string; payload: string }[]> {
    return this.db
      .selectFrom(TABLE)
      .select(['id', 'incident_id', 'channel', 'payload'])
      .where('channel', 'in', ['sms', 'voice'])
      .where('target', '=', phone)
      .where('created_at', '>=', since)
      .where('status', 'in', ['sending', 'sent', 'pending'])
      .execute();
  }

  async callDelivery(id: string): Promise<{ id: string; incident_id: string; target: string; status: string } | null> {
    const row = await this.db
      .selectFrom(TABLE)
      .select(['id', 'incident_id', 'target', 'status'])
      .where('id', '=', id)
      .where('channel', '=', 'voice')
      .executeTakeFirst();
    return row ?? null;
  }

  /** An unanswered call counts as a failed attempt: the delivery shows it, and it can be re-driven. */
  async markCallUnanswered(tx: Tx, id: string, error: string, now: string): Promise<void> {
    await tx.db.updateTable(TABLE).set({ status: 'failed', last_error: error, updated_at: now }).where('id', '=', id).where('status', '=', 'sent').execute();
  }
}
