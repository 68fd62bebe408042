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
}

/** The deliveries to one phone: what folding and replies need to know of them. */
@Injectable()
export class PhoneDeliveryRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  /**
   * When the newest text to `phone` went out (or is due to), if that is at or after `since`: a
   * folded text counts from when it is due, not from when it was written, so the next window
   * starts when it is sent. Not one a silence kept back or that was cancelled.
   */
  async lastTextSince(tx: Tx, phone: string, since: string, windowMs: number): Promise<string | null> {
    // A folded text is due at most one window after it was written: those written since then are all that can count.
    const rows = await tx.db
      .selectFrom(TABLE)
      .select(['created_at', 'next_attempt_at', 'action'])
      .where('channel', '=', 'sms')
      .where('target', '=', phone)
      .where('created_at', '>=', new Date(Date.parse(since) - windowMs).toISOString())
      .where('status', 'not in', ['suppressed', 'cancelled'])
      .execute();
    const times = rows.map((r) => (r.action === 'digest' && r.next_attempt_at > r.created_at ? r.next_attempt_at : r.created_at)).filter((t) => t >= since);
    return times.length > 0 ? times.sort().at(-1)! : null;
  }

  /** The newest call to `phone` about another incident than `incidentId`, written since `since` (not kept back by a silence, cancelled, or unanswered). */
  async lastCallSince(tx: Tx, phone: string, incidentId: string, since: string): Promise<string | null> {
    const row = await tx.db
      .selectFrom(TABLE)
      .select('id')
      .where('channel', '=', 'voice')
      .where('target', '=', phone)
      .where('created_at', '>=', since)
      .where('incident_id', '!=', incidentId)
      .where('status', 'not in', ['suppressed', 'cancelled', 'failed'])
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  /** The folded text to `phone` not yet due, if there is one. */
  /**
   * Locked for this transaction on PostgreSQL: two instances folding into it at once take turns,
   * and the pool (FOR UPDATE SKIP LOCKED) does not claim it meanwhile; SQLite runs one writer at a time.
   */
  async pendingDigest(tx: Tx, phone: string, now: string): Promise<PendingDigest | null> {
    const query = tx.db
      .selectFrom(TABLE)
      .select(['id', 'payload'])
      .where('channel', '=', 'sms')
      .where('target', '=', phone)
      .where('action', '=', 'digest')
      .where('status', '=', 'pending')
      .where('attempts', '=', 0)
      .where('next_attempt_at', '>', now)
      .orderBy('next_attempt_at')
      .limit(1);
    const row = await (tx.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
    return row ?? null;
  }

  /** False when the folded text is no longer waiting (claimed meanwhile): the caller sends its own. */
  async rewritePayload(tx: Tx, id: string, payload: string, now: string): Promise<boolean> {
    const result = await tx.db.updateTable(TABLE).set({ payload, updated_at: now }).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * The incidents texted or called to `phone` since `since`. A call or a single text tells of its
   * own incident; only a folded text's payload is read, for the incidents it names (so a phone
   * called ten thousand times in a week costs ids, not ten thousand parsed messages).
   */
  async incidentsToPhoneSince(phone: string, since: string): Promise<Set<string>> {
    const statuses = ['sending', 'sent', 'pending', 'failed'];
    const ids = new Set<string>();
    for (const channel of ['sms', 'voice'] as const) {
      // One query per channel: each walks its own partial index.
      const rows = await this.db
        .selectFrom(TABLE)
        .select('incident_id')
        .where('channel', '=', channel)
        .where('target', '=', phone)
        .where('created_at', '>=', since)
        .where('status', 'in', statuses)
        .execute();
      for (const row of rows) ids.add(row.incident_id);
    }
    const folded = await this.db
      .selectFrom(TABLE)
      .select('payload')
      .where('channel', '=', 'sms')
      .where('target', '=', phone)
      .where('created_at', '>=', since)
      .where('action', '=', 'digest')
      .where('status', 'in', statuses)
      .execute();
    for (const { payload } of folded) {
      const named = (JSON.parse(payload) as { incidents?: unknown }).incidents;
      if (Array.isArray(named)) for (const id of named) if (typeof id === 'string') ids.add(id);
    }
    return ids;
  }

  async callDelivery(id: string): Promise<{ id: string; incident_id: string; target: string; status: string; created_at: string } | null> {
    const row = await this.db
      .selectFrom(TABLE)
      .select(['id', 'incident_id', 'target', 'status', 'created_at'])
      .where('id', '=', id)
      .where('channel', '=', 'voice')
      .executeTakeFirst();
    return row ?? null;
  }

  /** An unanswered call counts as a failed attempt: the delivery shows it, and it can be re-driven. */
  async markCallUnanswered(tx: Tx, id: string, error: string, now: string): Promise<void> {
    await tx.db
      .updateTable(TABLE)
      .set({ status: 'failed', last_error: error, updated_at: now, lease_owner: null, lease_until: null })
      .where('id', '=', id)
      .where('status', 'in', ['sent', 'sending'])
      .execute();
  }
}
