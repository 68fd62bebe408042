import { HistoryPage, HistoryPageQuery, historyWindow } from '../common/page.query';
import { newId } from '../common/ids';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode, ValidationFailed } from '../common/domain-error';
import { Transactor, Tx } from '../database/transactor';
import { IncidentUpdatedEvent, stateEventFor } from './domain/events';
import { fingerprintOf } from './domain/fingerprint';
import { Incident, IncidentDetail, IncidentState, Note, Resolution, Severity, TimelineEntry } from './domain/incident';
import { NewIncident, newIncident } from './domain/new-incident';
import { assertTransition, isActive } from './domain/state-machine';
import { changedFields, describeChange, entry } from './domain/timeline-entry';
import type { ListIncidentsQuery } from './dto/incident.dto';
import { AlertFolding } from './alert-folding.service';
import { IncidentEventPublisher } from './incident-events.publisher';
import { IncidentFilter, IncidentRepository } from './incident.repository';

export interface IncidentPatch {
  title?: string;
  description?: string;
  severity?: Severity;
  assignees?: string[];
  labels?: Record<string, string>;
  runbook_url?: string | null;
  actor?: string;
}

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

/**
 * Incidents opened and changed by hand or by the integrations (create, update, transitions,
 * acknowledgement, notes), and read. Alerts are folded into incidents by AlertFolding.
 */
@Injectable()
export class IncidentsService {
  constructor(
    private readonly repository: IncidentRepository,
    private readonly transactor: Transactor,
    private readonly publisher: IncidentEventPublisher,
    private readonly folding: AlertFolding,
    private readonly clock: Clock,
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
      if (existing && this.folding.absorbs(existing, now)) {
        throw new DomainError(ErrorCode.DUPLICATE_INCIDENT, 'an open incident with the same fingerprint exists', {
          existing_incident_id: existing.id,
          fingerprint,
        });
      }
      // As for alerts, a stale match hands the fingerprint over to the new incident.
      if (existing) await this.repository.releaseFingerprint(tx, existing.id);
      const incident = newIncident(input, fingerprint, now);
      await this.repository.insert(tx, incident);
      this.repository.appendTimeline(
        tx,
        incident.id,
        [entry(now, 'created', input.actor ?? SYSTEM_ACTOR, `Incident created: ${incident.title}`, { severity: incident.severity })],
        byKey,
      );
      await this.publisher.publish(tx, stateEventFor(incident, now, input.actor ?? SYSTEM_ACTOR, null));
      return incident;
    });
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
      await this.publisher.publish(tx, new IncidentUpdatedEvent(next, now, actor, changes));
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
      await this.publisher.publish(tx, stateEventFor(next, now, actor, current.state));
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
      await this.publisher.publish(
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
      await this.publisher.publish(tx, new IncidentUpdatedEvent(next, now, author, { notes: { from: null, to: note } }));
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

  private now(): string {
    return this.clock.now().toISOString();
  }
}

function notFound(id: string): DomainError {
  return new DomainError(ErrorCode.INCIDENT_NOT_FOUND, `incident ${id} not found`, { id });
}
