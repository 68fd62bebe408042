import { Inject, Injectable } from '@nestjs/common';
import { Kysely, Selectable } from 'kysely';
import type { Database, ScheduledStepRow } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import type { Tx } from '../../database/transactor';

export type ScheduledStep = Selectable<ScheduledStepRow>;
export type StepKind = 'escalation' | 'repeat';

@Injectable()
export class ScheduledStepRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  add(tx: Tx, row: ScheduledStepRow): void {
    tx.deferInsert('scheduled_steps', row);
  }

  /** Whether anything is due: a cheap look before a transaction is opened. */
  async anyDue(now: string): Promise<boolean> {
    const row = await this.db.selectFrom('scheduled_steps').select('id').where('status', '=', 'pending').where('due_at', '<=', now).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** Due steps, locked for this transaction: on PostgreSQL another instance skips them, so each fires once. */
  async claimDue(tx: Tx, now: string, limit: number): Promise<ScheduledStep[]> {
    let query = tx.db
      .selectFrom('scheduled_steps')
      .selectAll()
      .where('status', '=', 'pending')
      .where('due_at', '<=', now)
      .orderBy('due_at')
      .orderBy('id')
      .limit(limit);
    if (tx.dialect === 'postgres') query = query.forUpdate().skipLocked();
    return query.execute();
  }

  async settle(tx: Tx, id: string, status: 'fired' | 'cancelled', reason: string | null, now: string): Promise<void> {
    await tx.db.updateTable('scheduled_steps').set({ status, reason, settled_at: now }).where('id', '=', id).where('status', '=', 'pending').execute();
  }

  /** Cancels the incident's pending steps of these kinds (in this transaction's own writes too). */
  async cancelFor(tx: Tx, incidentId: string, kinds: StepKind[], reason: string, now: string): Promise<void> {
    for (const row of tx.deferred('scheduled_steps') as ScheduledStepRow[]) {
      if (row.incident_id === incidentId && kinds.includes(row.kind as StepKind) && row.status === 'pending') {
        row.status = 'cancelled';
        row.reason = reason;
        row.settled_at = now;
      }
    }
    await tx.db
      .updateTable('scheduled_steps')
      .set({ status: 'cancelled', reason, settled_at: now })
      .where('incident_id', '=', incidentId)
      .where('kind', 'in', kinds)
      .where('status', '=', 'pending')
      .execute();
  }
}
