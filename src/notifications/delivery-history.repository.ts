import { Inject, Injectable } from '@nestjs/common';
import { Kysely } from 'kysely';
import { DATABASE } from '../database/tokens';
import type { Database } from '../database/schema';
import type { Tx } from '../database/transactor';
import { Channel, SlackMessageRef } from './notification';

const TABLE = 'notification_deliveries';

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

/**
 * What routing reads of an incident's earlier deliveries (what it paged, posted and where), in
 * the store and in the transaction's own writes, and the keys of its custom PagerDuty pages.
 */
@Injectable()
export class DeliveryHistoryRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

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
}
