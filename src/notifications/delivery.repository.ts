import { Inject, Injectable } from '@nestjs/common';
import { CompiledQuery, Kysely, Selectable, sql } from 'kysely';
import { DATABASE } from '../database/tokens';
import type { Database, DeliveryRow, Dialect } from '../database/schema';
import type { Tx } from '../database/transactor';
import { Channel, Delivery, DeliveryAction, DeliveryStatus, SlackMessageRef } from './notification';

const TABLE = 'notification_deliveries';

/** A delivery row as written, before the store numbers it. */
export type NewDeliveryRow = Omit<Selectable<DeliveryRow>, 'seq'>;

/** Row ↔ domain mapping for deliveries, in one place. */
export function toDelivery(row: NewDeliveryRow & { seq?: number | string }): Delivery {
  return {
    id: row.id,
    seq: Number(row.seq ?? 0),
    incident_id: row.incident_id,
    event: row.event,
    channel: row.channel as Channel,
    action: row.action as DeliveryAction,
    target: row.target,
    target_ref: row.target_ref,
    payload: row.payload,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    next_attempt_at: row.next_attempt_at,
    last_error: row.last_error,
    external_ref: row.external_ref ? (JSON.parse(row.external_ref) as SlackMessageRef) : null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    sent_at: row.sent_at,
    priority: Number(row.priority),
    route: row.route ?? null,
    receiver: row.receiver ?? null,
    silence_id: row.silence_id ?? null,
  };
}

/** The result of one attempt, written back by the pool. */
export type AttemptResult = { id: string; incident_id: string; at: string } & (
  { kind: 'sent'; ref: SlackMessageRef | null } | { kind: 'retry'; error: string; next_attempt_at: string } | { kind: 'failed'; error: string }
);

/** A delivery given up by an attempt's outcome. */
export interface GivenUp {
  incident_id: string;
  channel: Channel;
  target: string;
  action: DeliveryAction;
  at: string;
}

function freshAttempts(now: string) {
  return { status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now, last_error: null, lease_owner: null, lease_until: null } as const;
}

export interface ChannelCounts {
  pending: number;
  sending: number;
  sent: number;
  failed: number;
  cancelled: number;
  /** Recorded while a silence matched, never sent. */
  suppressed: number;
  /** Attempts beyond the first, over all deliveries of the channel. */
  retried: number;
  /** created_at of the channel's oldest pending or sending delivery, null when there is none. */
  oldest_waiting_at: string | null;
}

/**
 * The three ways an attempt settles a delivery, written once per outcome as plain SQL: the pool
 * records one per delivery, and building each with the query builder cost more than running it.
 * Each is fenced by the lease owner, so an instance whose lease was taken over changes nothing.
 */
const SETTLE_SQL: Record<AttemptResult['kind'], string> = {
  sent: `update notification_deliveries set status = 'sent', attempts = attempts + 1, lease_owner = null, lease_until = null, last_error = null, updated_at = $1, sent_at = $2, external_ref = $3 where id = $4 and lease_owner = $5 and status = 'sending'`,
  retry: `update notification_deliveries set status = 'pending', attempts = attempts + 1, lease_owner = null, lease_until = null, updated_at = $1, last_error = $2, next_attempt_at = $3 where id = $4 and lease_owner = $5 and status = 'sending'`,
  failed: `update notification_deliveries set status = 'failed', attempts = attempts + 1, lease_owner = null, lease_until = null, updated_at = $1, last_error = $2 where id = $3 and lease_owner = $4 and status = 'sending' returning incident_id, channel, target, action`,
};

function settleSql(dialect: Dialect, kind: AttemptResult['kind']): string {
  return dialect === 'postgres' ? SETTLE_SQL[kind] : SETTLE_SQL[kind].replace(/\$\d+/g, '?');
}

/**
 * The outbox of deliveries: rows written with the incident's transaction, attempts settled,
 * cancellations and redrives, listings and counts. The pool's claims and leases are in
 * DeliveryClaimsRepository; what routing reads of earlier deliveries, in DeliveryHistoryRepository.
 */
@Injectable()
export class DeliveryRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  /** Adds outbox rows to the incident's transaction (written with its other rows, before commit). */
  add(tx: Tx, rows: NewDeliveryRow[]): void {
    for (const row of rows) tx.deferInsert(TABLE, row);
  }

  /**
   * Writes attempt results in the given transaction. Each update is fenced by the lease owner: a
   * result from an instance whose lease was taken over is dropped. Answers the deliveries given
   * up (now `failed`), for the policy to act on.
   */
  async settle(tx: Tx, owner: string, results: AttemptResult[]): Promise<GivenUp[]> {
    const run = (kind: AttemptResult['kind'], params: unknown[]) =>
      tx.db.executeQuery<Omit<GivenUp, 'at'>>(CompiledQuery.raw(settleSql(tx.dialect, kind), params));
    const givenUp: GivenUp[] = [];
    for (const result of results) {
      if (result.kind === 'sent') {
        await run('sent', [result.at, result.at, result.ref ? JSON.stringify(result.ref) : null, result.id, owner]);
      } else if (result.kind === 'retry') {
        await run('retry', [result.at, result.error, result.next_attempt_at, result.id, owner]);
      } else {
        const updated = (await run('failed', [result.at, result.error, result.id, owner])).rows[0];
        if (updated) givenUp.push({ ...updated, at: result.at });
      }
    }
    return givenUp;
  }

  /** Cancels the pending deliveries of these actions on one (incident, channel, target). */
  async cancelPending(tx: Tx, incidentId: string, channel: Channel, target: string, actions: DeliveryAction[], reason: string, now: string): Promise<number> {
    const result = await tx.db
      .updateTable(TABLE)
      .set({ status: 'cancelled', last_error: reason, updated_at: now })
      .where('incident_id', '=', incidentId)
      .where('channel', '=', channel)
      .where('target', '=', target)
      .where('action', 'in', actions)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * The incident's texts, calls and pushes to people not yet sent (waiting, or waiting to retry):
   * once it is acknowledged or resolved they would wake someone for nothing. A folded text stays
   * (it tells of other incidents too). Rows this transaction wrote count too.
   */
  async cancelPersonPages(tx: Tx, incidentId: string, reason: string, now: string): Promise<void> {
    const channels: string[] = ['sms', 'voice', 'ntfy'];
    for (const row of tx.deferred(TABLE) as NewDeliveryRow[]) {
      if (row.incident_id === incidentId && channels.includes(row.channel) && row.action !== 'digest' && row.status === 'pending') {
        row.status = 'cancelled';
        row.last_error = reason;
      }
    }
    await tx.db
      .updateTable(TABLE)
      .set({ status: 'cancelled', last_error: reason, updated_at: now })
      .where('incident_id', '=', incidentId)
      .where('channel', 'in', channels)
      .where('action', '!=', 'digest')
      .where('status', '=', 'pending')
      .execute();
  }

  async listForIncident(incidentId: string): Promise<Delivery[]> {
    const rows = await this.db.selectFrom(TABLE).selectAll().where('incident_id', '=', incidentId).orderBy('seq').execute();
    return rows.map(toDelivery);
  }

  /** The dead letters: deliveries that failed for good, most recently failed first. */
  async listFailed(limit: number, offset: number): Promise<{ items: Delivery[]; total: number }> {
    const base = this.db.selectFrom(TABLE).where('status', '=', 'failed');
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('updated_at', 'desc').orderBy('seq', 'desc').limit(limit).offset(offset).execute(),
      base.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toDelivery), total: Number(count.total) };
  }

  async findById(id: string): Promise<Delivery | null> {
    const row = await this.db.selectFrom(TABLE).selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : null;
  }

  /** The delivery, locked against concurrent changes until the transaction ends (PostgreSQL). */
  async findForUpdate(tx: Tx, id: string): Promise<Delivery | null> {
    let select = tx.db.selectFrom(TABLE).selectAll().where('id', '=', id);
    if (tx.dialect === 'postgres') select = select.forUpdate();
    const row = await select.executeTakeFirst();
    return row ? toDelivery(row) : null;
  }

  /** Whether a later delivery of the same (incident, channel, target) was already sent. */
  async sentAfter(tx: Tx, d: Delivery): Promise<boolean> {
    const later = await tx.db
      .selectFrom(TABLE)
      .select('seq')
      .where('incident_id', '=', d.incident_id)
      .where('channel', '=', d.channel)
      .where('target', '=', d.target)
      .where('status', '=', 'sent')
      .where('seq', '>', d.seq)
      .limit(1)
      .executeTakeFirst();
    return later !== undefined;
  }

  /** Makes a delivery due now with a fresh set of attempts. */
  async makeDue(tx: Tx, id: string, now: string): Promise<Delivery> {
    const updated = await tx.db.updateTable(TABLE).set(freshAttempts(now)).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    return toDelivery(updated);
  }

  /** Makes the cancelled deliveries of these actions after `afterSeq` on one (incident, channel, target) due again. */
  async reviveCancelled(tx: Tx, incidentId: string, channel: Channel, target: string, actions: DeliveryAction[], afterSeq: number, now: string): Promise<void> {
    await tx.db
      .updateTable(TABLE)
      .set(freshAttempts(now))
      .where('incident_id', '=', incidentId)
      .where('channel', '=', channel)
      .where('target', '=', target)
      .where('action', 'in', actions)
      .where('status', '=', 'cancelled')
      .where('seq', '>', afterSeq)
      .execute();
  }

  /**
   * Deliveries per channel and status. `statuses` limits the count to those (the metrics scrape
   * reads only pending and sending rows, through the status index, not the whole history).
   */
  async countsByChannel(statuses?: readonly DeliveryStatus[]): Promise<Map<string, ChannelCounts>> {
    let query = this.db
      .selectFrom(TABLE)
      .select(['channel', 'status'])
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.sum<number>(sql`case when attempts > 1 then attempts - 1 else 0 end`).as('retried'),
        eb.fn.min('created_at').as('oldest'),
      ])
      .groupBy(['channel', 'status']);
    if (statuses) query = query.where('status', 'in', statuses);
    const rows = await query.execute();
    const counts = new Map<string, ChannelCounts>();
    for (const row of rows) {
      let c = counts.get(row.channel);
      if (!c) counts.set(row.channel, (c = { pending: 0, sending: 0, sent: 0, failed: 0, cancelled: 0, suppressed: 0, retried: 0, oldest_waiting_at: null }));
      c[row.status as DeliveryStatus] += Number(row.n);
      c.retried += Number(row.retried ?? 0);
      if ((row.status === 'pending' || row.status === 'sending') && row.oldest !== null && (c.oldest_waiting_at === null || row.oldest < c.oldest_waiting_at)) {
        c.oldest_waiting_at = row.oldest;
      }
    }
    return counts;
  }
}
