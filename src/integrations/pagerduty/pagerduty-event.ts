import { ValidationFailed } from '../../common/domain-error';
import type { AlertDto } from '../../alerts/dto/alert.dto';
import type { Severity } from '../../incidents/domain/incident';
import type { AlertMapping } from '../alert-mapping';
import { clip, kindOf, PayloadChecks } from '../payload-checks';

/** The source of alerts that arrive as Events API v2 events; with dedup_key it makes their fingerprint. */
export const PAGERDUTY_SOURCE = 'pagerduty';

export const PAGERDUTY_SEVERITIES: Record<string, Severity> = { critical: 'P0', error: 'P1', warning: 'P2', info: 'P3' };
const ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;

export type PagerDutyEvent = { action: 'trigger'; dedup_key?: string; alert: AlertDto } | { action: 'acknowledge' | 'resolve'; dedup_key: string };

/**
 * Checks an Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)
 * with PagerDuty's own limits, and maps a trigger to an alert of this service.
 */
export function parsePagerDutyEvent(body: unknown, mapping: AlertMapping): PagerDutyEvent {
  const check = new PayloadChecks();
  if (!check.isObject(body)) throw new ValidationFailed([{ field: 'body', message: 'must be a JSON object (an Events API v2 event)' }]);
  check.string(body.routing_key, 'routing_key', { required: true, max: 256, nonEmpty: true });
  const action = body.event_action;
  if (!(ACTIONS as readonly unknown[]).includes(action)) {
    check.fail('event_action', action === undefined ? 'is required' : `must be one of the following values: ${ACTIONS.join(', ')}`);
  }
  const dedupKey = check.string(body.dedup_key, 'dedup_key', { max: 255, nonEmpty: true });
  if (action === 'acknowledge' || action === 'resolve') {
    if (dedupKey === undefined && (body.dedup_key === undefined || body.dedup_key === null)) check.fail('dedup_key', `is required for ${action}`);
    if (check.issues.length > 0) throw new ValidationFailed(check.issues, 'invalid event');
    return { action, dedup_key: dedupKey as string };
  }
  const payload = body.payload;
  if (!check.isObject(payload)) {
    check.fail('payload', payload === undefined ? 'is required for trigger' : `must be an object, got ${kindOf(payload)}`);
    throw new ValidationFailed(check.issues, 'invalid event');
  }
  const summary = check.string(payload.summary, 'payload.summary', { required: true, max: 1024, nonEmpty: true });
  const source = check.string(payload.source, 'payload.source', { required: true, max: 255, nonEmpty: true });
  const severityName = payload.severity;
  if (typeof severityName !== 'string' || !Object.hasOwn(PAGERDUTY_SEVERITIES, severityName)) {
    check.fail('payload.severity', severityName === undefined ? 'is required' : 'must be one of the following values: critical, error, warning, info');
  }
  const timestamp = check.time(payload.timestamp, 'payload.timestamp', false);
  const component = check.string(payload.component, 'payload.component', { max: 255 });
  const group = check.string(payload.group, 'payload.group', { max: 255 });
  const klass = check.string(payload.class, 'payload.class', { max: 255 });
  const client = check.string(body.client, 'client', { max: 255 });
  const clientUrl = check.string(body.client_url, 'client_url', { max: 2048 });
  const details = payload.custom_details === undefined || payload.custom_details === null ? undefined : JSON.stringify(payload.custom_details);
  if (details !== undefined && details.length > 8192) check.fail('payload.custom_details', `must be at most 8192 characters as JSON, got ${details.length}`);
  const links = jsonOf(check, listOf(check, body.links, 'links', 'href'), 'links');
  const images = jsonOf(check, listOf(check, body.images, 'images', 'src'), 'images');
  if (check.issues.length > 0 || summary === undefined || source === undefined) throw new ValidationFailed(check.issues, 'invalid event');

  const labels: Record<string, string> = { source, ...present({ component, group, class: klass, client }) };
  const annotations = present({
    summary,
    timestamp,
    custom_details: details,
    client_url: clientUrl,
    links,
    images,
  });
  return {
    action: 'trigger',
    dedup_key: dedupKey,
    alert: {
      source: PAGERDUTY_SOURCE,
      title: clip(summary, 500),
      description: details === undefined ? summary : `${summary}\n\n${details}`,
      severity: PAGERDUTY_SEVERITIES[severityName as string],
      alert_type: mapping.defaultType,
      labels,
      affected_services: [component || source],
      annotations,
    },
  };
}

/** links[] and images[]: objects with a required URL field; kept as given, in the annotations. */
function listOf(check: PayloadChecks, value: unknown, field: string, required: string): Record<string, string>[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    check.fail(field, `must be an array, got ${kindOf(value)}`);
    return [];
  }
  if (value.length > 50) check.fail(field, `holds at most 50 entries, got ${value.length}`);
  return value.map((item: unknown, i) => {
    const map = check.stringMap(item, `${field}[${i}]`, { maxKeys: 8, maxLength: 2048 });
    if (check.isObject(item) && map[required] === undefined) check.fail(`${field}[${i}].${required}`, 'is required');
    return map;
  });
}

/** A list kept as one annotation: its JSON within the annotation limit, or undefined when empty. */
function jsonOf(check: PayloadChecks, items: Record<string, string>[], field: string): string | undefined {
  if (items.length === 0) return undefined;
  const text = JSON.stringify(items);
  if (text.length > 8192) check.fail(field, `must be at most 8192 characters as JSON, got ${text.length}`);
  return text;
}

function present(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
}
