import { Inject, Injectable } from '@nestjs/common';
import { Kysely, Selectable } from 'kysely';
import type { Database, SilenceRow } from '../database/schema';
import { DATABASE } from '../database/tokens';
import type { Tx } from '../database/transactor';
import { LiveSilence, parsedMatchers, SilenceState, stateOf } from './silence';

function toSilence(row: Selectable<SilenceRow>, now: string): LiveSilence {
  const matchers = JSON.parse(row.matchers) as string[];
  return {
    id: row.id,
    matchers,
    starts_at: row.starts_at,
    ends_at: row.ends_at,
    comment: row.comment,
    created_by: row.created_by,
    api_key_name: row.api_key_name,
    created_at: row.created_at,
    updated_at: row.updated_at,
    state: stateOf(row, now),
    parsed: parsedMatchers(matchers),
  };
}

@Injectable()
export class SilenceRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async insert(row: SilenceRow, now: string): Promise<LiveSilence> {
    await this.db.insertInto('silences').values(row).execute();
    return toSilence(row, now);
  }

  async findById(id: string, now: string): Promise<LiveSilence | null> {
    const row = await this.db.selectFrom('silences').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toSilence(row, now) : null;
  }

  async list(now: string, state?: SilenceState): Promise<LiveSilence[]> {
    let query = this.db.selectFrom('silences').selectAll();
    if (state === 'pending') query = query.where('starts_at', '>', now);
    if (state === 'active') query = query.where('starts_at', '<=', now).where('ends_at', '>', now);
    if (state === 'expired') query = query.where('ends_at', '<=', now);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id').limit(1000).execute();
    return rows.map((row) => toSilence(row, now));
  }

  /** Ends a silence now (expire early): kept, so that the log still shows what it did. */
  async expire(id: string, now: string): Promise<LiveSilence | null> {
    const row = await this.db
      .updateTable('silences')
      .set({ ends_at: now, updated_at: now })
      .where('id', '=', id)
      .where('ends_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    return row ? toSilence(row, now) : null;
  }

  /** Silences not ended at `since` (in force or still to come), read in the caller's transaction, oldest first. */
  async notEndedWithin(tx: Tx, since: string): Promise<LiveSilence[]> {
    const rows = await tx.db.selectFrom('silences').selectAll().where('ends_at', '>', since).orderBy('created_at').orderBy('id').execute();
    return rows.map((row) => toSilence(row, since));
  }

  /** Whether a silence has ended and its end was not acted on yet: a cheap look, outside any transaction. */
  async anyEnded(now: string): Promise<boolean> {
    const row = await this.db.selectFrom('silences').select('id').where('end_handled_at', 'is', null).where('ends_at', '<=', now).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Silences that have ended and whose end was not acted on yet, claimed for this transaction:
   * marked handled now, so only one instance acts on each (on PostgreSQL, rows another instance
   * holds are skipped).
   */
  async claimEnded(tx: Tx, now: string, limit: number): Promise<LiveSilence[]> {
    let query = tx.db.selectFrom('silences').selectAll().where('end_handled_at', 'is', null).where('ends_at', '<=', now).orderBy('ends_at').limit(limit);
    if (tx.dialect === 'postgres') query = query.forUpdate().skipLocked();
    const rows = await query.execute();
    if (rows.length === 0) return [];
    await tx.db
      .updateTable('silences')
      .set({ end_handled_at: now })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.map((row) => toSilence(row, now));
  }
}
