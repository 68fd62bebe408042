import { Inject, Injectable } from '@nestjs/common';
import { Kysely, Selectable, sql } from 'kysely';
import type { Tx } from '../database/transactor';
import type { Database, Dialect, IncidentRow, NoteRow, TimelineRow } from '../database/schema';
import { insertRow, selectWhereEqual, updateRowById } from '../database/cached-queries';
import { DATABASE, DIALECT } from '../database/tokens';
import type { Incident, IncidentState, IncidentType, Note, Severity, TimelineEntry } from './domain/incident';
import type { OpenIncidentCount } from '../metrics/metrics.service';
import { ACTIVE_STATES } from './domain/state-machine';

/** Row <-> domain conversions for the incident tables, in one place. */
export const incidentMapper = {
  toDomain(row: Selectable<IncidentRow>): Incident {
    return {
      id: row.id,
      title: row.title,
      description: row.description,
      severity: row.severity as Severity,
      state: row.state as IncidentState,
      incident_type: row.incident_type as IncidentType,
      source: row.source,
      created_at: row.created_at,
      updated_at: row.updated_at,
      resolved_at: row.resolved_at,
      affected_resources: JSON.parse(row.affected_resources) as string[],
      assignees: JSON.parse(row.assignees) as string[],
      labels: JSON.parse(row.labels) as Record<string, string>,
      fingerprint: row.fingerprint,
      alert_count: Number(row.alert_count),
      last_seen_at: row.last_seen_at,
      resolution: row.resolution === null ? null : (JSON.parse(row.resolution) as Incident['resolution']),
      acknowledged_at: row.acknowledged_at ?? null,
      acknowledged_by: row.acknowledged_by ?? null,
      runbook_url: row.runbook_url ?? null,
    };
  },
  toRow(incident: Incident, openFingerprint: string | null): IncidentRow {
    return {
      id: incident.id,
      title: incident.title,
      description: incident.description,
      severity: incident.severity,
      state: incident.state,
      incident_type: incident.incident_type,
      source: incident.source,
      created_at: incident.created_at,
      updated_at: incident.updated_at,
      resolved_at: incident.resolved_at,
      affected_resources: JSON.stringify(incident.affected_resources),
      assignees: JSON.stringify(incident.assignees),
      labels: JSON.stringify(incident.labels),
      fingerprint: incident.fingerprint,
      open_fingerprint: openFingerprint,
      alert_count: incident.alert_count,
      last_seen_at: incident.last_seen_at,
      resolution: incident.resolution === null ? null : JSON.stringify(incident.resolution),
      acknowledged_at: incident.acknowledged_at,
      acknowledged_by: incident.acknowledged_by,
      runbook_url: incident.runbook_url,
    };
  },
  timelineToDomain(row: Selectable<TimelineRow>): TimelineEntry {
    return {
      timestamp: row.timestamp,
      event_type: row.event_type,
      actor: row.actor,
      description: row.description,
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
      ...(row.api_key_name !== null ? { api_key_name: row.api_key_name } : {}),
    };
  },
  noteToDomain(row: Selectable<NoteRow>): Note {
    return { id: row.id, author: row.author, content: row.content, created_at: row.created_at };
  },
};

export interface IncidentFilter {
  states?: IncidentState[];
  severities?: Severity[];
  sources?: string[];
  incident_types?: IncidentType[];
  active_only?: boolean;
  /** Every one of these labels, with exactly this value. */
  labels?: { name: string; value: string }[];
  /** Text in the title, the description or the id (case-insensitive). */
  text?: string;
  /** Open incidents (not Resolved or Closed) before the others, then newest first. */
  open_first?: boolean;
  /** As open_first, with the most severe first within each part (severities sort as text: P0 < P4). */
  urgent?: boolean;
  limit: number;
  offset: number;
}

const ACTIVE: IncidentState[] = ['Detected', 'Triaged', 'Investigating', 'Remediating'];

@Injectable()
export class IncidentRepository {
  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    @Inject(DIALECT) private readonly dialect: Dialect,
  ) {}

  async findById(id: string): Promise<Incident | null> {
    const row = await this.db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? incidentMapper.toDomain(row) : null;
  }

  /** The incident, locked for the rest of the transaction. */
  async findByIdForUpdate(tx: Tx, id: string): Promise<Incident | null> {
    const [row] = await selectWhereEqual(tx, 'incidents', { id }, { forUpdate: true });
    return row ? incidentMapper.toDomain(row) : null;
  }

  /** The incident alerts with this fingerprint fold into, locked for the rest of the transaction. */
  async findDedupTarget(tx: Tx, fingerprint: string): Promise<Incident | null> {
    const [row] = await selectWhereEqual(tx, 'incidents', { open_fingerprint: fingerprint }, { forUpdate: true });
    return row ? incidentMapper.toDomain(row) : null;
  }

  /** Inserts a new incident as the dedup target of its fingerprint. */
  async insert(tx: Tx, incident: Incident): Promise<void> {
    await insertRow(tx, 'incidents', incidentMapper.toRow(incident, incident.fingerprint));
  }

  /** Writes every field of the incident but its id, creation time and hold on the fingerprint. */
  async save(tx: Tx, incident: Incident): Promise<void> {
    const { id, created_at, fingerprint, open_fingerprint, ...row } = incidentMapper.toRow(incident, null);
    await updateRowById(tx, 'incidents', id, row);
  }

  /**
   * Records a duplicate alert: only the columns a duplicate can change, so the indexes on state
   * and creation time are left alone on the ingestion hot path.
   */
  async saveDuplicate(tx: Tx, incident: Incident): Promise<void> {
    await updateRowById(tx, 'incidents', incident.id, {
      alert_count: incident.alert_count,
      last_seen_at: incident.last_seen_at,
      updated_at: incident.updated_at,
      severity: incident.severity,
      labels: JSON.stringify(incident.labels),
      affected_resources: JSON.stringify(incident.affected_resources),
      runbook_url: incident.runbook_url,
    });
  }

  async releaseFingerprint(tx: Tx, id: string): Promise<void> {
    await tx.db.updateTable('incidents').set({ open_fingerprint: null }).where('id', '=', id).execute();
  }

  /** Makes the incident the dedup target of its fingerprint; a concurrent claim fails on the unique index. */
  async claimFingerprint(tx: Tx, incident: Incident): Promise<void> {
    await tx.db.updateTable('incidents').set({ open_fingerprint: incident.fingerprint }).where('id', '=', incident.id).execute();
  }

  /** Timeline rows are written with the transaction's other deferred rows, before it commits. */
  /** `byKey`: the name of the API key whose request made the change, beside its free-text actor. */
  appendTimeline(tx: Tx, incidentId: string, entries: TimelineEntry[], byKey?: string): void {
    for (const e of entries) {
      tx.deferInsert('incident_timeline', {
        incident_id: incidentId,
        timestamp: e.timestamp,
        event_type: e.event_type,
        actor: e.actor,
        description: e.description,
        metadata: JSON.stringify(e.metadata),
        api_key_name: e.api_key_name ?? byKey ?? null,
      });
    }
  }

  async insertNote(tx: Tx, incidentId: string, note: Note): Promise<void> {
    await insertRow(tx, 'incident_notes', { ...note, incident_id: incidentId });
  }

  /** A window of the timeline, oldest first, and the number of entries in all. */
  async timeline(id: string, window: { limit: number; offset: number }): Promise<{ items: TimelineEntry[]; total: number }> {
    const [rows, total] = await Promise.all([
      this.db.selectFrom('incident_timeline').selectAll().where('incident_id', '=', id).orderBy('seq').limit(window.limit).offset(window.offset).execute(),
      this.timelineCount(id),
    ]);
    return { items: rows.map(incidentMapper.timelineToDomain), total };
  }

  /** The newest `limit` entries, oldest first, and the number of entries in all. */
  async timelineTail(id: string, limit: number): Promise<{ items: TimelineEntry[]; total: number }> {
    const [rows, total] = await Promise.all([
      this.db.selectFrom('incident_timeline').selectAll().where('incident_id', '=', id).orderBy('seq', 'desc').limit(limit).execute(),
      this.timelineCount(id),
    ]);
    return { items: rows.reverse().map(incidentMapper.timelineToDomain), total };
  }

  private async timelineCount(id: string): Promise<number> {
    const row = await this.db
      .selectFrom('incident_timeline')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('incident_id', '=', id)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async notes(id: string): Promise<Note[]> {
    const rows = await this.db.selectFrom('incident_notes').selectAll().where('incident_id', '=', id).orderBy('created_at').orderBy('id').execute();
    return rows.map(incidentMapper.noteToDomain);
  }

  /** Incidents not resolved or closed, counted by state and severity (the state index narrows it to open rows). */
  async countOpenByStateAndSeverity(): Promise<OpenIncidentCount[]> {
    const rows = await this.db
      .selectFrom('incidents')
      .select(['state', 'severity'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', 'in', ACTIVE_STATES)
      .groupBy(['state', 'severity'])
      .execute();
    return rows.map((row) => ({ state: row.state, severity: row.severity, count: Number(row.n) }));
  }

  async exists(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('incidents').select('id').where('id', '=', id).executeTakeFirst();
    return row !== undefined;
  }

  async list(filter: IncidentFilter): Promise<{ items: Incident[]; total: number }> {
    let base = this.db.selectFrom('incidents');
    if (filter.states?.length) base = base.where('state', 'in', filter.states);
    if (filter.severities?.length) base = base.where('severity', 'in', filter.severities);
    if (filter.sources?.length) base = base.where('source', 'in', filter.sources);
    if (filter.incident_types?.length) base = base.where('incident_type', 'in', filter.incident_types);
    if (filter.active_only) base = base.where('state', 'in', ACTIVE);
    for (const { name, value } of filter.labels ?? []) {
      // Labels are a JSON object in a text column on both stores. Names are checked to be plain
      // (letters, digits, _ . / -) by the query DTO, so the SQLite path needs no escaping.
      const labelValue = this.dialect === 'postgres' ? sql<string>`(labels::jsonb ->> ${name})` : sql<string>`json_extract(labels, ${`$."${name}"`})`;
      base = base.where(labelValue, '=', value);
    }
    if (filter.text) {
      const pattern = `%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const like = this.dialect === 'postgres' ? sql`ilike` : sql`like`;
      base = base.where((eb) =>
        eb.or([
          eb(sql`title`, like, sql`${pattern} escape '\\'`),
          eb(sql`description`, like, sql`${pattern} escape '\\'`),
          eb('id', '=', filter.text!.toLowerCase()),
        ]),
      );
    }
    let ordered = base.selectAll();
    if (filter.open_first || filter.urgent) ordered = ordered.orderBy(sql`case when state in ('Resolved', 'Closed') then 1 else 0 end`);
    if (filter.urgent) ordered = ordered.orderBy('severity');
    const [rows, count] = await Promise.all([
      ordered.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute(),
      base.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(incidentMapper.toDomain), total: Number(count.total) };
  }
}
