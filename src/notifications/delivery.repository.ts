import { Inject, Injectable } from '@nestjs/common';
import { CompiledQuery, Kysely, Selectable, SelectQueryBuilder, sql, SqlBool } from 'kysely';
import { DATABASE } from '../database/tokens';
import type { Database, DeliveryRow, Dialect } from '../database/schema';
import { Transactor, Tx } from '../database/transactor';
import { Channel, Delivery, DeliveryAction, DeliveryStatus, PRIORITY_CLASSES, SlackMessageRef } from './notification';

const TABLE = 'notification_deliveries';

type ClaimQuery = SelectQueryBuilder<Database & { d: DeliveryRow }, 'd', { seq: number; has_followers: SqlBool }>;

/** A delivery first in line for its target, and whether more wait behind it. */
interface Head {
  seq: number;
  has_followers: boolean;
}

/** A claimed delivery; `has_followers`: later deliveries of its (incident, channel, target) wait for it. */
export type ClaimedDelivery = Delivery & { has_followers: boolean };

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

/** Where one PagerDuty integration stands for an incident: its last event, and what the next one needs. */
export interface PagerDutyPage {
  last: 'trigger' | 'acknowledge' | 'resolve';
  target_ref: string | null;
  dedup_key: string;
  /** The summary of a custom page (an automatic one renders its own). */
  summary: string | null;
  route: string | null;
  receiver: string | null;
}

/** Statuses of deliveries that did not and will not happen: they do not count as sent. */
const NOT_HAPPENING = ['failed', 'cancelled', 'suppressed'];

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

@Injectable()
export class DeliveryRepository {
  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    private readonly transactor: Transactor,
  ) {}

  /** Adds outbox rows to the incident's transaction (written with its other rows, before commit). */
  add(tx: Tx, rows: NewDeliveryRow[]): void {
    for (const row of rows) tx.deferInsert(TABLE, row);
  }

  /**
   * Claims up to `limit` deliveries that are due and first in line for their (incident, channel,
   * target), leasing them to `owner` until `leaseUntil`. A delivery whose lease ran out (its
   * owner died) is due again. On PostgreSQL the candidates are locked FOR UPDATE SKIP LOCKED,
   * so instances never claim the same row.
   */
  async claimDue(
    owner: string,
    now: string,
    leaseUntil: string,
    limit: number,
    skipTargets: Array<[string, string]>,
    incidents?: string[],
    maxPriority?: number,
  ): Promise<ClaimedDelivery[]> {
    const urgentOnly = (q: ClaimQuery): ClaimQuery => (maxPriority === undefined ? q : q.where('d.priority', '<=', maxPriority));
    return this.transactor.run(async (tx) => {
      if (incidents) {
        // Only what waited behind just-settled deliveries of these incidents.
        const seqs = await this.firstInLine(tx, skipTargets, limit, (q) =>
          // status and due time wrapped in an expression: the planner then seeks by incident
          // (a handful of rows) instead of walking every pending row in the due index.
          urgentOnly(q)
            .where('d.incident_id', 'in', incidents)
            .where(sql<string>`${sql.ref('d.status')} || ''`, '=', 'pending')
            .where(sql<string>`${sql.ref('d.next_attempt_at')} || ''`, '<=', now),
        );
        return this.lease(tx, seqs, owner, now, leaseUntil);
      }
      // Due pending rows, most urgent first: one range walk of the (status, priority,
      // next_attempt_at, seq) index per class, each stopping at `now` (rows due later, such as
      // retries an hour ahead, are never read) or once `limit` rows first in line are found.
      const pending: Head[] = [];
      for (let priority = 0; priority <= (maxPriority ?? PRIORITY_CLASSES - 1) && pending.length < limit; priority++) {
        const room = limit - pending.length;
        pending.push(
          ...(await this.firstInLine(tx, skipTargets, room, (q) =>
            q
              .where('d.status', '=', 'pending')
              .where('d.priority', '=', priority)
              .where('d.next_attempt_at', '<=', now)
              .orderBy('d.next_attempt_at')
              .orderBy('d.seq'),
          )),
        );
      }
      // Then rows whose lease ran out, whoever held them: another instance that died, or this
      // one, if it lost track of them (a lease it could not renew while the store was away).
      // The pool keeps a row it still holds instead of taking it twice.
      const expired = await this.firstInLine(tx, skipTargets, limit, (q) =>
        urgentOnly(q.where('d.status', '=', 'sending'))
          .where('d.lease_until', '<', now)
          .orderBy('d.seq'),
      );
      return this.lease(tx, [...pending, ...expired].slice(0, limit), owner, now, leaseUntil);
    });
  }

  private async lease(tx: Tx, heads: Head[], owner: string, now: string, leaseUntil: string): Promise<ClaimedDelivery[]> {
    if (heads.length === 0) return [];
    const followed = new Set(heads.filter((h) => h.has_followers).map((h) => h.seq));
    const seqs = heads.map((h) => h.seq);
    const rows = await tx.db
      .updateTable(TABLE)
      .set({ status: 'sending', lease_owner: owner, lease_until: leaseUntil, updated_at: now })
      .where('seq', 'in', seqs)
      .returningAll()
      .execute();
    return rows.map((row) => ({ ...toDelivery(row), has_followers: followed.has(Number(row.seq)) })).sort((a, b) => a.seq - b.seq);
  }

  private async firstInLine(tx: Tx, skipTargets: Array<[string, string]>, limit: number, narrow: (query: ClaimQuery) => ClaimQuery): Promise<Head[]> {
    let query = tx.db
      .selectFrom(`${TABLE} as d`)
      .select('d.seq')
      .select(({ exists, selectFrom }) =>
        exists(
          selectFrom(`${TABLE} as f`)
            .select('f.seq')
            .whereRef('f.incident_id', '=', 'd.incident_id')
            .whereRef('f.channel', '=', 'd.channel')
            .whereRef('f.target', '=', 'd.target')
            .where('f.status', '=', 'pending')
            .whereRef('f.seq', '>', 'd.seq'),
        ).as('has_followers'),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom(`${TABLE} as e`)
              .select('e.seq')
              .whereRef('e.incident_id', '=', 'd.incident_id')
              .whereRef('e.channel', '=', 'd.channel')
              .whereRef('e.target', '=', 'd.target')
              .whereRef('e.seq', '<', 'd.seq')
              .where('e.status', 'in', ['pending', 'sending']),
          ),
        ),
      );
    for (const [channel, target] of skipTargets) {
      query = query.where((eb) => eb.not(eb.and([eb('d.channel', '=', channel), eb('d.target', '=', target)])));
    }
    query = narrow(query).limit(limit);
    if (tx.dialect === 'postgres') query = query.forUpdate().skipLocked();
    return (await query.execute()).map((row) => ({ seq: Number(row.seq), has_followers: Boolean(row.has_followers) }));
  }

  /**
   * Deliveries left `sending` past their lease: claimed by an instance that died or lost the
   * store before it could send them or hand them back. Any instance claims them again, so a
   * count that stays above 0 means no instance is claiming.
   */
  async expiredLeases(now: string): Promise<{ count: number; oldest_lease_until: string | null }> {
    const row = await this.db
      .selectFrom(TABLE)
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('lease_until').as('oldest')])
      .where('status', '=', 'sending')
      .where('lease_until', '<', now)
      .executeTakeFirstOrThrow();
    return { count: Number(row.n), oldest_lease_until: row.oldest ?? null };
  }

  /** Renews the leases this owner still holds among `ids`; answers the ids renewed (the others were taken over). */
  async extendLeases(ids: string[], owner: string, leaseUntil: string): Promise<string[]> {
    const renewed: string[] = [];
    for (let start = 0; start < ids.length; start += 1000) {
      const rows = await this.db
        .updateTable(TABLE)
        .set({ lease_until: leaseUntil })
        .where('id', 'in', ids.slice(start, start + 1000))
        .where('lease_owner', '=', owner)
        .where('status', '=', 'sending')
        .returning('id')
        .execute();
      renewed.push(...rows.map((r) => r.id));
    }
    return renewed;
  }

  /** Keeps a claimed delivery leased; false if the lease was lost (another instance took it over). */
  async extendLease(id: string, owner: string, leaseUntil: string): Promise<boolean> {
    const result = await this.db
      .updateTable(TABLE)
      .set({ lease_until: leaseUntil })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'sending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Each PagerDuty integration the incident paged (automatic or custom), by target, with its last
   * event (in this transaction too). Given-up, cancelled and suppressed events do not count.
   */
  async pagerdutyPages(tx: Tx, incidentId: string): Promise<Map<string, PagerDutyPage>> {
    const stored = await tx.db
      .selectFrom(TABLE)
      .select(['target', 'target_ref', 'action', 'payload', 'status', 'route', 'receiver'])
      .where('incident_id', '=', incidentId)
      .where('channel', '=', 'pagerduty')
      .orderBy('seq')
      .execute();
    const own = tx.deferred(TABLE).filter((row) => row.incident_id === incidentId && row.channel === 'pagerduty');
    const pages = new Map<string, PagerDutyPage>();
    for (const row of [...stored, ...(own as typeof stored)]) {
      if (NOT_HAPPENING.includes(row.status)) continue;
      const payload = JSON.parse(row.payload) as { dedup_key?: string; payload?: { summary?: string } };
      const earlier = pages.get(row.target);
      pages.set(row.target, {
        last: row.action as PagerDutyPage['last'],
        target_ref: row.target_ref,
        dedup_key: payload.dedup_key ?? earlier?.dedup_key ?? incidentId,
        summary: row.action === 'trigger' && row.target_ref !== null ? (payload.payload?.summary ?? null) : (earlier?.summary ?? null),
        route: row.route ?? earlier?.route ?? null,
        receiver: row.receiver ?? earlier?.receiver ?? null,
      });
    }
    return pages;
  }

  /** Incidents whose first notification this silence kept back. */
  async incidentsSuppressedBy(tx: Tx, silenceId: string): Promise<string[]> {
    const rows = await tx.db
      .selectFrom(TABLE)
      .select('incident_id')
      .distinct()
      .where('silence_id', '=', silenceId)
      .where('status', '=', 'suppressed')
      .where('event', '=', 'incident.detected')
      .execute();
    return rows.map((row) => row.incident_id);
  }

  /** The Slack channels where the incident has a first message (posted or on its way). */
  async postedSlackTargets(tx: Tx, incidentId: string): Promise<string[]> {
    const stored = await tx.db
      .selectFrom(TABLE)
      .select(['target', 'status'])
      .where('incident_id', '=', incidentId)
      .where('channel', '=', 'slack')
      .where('action', '=', 'post')
      .orderBy('seq')
      .execute();
    const own = tx.deferred(TABLE).filter((row) => row.incident_id === incidentId && row.channel === 'slack' && row.action === 'post') as typeof stored;
    return [...new Set([...stored, ...own].filter((row) => !NOT_HAPPENING.includes(row.status)).map((row) => row.target))];
  }

  /** Targets of this channel the incident was sent to (or is being sent to), in this transaction's writes too. */
  async postedTargets(tx: Tx, incidentId: string, channel: Channel): Promise<string[]> {
    const stored = await tx.db
      .selectFrom(TABLE)
      .select(['target', 'status'])
      .where('incident_id', '=', incidentId)
      .where('channel', '=', channel)
      .orderBy('seq')
      .execute();
    const own = tx.deferred(TABLE).filter((row) => row.incident_id === incidentId && row.channel === channel) as typeof stored;
    return [...new Set([...stored, ...own].filter((row) => !NOT_HAPPENING.includes(row.status)).map((row) => row.target))];
  }

  /** Where the incident's first Slack message on this target landed, if it was sent. */
  async slackAnchor(incidentId: string, target: string): Promise<SlackMessageRef | null> {
    const row = await this.db
      .selectFrom(TABLE)
      .select('external_ref')
      .where('incident_id', '=', incidentId)
      .where('channel', '=', 'slack')
      .where('target', '=', target)
      .where('action', '=', 'post')
      .where('status', '=', 'sent')
      .where('external_ref', 'is not', null)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    return row?.external_ref ? (JSON.parse(row.external_ref) as SlackMessageRef) : null;
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

  /** Remembers a custom PagerDuty page's dedup_key (the latest incident wins when a key is reused). */
  async rememberCustomPage(tx: Tx, dedupKey: string, incidentId: string, at: string): Promise<void> {
    await tx.db
      .insertInto('pagerduty_custom_keys')
      .values({ dedup_key: dedupKey, incident_id: incidentId, created_at: at })
      .onConflict((oc) => oc.column('dedup_key').doUpdateSet({ incident_id: incidentId, created_at: at }))
      .execute();
  }

  /** The incident of the latest custom PagerDuty page that carried `dedupKey`: one lookup by key. */
  async incidentOfCustomPage(dedupKey: string): Promise<string | null> {
    const row = await this.db.selectFrom('pagerduty_custom_keys').select('incident_id').where('dedup_key', '=', dedupKey).executeTakeFirst();
    return row?.incident_id ?? null;
  }

  /** Hands claimed deliveries back without an attempt (shutdown): they stay due. */
  async release(owner: string, ids: string[], now: string): Promise<void> {
    for (let start = 0; start < ids.length; start += 1000) {
      await this.db
        .updateTable(TABLE)
        .set({ status: 'pending', lease_owner: null, lease_until: null, updated_at: now })
        .where('id', 'in', ids.slice(start, start + 1000))
        .where('lease_owner', '=', owner)
        .where('status', '=', 'sending')
        .execute();
    }
  }

  /**
   * A target answered again after failing: its deliveries that wait for a later retry are due
   * now, so the queue behind an outage goes as soon as the target is back. Answers how many.
   */
  async makeTargetDue(channel: Channel, target: string, now: string): Promise<number> {
    const result = await this.db
      .updateTable(TABLE)
      .set({ next_attempt_at: now })
      .where('status', '=', 'pending')
      .where('channel', '=', channel)
      .where('target', '=', target)
      .where('next_attempt_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** The instances (lease owners) holding deliveries `sending` whose names start with `prefix`. */
  async ownersSending(prefix: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom(TABLE)
      .select('lease_owner')
      .distinct()
      .where('status', '=', 'sending')
      // A prefix compared as text, not LIKE: a host name may hold _ (a LIKE wildcard).
      .where(sql<string>`substr(lease_owner, 1, ${prefix.length})`, '=', prefix)
      .execute();
    return rows.map((row) => row.lease_owner).filter((owner): owner is string => owner !== null);
  }

  /** Makes every delivery one owner holds due again at once (that owner is known to be gone). */
  async releaseOwner(owner: string, now: string): Promise<number> {
    const result = await this.db
      .updateTable(TABLE)
      .set({ status: 'pending', lease_owner: null, lease_until: null, updated_at: now })
      .where('status', '=', 'sending')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * SQLite is one process's store: a delivery left `sending` was in flight when that process
   * died, so it is due again at once instead of after its lease.
   */
  async releaseAllSending(now: string): Promise<number> {
    const result = await this.db
      .updateTable(TABLE)
      .set({ status: 'pending', lease_owner: null, lease_until: null, updated_at: now })
      .where('status', '=', 'sending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
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
