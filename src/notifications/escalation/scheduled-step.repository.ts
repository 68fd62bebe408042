import { Inject, Injectable } from '@nestjs/common';
import { newId } from '../../common/ids';
import { Kysely, Selectable } from 'kysely';
import type { Database, ScheduledStepRow } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import type { Tx } from '../../database/transactor';

export type ScheduledStep = Selectable<ScheduledStepRow>;
/** escalation: a policy's step; repeat: a route's repeat_interval; person: one of a paged user's later notification rules. */
export type StepKind = 'escalation' | 'repeat' | 'person';

/** A new pending step. `receivers`: a repeat's receivers; a person step's [user id, the target that paged them]. */
export function stepRow(
  incidentId: string,
  kind: StepKind,
  route: string,
  policy: string | null,
  step: number,
  round: number,
  receivers: string[],
  due: string,
  at: string,
): ScheduledStepRow {
  return {
    id: newId(),
    incident_id: incidentId,
    kind,
    route,
    policy,
    step,
    round,
    receivers: JSON.stringify(receivers),
    due_at: due,
    status: 'pending',
    reason: null,
    created_at: at,
    settled_at: null,
  };
}

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
