import { Inject, Injectable } from '@nestjs/common';
import { Kysely, SelectQueryBuilder, sql, SqlBool } from 'kysely';
import { DATABASE } from '../database/tokens';
import type { Database, DeliveryRow } from '../database/schema';
import { Transactor, Tx } from '../database/transactor';
import { toDelivery } from './delivery.repository';
import { Channel, Delivery, PRIORITY_CLASSES } from './notification';

const TABLE = 'notification_deliveries';

type ClaimQuery = SelectQueryBuilder<Database & { d: DeliveryRow }, 'd', { seq: number; has_followers: SqlBool }>;

/** A delivery first in line for its target, and whether more wait behind it. */
interface Head {
  seq: number;
  has_followers: boolean;
}

/** A claimed delivery; `has_followers`: later deliveries of its (incident, channel, target) wait for it. */
export type ClaimedDelivery = Delivery & { has_followers: boolean };

/**
 * The worker pool's claims on deliveries: which are due and first in line, and the leases that
 * keep them its own until their outcome is written or they are handed back.
 */
@Injectable()
export class DeliveryClaimsRepository {
  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    private readonly transactor: Transactor,
  ) {}

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
}
