import { maybeTimestamp, timestampOf, toProtoEnum } from '../grpc/proto-mapping';
import type { Incident, Note, TimelineEntry } from './domain/incident';

/** Incidents, notes and timeline entries as the proto's messages. */
export function incidentToProto(incident: Incident): object {
  return {
    id: incident.id,
    title: incident.title,
    description: incident.description,
    severity: toProtoEnum.severity(incident.severity),
    state: toProtoEnum.state(incident.state),
    incident_type: toProtoEnum.incidentType(incident.incident_type),
    source: incident.source,
    created_at: timestampOf(incident.created_at),
    updated_at: timestampOf(incident.updated_at),
    resolved_at: maybeTimestamp(incident.resolved_at),
    affected_resources: incident.affected_resources,
    assignees: incident.assignees,
    labels: incident.labels,
    fingerprint: incident.fingerprint,
    alert_count: incident.alert_count,
    last_seen_at: timestampOf(incident.last_seen_at),
    resolution: incident.resolution
      ? {
          resolved_by: incident.resolution.resolved_by,
          method: toProtoEnum.method(incident.resolution.method),
          notes: incident.resolution.notes,
          ...(incident.resolution.root_cause !== null ? { root_cause: incident.resolution.root_cause } : {}),
        }
      : undefined,
    acknowledged_at: maybeTimestamp(incident.acknowledged_at),
    acknowledged_by: incident.acknowledged_by ?? '',
    runbook_url: incident.runbook_url ?? '',
  };
}

export function noteToProto(note: Note): object {
  return { id: note.id, author: note.author, content: note.content, created_at: timestampOf(note.created_at) };
}

export function timelineEntryToProto(entry: TimelineEntry): object {
  return {
    timestamp: timestampOf(entry.timestamp),
    event_type: entry.event_type,
    actor: entry.actor,
    description: entry.description,
    metadata: JSON.stringify(entry.metadata),
    api_key_name: entry.api_key_name ?? '',
  };
}
