import { HistoryPage, HistoryPageQuery, historyWindow } from '../common/page.query';
import { newId } from '../common/ids';
import { isDeepStrictEqual } from 'node:util';
import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode, ValidationFailed } from '../common/domain-error';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { Transactor, Tx } from '../database/transactor';
import { IncidentEvent, IncidentUpdatedEvent, stateEventFor } from './domain/events';
import { fingerprintOf } from './domain/fingerprint';
import type { IncomingAlert } from './domain/incoming-alert';
import { Incident, IncidentDetail, IncidentState, IncidentType, isMoreSevere, Note, Resolution, Severity, TimelineEntry } from './domain/incident';
import { assertTransition, isActive } from './domain/state-machine';
import type { ListIncidentsQuery } from './dto/incident.dto';
import { INCIDENT_CHANGE_IN_TRANSACTION, IncidentChangeInTransaction } from './incident-change.event';
import { IncidentFilter, IncidentRepository } from './incident.repository';

export interface NewIncident {
  title: string;
  description: string;
  severity: Severity;
  incident_type: IncidentType;
  source: string;
  affected_resources?: string[];
  assignees?: string[];
  labels?: Record<string, string>;
  runbook_url?: string | null;
  actor?: string;
}

export interface IncidentPatch {
  title?: string;
  description?: string;
  severity?: Severity;
  assignees?: string[];
  labels?: Record<string, string>;
  runbook_url?: string | null;
  actor?: string;
}

export type AlertOutcome = { incident_id: string; status: 'Accepted' | 'Duplicate' };

const SYSTEM_ACTOR = 'system';
const PATCHABLE = ['title', 'description', 'severity', 'assignees', 'labels'] as const;

const DEFAULT_PAGE_SIZE = 50;
/** Timeline entries an incident's detail carries (the newest); GET .../timeline pages them all. */
export const DETAIL_TIMELINE_ENTRIES = 500;

export interface IncidentPage {
  items: Incident[];
  total: number;
  page: number;
  page_size: number;
}

@Injectable()
export class IncidentsService {
  private readonly logger = new Logger(IncidentsService.name);

  constructor(
    private readonly repository: IncidentRepository,
    private readonly transactor: Transactor,
    private readonly events: EventEmitter2,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async create(input: NewIncident, byKey?: string): Promise<Incident> {
    const fingerprint = fingerprintOf({
      source: input.source,
      alert_type: input.incident_type,
      title: input.title,
      affected_services: input.affected_resources,
    });
    return this.transactor.run(async (tx) => {
      const now = this.now();
      const existing = await this.repository.findDedupTarget(tx, fingerprint);
      if (existing && this.absorbs(existing, now)) {
        throw new DomainError(ErrorCode.DUPLICATE_INCIDENT, 'an open incident with the same fingerprint exists', {
          existing_incident_id: existing.id,
          fingerprint,
        });
      }
      // As for alerts, a stale match hands the fingerprint over to the new incident.
      if (existing) await this.repository.releaseFingerprint(tx, existing.id);
      const incident = this.newIncident(input, fingerprint, now);
      await this.repository.insert(tx, incident);
      this.repository.appendTimeline(
        tx,
        incident.id,
        [entry(now, 'created', input.actor ?? SYSTEM_ACTOR, `Incident created: ${incident.title}`, { severity: incident.severity })],
        byKey,
      );
      await this.publish(tx, stateEventFor(incident, now, input.actor ?? SYSTEM_ACTOR, null));
      return incident;
    });
  }

  /**
   * Folds an alert into the open incident with its fingerprint, or opens a new one. Runs inside
   * the caller's transaction so the alert row and the incident change commit together.
   * `foldWhileOpen`: the open incident takes the alert however long ago it was last seen (the
   * integrations' group and dedup keys, which mean "the same thing" for as long as it is open,
   * as with PagerDuty); otherwise the deduplication window applies.
   */
  async absorbAlert(tx: Tx, alert: IncomingAlert, byKey?: string, foldWhileOpen = false): Promise<AlertOutcome> {
    const now = alert.received_at;
    const actor = alert.source;
    const target = await this.repository.findDedupTarget(tx, alert.fingerprint);
    if (target && this.absorbs(target, now, foldWhileOpen)) {
      const updated: Incident = {
        ...target,
        alert_count: target.alert_count + 1,
        last_seen_at: now,
        updated_at: now,
        severity: isMoreSevere(alert.severity, target.severity) ? alert.severity : target.severity,
        // A duplicate adds labels and affected services it brings; it never overwrites.
        labels: { ...target.labels, ...withoutKeysOf(alert.labels, target.labels) },
        affected_resources: union(target.affected_resources, alert.affected_services),
        // The first runbook named stays: a responder may already have it open.
        runbook_url: target.runbook_url ?? alert.runbook_url,
      };
      const changes = changedFields(target, updated, ['severity', 'labels', 'affected_resources']);
      const timeline = [
        entry(now, 'alert_deduplicated', actor, `Duplicate alert received (${updated.alert_count} in total)`, alertMetadata(alert)),
        ...Object.entries(changes).map(([field, change]) =>
          entry(now, `${field}_changed`, actor, `${describeChange(field, change)} by a duplicate alert`, { field, ...change, alert_id: alert.id }),
        ),
      ];
      await this.repository.saveDuplicate(tx, updated);
      this.repository.appendTimeline(tx, updated.id, timeline, byKey);
      if (Object.keys(changes).length > 0) await this.publish(tx, new IncidentUpdatedEvent(updated, now, actor, changes));
      return { incident_id: updated.id, status: 'Duplicate' };
    }

    // A stale or finished match hands the fingerprint over to the new incident.
    if (target) await this.repository.releaseFingerprint(tx, target.id);
    const incident = this.newIncident(
      {
        title: alert.title,
        description: alert.description,
        severity: alert.severity,
        incident_type: alert.alert_type,
        source: alert.source,
        affected_resources: alert.affected_services,
        labels: alert.labels,
        runbook_url: alert.runbook_url,
      },
      alert.fingerprint,
      now,
    );
    await this.repository.insert(tx, incident);
    this.repository.appendTimeline(tx, incident.id, [entry(now, 'created', actor, `Incident created from alert: ${alert.title}`, alertMetadata(alert))], byKey);
    await this.publish(tx, stateEventFor(incident, now, actor, null));
    return { incident_id: incident.id, status: 'Accepted' };
  }

  /** Whether the incident holding a fingerprint still takes what arrives with it at `now`. */
  private absorbs(target: Incident, now: string, foldWhileOpen = false): boolean {
    const { deduplication_enabled, deduplication_window_secs } = this.config.processing;
    if (!deduplication_enabled || !isActive(target.state)) return false;
    return foldWhileOpen || Date.parse(target.last_seen_at) >= Date.parse(now) - deduplication_window_secs * 1000;
  }

  async get(id: string): Promise<IncidentDetail> {
    const incident = await this.repository.findById(id);
    if (!incident) throw notFound(id);
    const [timeline, notes] = await Promise.all([this.repository.timelineTail(id, DETAIL_TIMELINE_ENTRIES), this.repository.notes(id)]);
    // The newest entries only: a flapping alert adds one per repeat. timeline() pages the whole.
    return { ...incident, notes, timeline: timeline.items, timeline_total: timeline.total };
  }

  async list(filter: IncidentFilter): Promise<{ items: Incident[]; total: number }> {
    return this.repository.list(filter);
  }

  /** One page of incidents, newest first, for the REST query and the gRPC request alike. */
  async listPage(query: ListIncidentsQuery): Promise<IncidentPage> {
    const page = query.page ?? 1;
    const page_size = query.page_size ?? DEFAULT_PAGE_SIZE;
    const { items, total } = await this.list({
      states: query.state,
      severities: query.severity,
      sources: query.source,
      incident_types: query.incident_type,
      active_only: query.active_only,
      labels: query.label?.map((pair) => ({ name: pair.slice(0, pair.indexOf('=')), value: pair.slice(pair.indexOf('=') + 1) })),
      text: query.q?.trim() || undefined,
      open_first: query.sort === 'open_first',
      urgent: query.sort === 'urgent',
      limit: page_size,
      offset: (page - 1) * page_size,
    });
    return { items, total, page, page_size };
  }

  /** A page of the timeline, oldest first, and how many entries there are. */
  async timeline(id: string, query: HistoryPageQuery = {}): Promise<HistoryPage<TimelineEntry>> {
    await this.assertExists(id);
    return this.repository.timeline(id, historyWindow(query));
  }

  /** Whether the incident exists and is neither resolved nor closed. */
  async isOpen(id: string): Promise<boolean> {
    const incident = await this.repository.findById(id);
    return incident !== null && incident.state !== 'Resolved' && incident.state !== 'Closed';
  }

  async assertExists(id: string): Promise<void> {
    if (!(await this.repository.exists(id))) throw notFound(id);
  }

  async update(id: string, patch: IncidentPatch, byKey?: string): Promise<Incident> {
    const actor = patch.actor ?? SYSTEM_ACTOR;
    return this.mutate(id, async (tx, current, now) => {
      const next: Incident = { ...current };
      for (const field of PATCHABLE) {
        if (patch[field] !== undefined) (next as unknown as Record<string, unknown>)[field] = patch[field];
      }
      const changes = changedFields(current, next, PATCHABLE);
      const fields = Object.keys(changes);
      if (fields.length === 0) return current;
      next.updated_at = now;
      await this.repository.save(tx, next);
      this.repository.appendTimeline(
        tx,
        id,
        fields.map((field) => entry(now, `${field}_changed`, actor, describeChange(field, changes[field]), { field, ...changes[field] })),
        byKey,
      );
      await this.publish(tx, new IncidentUpdatedEvent(next, now, actor, changes));
      return next;
    });
  }

  async transition(id: string, to: IncidentState, actor: string, note?: string, resolution?: Resolution, byKey?: string): Promise<Incident> {
    return this.transactor.run((tx) => this.transitionWithin(tx, id, to, actor, note, resolution, byKey));
  }

  /**
   * A transition inside the caller's transaction: the integrations resolve or acknowledge an
   * incident in the same transaction as the upstream event that caused it.
   */
  async transitionWithin(tx: Tx, id: string, to: IncidentState, actor: string, note?: string, resolution?: Resolution, byKey?: string): Promise<Incident> {
    return this.mutateWithin(tx, id, async (tx, current, now) => {
      assertTransition(current.state, to);
      if (to === 'Resolved' && !resolution) {
        throw new ValidationFailed([{ field: 'resolution', message: 'resolving an incident needs resolution details' }]);
      }
      const next: Incident = { ...current, state: to, updated_at: now };
      // Moving an incident on from Detected is taking it on: it counts as its acknowledgement.
      if (current.state === 'Detected' && isActive(to) && current.acknowledged_at === null) {
        next.acknowledged_at = now;
        next.acknowledged_by = actor;
      }
      if (to === 'Resolved') {
        next.resolved_at = now;
        next.resolution = resolution ?? null;
      } else if (current.state === 'Resolved' && to !== 'Closed') {
        // Reopened: the old resolution stays in the timeline only.
        next.resolved_at = null;
        next.resolution = null;
      }
      await this.repository.save(tx, next);
      // Only an active incident absorbs alerts; a reopened one takes its fingerprint back if free.
      if (!isActive(to)) await this.repository.releaseFingerprint(tx, id);
      else if (!isActive(current.state) && (await this.repository.findDedupTarget(tx, current.fingerprint)) === null) {
        await this.repository.claimFingerprint(tx, next);
      }
      const timeline = [
        entry(now, 'state_changed', actor, `State changed from ${current.state} to ${to}`, { from: current.state, to, ...(note ? { note } : {}) }),
      ];
      if (to === 'Resolved' && resolution) {
        timeline.push(entry(now, 'resolved', actor, `Resolved (${resolution.method}): ${resolution.notes}`, { ...resolution }));
      }
      this.repository.appendTimeline(tx, id, timeline, byKey);
      await this.publish(tx, stateEventFor(next, now, actor, current.state));
      return next;
    });
  }

  /**
   * Someone takes the incident on: Detected moves to Triaged (a later active state stays as it
   * is), and acknowledged_at and acknowledged_by are recorded. The notifications send PagerDuty's
   * acknowledge and stop the escalation on this event.
   */
  async acknowledge(id: string, actor: string, note?: string, byKey?: string): Promise<Incident> {
    return this.mutate(id, async (tx, current, now) => {
      if (!isActive(current.state)) {
        throw new DomainError(ErrorCode.INVALID_TRANSITION, `cannot acknowledge an incident that is ${current.state}`, { from: current.state, to: 'Triaged' });
      }
      if (current.acknowledged_at !== null) {
        throw new DomainError(ErrorCode.ALREADY_ACKNOWLEDGED, `incident was already acknowledged by ${current.acknowledged_by} at ${current.acknowledged_at}`, {
          acknowledged_at: current.acknowledged_at,
          acknowledged_by: current.acknowledged_by,
        });
      }
      const next: Incident = { ...current, acknowledged_at: now, acknowledged_by: actor, updated_at: now };
      if (current.state === 'Detected') next.state = 'Triaged';
      await this.repository.save(tx, next);
      const timeline = [entry(now, 'acknowledged', actor, `Acknowledged by ${actor}`, note ? { note } : {})];
      if (next.state !== current.state) {
        timeline.push(entry(now, 'state_changed', actor, `State changed from ${current.state} to ${next.state}`, { from: current.state, to: next.state }));
      }
      this.repository.appendTimeline(tx, id, timeline, byKey);
      await this.publish(
        tx,
        next.state !== current.state
          ? stateEventFor(next, now, actor, current.state)
          : new IncidentUpdatedEvent(next, now, actor, { acknowledged_at: { from: null, to: now }, acknowledged_by: { from: null, to: actor } }),
      );
      return next;
    });
  }

  async resolve(id: string, resolution: Resolution, note?: string, byKey?: string): Promise<Incident> {
    return this.transition(id, 'Resolved', resolution.resolved_by, note, resolution, byKey);
  }

  async close(id: string, actor: string, note?: string, byKey?: string): Promise<Incident> {
    return this.transition(id, 'Closed', actor, note, undefined, byKey);
  }

  async addNote(id: string, author: string, content: string, byKey?: string): Promise<Note> {
    let note: Note | undefined;
    await this.mutate(id, async (tx, current, now) => {
      note = { id: newId(), author, content, created_at: now };
      const next: Incident = { ...current, updated_at: now };
      await this.repository.save(tx, next);
      await this.repository.insertNote(tx, id, note);
      this.repository.appendTimeline(tx, id, [entry(now, 'note_added', author, content, { note_id: note.id })], byKey);
      await this.publish(tx, new IncidentUpdatedEvent(next, now, author, { notes: { from: null, to: note } }));
      return next;
    });
    return note as Note;
  }

  /** Loads and locks the incident, applies `change` in one transaction. */
  private async mutate(id: string, change: (tx: Tx, current: Incident, now: string) => Promise<Incident>): Promise<Incident> {
    return this.transactor.run((tx) => this.mutateWithin(tx, id, change));
  }

  private async mutateWithin(tx: Tx, id: string, change: (tx: Tx, current: Incident, now: string) => Promise<Incident>): Promise<Incident> {
    const current = await this.repository.findByIdForUpdate(tx, id);
    if (!current) throw notFound(id);
    return change(tx, current, this.now());
  }

  /**
   * The open incident alerts with this fingerprint fold into, locked until the transaction ends:
   * the integrations find the incident an upstream acknowledge or resolve is about.
   */
  async dedupTargetWithin(tx: Tx, fingerprint: string): Promise<Incident | null> {
    return this.repository.findDedupTarget(tx, fingerprint);
  }

  /** A timeline entry about the incident from outside its own fields (an upstream alert's state). */
  recordWithin(tx: Tx, id: string, event_type: string, actor: string, description: string, metadata: Record<string, unknown>, byKey?: string): void {
    this.repository.appendTimeline(tx, id, [entry(this.now(), event_type, actor, description, metadata)], byKey);
  }

  /** The incident, locked until the transaction ends, or null. */
  async findWithin(tx: Tx, id: string): Promise<Incident | null> {
    return this.repository.findByIdForUpdate(tx, id);
  }

  /** Lets the in-transaction listeners write now, and emits the event only once the transaction commits. */
  private async publish(tx: Tx, event: IncidentEvent): Promise<void> {
    await this.events.emitAsync(INCIDENT_CHANGE_IN_TRANSACTION, new IncidentChangeInTransaction(tx, event));
    tx.afterCommit(() => {
      // Listeners run now, in commit order; an async one that fails is logged, never unhandled.
      this.events.emitAsync(event.name, event).catch((err: unknown) => {
        this.logger.error({ msg: 'incident event listener failed', event: event.name, incident_id: event.incident.id, err: String(err) });
      });
    });
  }

  private newIncident(input: NewIncident, fingerprint: string, now: string): Incident {
    return {
      id: newId(),
      title: input.title,
      description: input.description,
      severity: input.severity,
      state: 'Detected',
      incident_type: input.incident_type,
      source: input.source,
      created_at: now,
      updated_at: now,
      resolved_at: null,
      affected_resources: [...new Set(input.affected_resources ?? [])],
      assignees: [...new Set(input.assignees ?? [])],
      labels: input.labels ?? {},
      fingerprint,
      alert_count: 1,
      last_seen_at: now,
      resolution: null,
      acknowledged_at: null,
      acknowledged_by: null,
      runbook_url: input.runbook_url ?? null,
    };
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

function notFound(id: string): DomainError {
  return new DomainError(ErrorCode.INCIDENT_NOT_FOUND, `incident ${id} not found`, { id });
}

function entry(timestamp: string, event_type: string, actor: string, description: string, metadata: Record<string, unknown>): TimelineEntry {
  return { timestamp, event_type, actor, description, metadata };
}

function withoutKeysOf(map: Record<string, string>, existing: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).filter(([key]) => !(key in existing)));
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function alertMetadata(alert: IncomingAlert): Record<string, unknown> {
  return {
    alert_id: alert.id,
    severity: alert.severity,
    external_id: alert.external_id,
    dedup_key: alert.dedup_key,
    runbook_url: alert.runbook_url,
    annotations: alert.annotations,
    labels: alert.labels,
    affected_services: alert.affected_services,
  };
}

/** Fields whose value differs between two versions of an incident, with both values. */
function changedFields(before: Incident, after: Incident, fields: readonly (keyof Incident)[]): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of fields) {
    if (!isDeepStrictEqual(before[field], after[field])) changes[field] = { from: before[field], to: after[field] };
  }
  return changes;
}

function describeChange(field: string, change: { from: unknown; to: unknown }): string {
  const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  return `${field} changed from ${show(change.from)} to ${show(change.to)}`;
}
