import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { Tx } from '../database/transactor';
import { IncidentUpdatedEvent, stateEventFor } from './domain/events';
import { Incident, isMoreSevere } from './domain/incident';
import type { IncomingAlert } from './domain/incoming-alert';
import { newIncident } from './domain/new-incident';
import { isActive } from './domain/state-machine';
import { changedFields, describeChange, entry } from './domain/timeline-entry';
import { IncidentEventPublisher } from './incident-events.publisher';
import { IncidentRepository } from './incident.repository';

export type AlertOutcome = { incident_id: string; status: 'Accepted' | 'Duplicate' };

/**
 * Folds alerts into incidents: a duplicate into the open incident with its fingerprint (within
 * the deduplication window), anything else into a new incident that takes the fingerprint over.
 */
@Injectable()
export class AlertFolding {
  constructor(
    private readonly repository: IncidentRepository,
    private readonly publisher: IncidentEventPublisher,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

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
      if (Object.keys(changes).length > 0) await this.publisher.publish(tx, new IncidentUpdatedEvent(updated, now, actor, changes));
      return { incident_id: updated.id, status: 'Duplicate' };
    }

    // A stale or finished match hands the fingerprint over to the new incident.
    if (target) await this.repository.releaseFingerprint(tx, target.id);
    const incident = newIncident(
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
    await this.publisher.publish(tx, stateEventFor(incident, now, actor, null));
    return { incident_id: incident.id, status: 'Accepted' };
  }

  /** Whether the incident holding a fingerprint still takes what arrives with it at `now`. */
  absorbs(target: Incident, now: string, foldWhileOpen = false): boolean {
    const { deduplication_enabled, deduplication_window_secs } = this.config.processing;
    if (!deduplication_enabled || !isActive(target.state)) return false;
    return foldWhileOpen || Date.parse(target.last_seen_at) >= Date.parse(now) - deduplication_window_secs * 1000;
  }
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
