import { Inject, Injectable } from '@nestjs/common';
import { Kysely } from 'kysely';
import type { Database } from '../database/schema';
import { DATABASE } from '../database/tokens';

/** An incident as a report reads it: when, how severe, and its labels (JSON text, for its team). */
export interface ReportIncident {
  id: string;
  created_at: string;
  severity: string;
  labels: string;
}

/** A timeline entry a report reads: its metadata is JSON text. */
export interface ReportTimelineEntry {
  incident_id: string;
  timestamp: string;
  event_type: string;
  metadata: string;
}

/** The timeline entries that acknowledge or resolve an incident (a state change may do either). */
export const MILESTONE_EVENTS = ['acknowledged', 'state_changed', 'resolved'] as const;
/** The timeline entries of notifications: a person notified, or nobody reached through a target. */
export const NOTIFICATION_EVENTS = ['person_notified', 'nobody_reached'] as const;

/** Reads for the reports: incidents by creation time, and their timeline. Nothing here writes. */
@Injectable()
export class ReportsRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  /** Incidents created in [from, to), oldest first, the `limit` after `after` (keyset on the (created_at, id) index). */
  async incidentsCreated(from: string, to: string, after: { created_at: string; id: string } | null, limit: number): Promise<ReportIncident[]> {
    let query = this.db.selectFrom('incidents').select(['id', 'created_at', 'severity', 'labels']).where('created_at', '>=', from).where('created_at', '<', to);
    if (after) {
      query = query.where((eb) => eb.or([eb('created_at', '>', after.created_at), eb.and([eb('created_at', '=', after.created_at), eb('id', '>', after.id)])]));
    }
    return query.orderBy('created_at').orderBy('id').limit(limit).execute();
  }

  /**
   * The acknowledging and resolving entries of these incidents (through the (incident_id, seq)
   * index), with the metadata of state changes only (a resolution's notes may be long).
   */
  async milestones(incidentIds: readonly string[]): Promise<ReportTimelineEntry[]> {
    if (incidentIds.length === 0) return [];
    return this.db
      .selectFrom('incident_timeline')
      .select((eb) => [
        'incident_id',
        'timestamp',
        'event_type',
        eb.case().when('event_type', '=', 'state_changed').then(eb.ref('metadata')).else('{}').end().as('metadata'),
      ])
      .where('incident_id', 'in', incidentIds)
      .where('event_type', 'in', MILESTONE_EVENTS)
      .execute();
  }

  /**
   * The first timeline position (seq) from which entries are stamped at or after `at`: found by
   * bisection over seq, one primary-key lookup a step (about 25 for ten million entries). Entries
   * are appended in about the order of their timestamps; a caller allows for the difference
   * (clock skew between instances, a long transaction) with a margin. Answers one past the last
   * position when every entry is older.
   */
  async firstPositionStampedFrom(at: string): Promise<number> {
    // Two lookups: SQLite scans the whole table for min() and max() in one query.
    const first = await this.db.selectFrom('incident_timeline').select('seq').orderBy('seq').limit(1).executeTakeFirst();
    const last = await this.db.selectFrom('incident_timeline').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!first || !last) return 0;
    // PostgreSQL answers bigserial values as text.
    let low = Number(first.seq);
    let high = Number(last.seq) + 1;
    // The answer is in [low, high]: the first entry at or after `high` is stamped from `at` (or there is none).
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const entry = await this.db
        .selectFrom('incident_timeline')
        .select(['seq', 'timestamp'])
        .where('seq', '>=', middle)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      if (!entry || entry.timestamp >= at) high = middle;
      else low = Number(entry.seq) + 1;
    }
    return low;
  }

  /**
   * The notification entries at positions [fromSeq, toSeq) stamped in [from, to): a primary-key
   * range, so each call reads at most toSeq - fromSeq entries, whatever the table's size.
   */
  async notifications(fromSeq: number, toSeq: number, from: string, to: string): Promise<ReportTimelineEntry[]> {
    return this.db
      .selectFrom('incident_timeline')
      .select(['incident_id', 'timestamp', 'event_type', 'metadata'])
      .where('seq', '>=', fromSeq)
      .where('seq', '<', toSeq)
      .where('event_type', 'in', NOTIFICATION_EVENTS)
      .where('timestamp', '>=', from)
      .where('timestamp', '<', to)
      .execute();
  }

  /** The labels (JSON text) of these incidents, by id. */
  async labelsOf(incidentIds: readonly string[]): Promise<Array<{ id: string; labels: string }>> {
    if (incidentIds.length === 0) return [];
    return this.db.selectFrom('incidents').select(['id', 'labels']).where('id', 'in', incidentIds).execute();
  }
}
