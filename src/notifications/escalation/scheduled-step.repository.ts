import { Inject, Injectable } from '@nestjs/common';
import { newId } from '../../common/ids';
import { Kysely, Selectable } from 'kysely';
import type { Database, ScheduledStepRow } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import type { Tx } from '../../database/transactor';

export type ScheduledStep = Selectable<ScheduledStepRow>;
/**
 * escalation: a policy's step; repeat: a route's repeat_interval; person: one of a paged user's
 * later notification rules; held: the paging of a new incident's people, kept back by a silence
 * until it ends (receivers: [the silence's id]).
 */
export type StepKind = 'escalation' | 'repeat' | 'person' | 'held';

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

  /** Whether the incident has run (or is running) this escalation policy: any of its steps, in this transaction's writes too. */
  async policyRan(tx: Tx, incidentId: string, policy: string): Promise<boolean> {
    const deferred = tx.deferred('scheduled_steps') as ScheduledStepRow[];
    if (deferred.some((r) => r.incident_id === incidentId && r.kind === 'escalation' && r.policy === policy)) return true;
    const row = await tx.db
      .selectFrom('scheduled_steps')
      .select('id')
      .where('incident_id', '=', incidentId)
      .where('kind', '=', 'escalation')
      .where('policy', '=', policy)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Whether the incident has any escalation or repeat steps, fired or not (its escalation has started). */
  async escalationStarted(tx: Tx, incidentId: string): Promise<boolean> {
    const deferred = tx.deferred('scheduled_steps') as ScheduledStepRow[];
    if (deferred.some((r) => r.incident_id === incidentId && (r.kind === 'escalation' || r.kind === 'repeat'))) return true;
    const row = await tx.db
      .selectFrom('scheduled_steps')
      .select('id')
      .where('incident_id', '=', incidentId)
      .where('kind', 'in', ['escalation', 'repeat'])
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A silence ended (or was expired early): what it held back is due now. */
  async releaseHeld(tx: Tx, silenceId: string, now: string): Promise<void> {
    await tx.db
      .updateTable('scheduled_steps')
      .set({ due_at: now })
      .where('kind', '=', 'held')
      .where('status', '=', 'pending')
      .where('receivers', '=', JSON.stringify([silenceId]))
      .where('due_at', '>', now)
      .execute();
  }

  /** Whether a user has later rules pending for the incident (they count from when the user was first notified). */
  async personPending(tx: Tx, incidentId: string, userId: string): Promise<boolean> {
    const prefix = `["${userId}",`;
    const deferred = tx.deferred('scheduled_steps') as ScheduledStepRow[];
    if (deferred.some((r) => r.incident_id === incidentId && r.kind === 'person' && r.status === 'pending' && r.receivers.startsWith(prefix))) return true;
    const row = await tx.db
      .selectFrom('scheduled_steps')
      .select('id')
      .where('incident_id', '=', incidentId)
      .where('kind', '=', 'person')
      .where('status', '=', 'pending')
      .where('receivers', 'like', `${prefix}%`)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
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

  /** Makes the incident's waiting escalation steps due now (someone asked to escalate); answers how many. */
  async escalationDueNow(tx: Tx, incidentId: string, now: string): Promise<number> {
    const result = await tx.db
      .updateTable('scheduled_steps')
      .set({ due_at: now })
      .where('incident_id', '=', incidentId)
      .where('kind', '=', 'escalation')
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
