import type { Incident } from '../../../incidents/domain/incident';
import { incidentSummary } from '../../render';

/** The webhook channel's payloads, rendered at the event (see ../../render.ts). */

/** The default webhook payload: event_type, timestamp, incident, notification_id (and incident_url with a link). */
export function webhookBody(eventType: string, timestamp: string, incident: Incident, notificationId: string, link?: string): object {
  return {
    event_type: eventType,
    timestamp,
    incident: incidentSummary(incident),
    notification_id: notificationId,
    // The incident in the console, when server.public_url is set.
    ...(link ? { incident_url: link } : {}),
  };
}
