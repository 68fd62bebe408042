import { defined, ProtoMessage, protoEnum } from '../grpc/proto-mapping';
import type { AlertAnswer } from './alert';

/** Alerts to and from the proto's messages. */
export function alertAckToProto(answer: AlertAnswer, index = 0): object {
  return {
    alert_id: answer.alert_id,
    incident_id: answer.incident_id,
    status: answer.status === 'Accepted' ? 'ACCEPTED' : 'DUPLICATE',
    message: answer.message,
    index,
  };
}

/** An Alert message as the plain object POST /v1/alerts takes. */
export function alertFromProto(message: unknown): unknown {
  if (typeof message !== 'object' || message === null) return undefined;
  const alert = message as ProtoMessage;
  return defined({
    source: alert.source,
    title: alert.title,
    // An empty description is legal and proto3 does not send empty strings.
    description: alert.description ?? '',
    severity: protoEnum.severity(alert.severity),
    alert_type: protoEnum.incidentType(alert.alert_type),
    external_id: alert.external_id,
    dedup_key: alert.dedup_key,
    labels: alert.labels,
    affected_services: alert.affected_services,
    runbook_url: alert.runbook_url,
    annotations: alert.annotations,
  });
}
