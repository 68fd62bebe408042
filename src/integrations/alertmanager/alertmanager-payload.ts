import { createHash } from 'node:crypto';
import { isURL } from 'class-validator';
import { ValidationFailed } from '../../common/domain-error';
import type { AlertDto } from '../../alerts/dto/alert.dto';
import { MAX_ALERTS_PER_BATCH } from '../../alerts/dto/alert.dto';
import type { AlertMapping } from '../alert-mapping';
import { clip, PayloadChecks, storedTime } from '../payload-checks';

export type AlertmanagerIntegration = 'alertmanager' | 'grafana';

/** One alert of a notification, as the integration keeps it. */
export interface UpstreamAlert {
  status: 'firing' | 'resolved';
  /** Alertmanager's fingerprint (a hash of the label set), or one made the same way. */
  fingerprint: string;
  /** The alertname label, or the title, for the timeline. */
  name: string;
  starts_at: string;
  ends_at: string | null;
  /** The alert as this service's own, for a firing one. */
  alert: AlertDto;
}

/**
 * Checks an Alertmanager webhook notification (version 4; Grafana Alerting's webhook contact point
 * sends the same shape with more fields) and maps each of its alerts. Every problem is named as
 * `alerts[i].field`; one bad alert refuses the whole notification, since Alertmanager sends it
 * again whole.
 */
export function parseNotification(body: unknown, integration: AlertmanagerIntegration, mapping: AlertMapping): UpstreamAlert[] {
  const check = new PayloadChecks();
  if (!check.isObject(body)) throw new ValidationFailed([{ field: 'body', message: 'must be a JSON object (an Alertmanager webhook notification)' }]);
  const groupKey = check.string(body.groupKey, 'groupKey', { max: 16384 });
  const externalUrl = check.string(body.externalURL, 'externalURL', { max: 2048 });
  if (!Array.isArray(body.alerts)) {
    check.fail('alerts', body.alerts === undefined ? 'is required' : 'must be an array');
    throw new ValidationFailed(check.issues, 'notification rejected, nothing stored');
  }
  if (body.alerts.length > MAX_ALERTS_PER_BATCH) check.fail('alerts', `holds at most ${MAX_ALERTS_PER_BATCH} alerts, got ${body.alerts.length}`);
  // Without a group key each alert is its own incident (see dedup_key), titled on its own.
  const groupTitle = groupKey ? groupTitleOf(body, body.alerts) : undefined;
  const out: UpstreamAlert[] = [];
  body.alerts.forEach((raw: unknown, i: number) => {
    const at = `alerts[${i}]`;
    if (!check.isObject(raw)) return check.fail(at, 'must be an object');
    const status = raw.status;
    if (status !== 'firing' && status !== 'resolved') return check.fail(`${at}.status`, 'must be one of the following values: firing, resolved');
    const labels = check.stringMap(raw.labels, `${at}.labels`, { maxKeys: 64, maxLength: 1024 });
    const annotations = check.stringMap(raw.annotations, `${at}.annotations`, { maxKeys: 62, maxLength: 8192 });
    const startsAt = check.time(raw.startsAt, `${at}.startsAt`, true);
    const endsAt = check.time(raw.endsAt, `${at}.endsAt`, false);
    const generatorUrl = check.string(raw.generatorURL, `${at}.generatorURL`, { max: 8192 });
    const given = check.string(raw.fingerprint, `${at}.fingerprint`, { max: 128, nonEmpty: true });
    if (startsAt === undefined) return;
    const fingerprint = given ?? labelSetHash(labels);
    // The group is one incident: it is titled after the group when several of its alerts fire.
    const title = groupTitle ?? (annotations.summary?.trim() || labels.alertname?.trim() || `Alert from ${integration}`);
    const runbook = annotations.runbook_url ?? annotations.runbook;
    // The links back to the rule's graph and to the sender are kept with the annotations.
    const kept = { ...annotations, ...(generatorUrl ? { generatorURL: generatorUrl } : {}), ...(externalUrl ? { externalURL: externalUrl } : {}) };
    const alert: AlertDto = {
      source: integration,
      title: clip(title, 500),
      description: clip(annotations.description ?? annotations.message ?? '', 20000),
      severity: mapping.severityOf(labels),
      alert_type: mapping.typeOf(labels),
      // A repeat of the same firing (every repeat_interval) is the same alert; a new firing of the
      // same label set after it resolved has a new startsAt and is a new alert.
      external_id: clip(`${fingerprint}@${startsAt}`, 255),
      // Alerts of one Alertmanager group are one incident, as with Alertmanager's own PagerDuty
      // receiver, which keys PagerDuty's dedup_key on the group key.
      dedup_key: `group:${sha256(groupKey ?? fingerprint).slice(0, 40)}`,
      labels,
      affected_services: labels.service ? [clip(labels.service, 255)] : [],
      annotations: kept,
      ...(runbook && runbook.length <= 2048 && isURL(runbook, { require_protocol: true, require_tld: false }) ? { runbook_url: runbook } : {}),
    };
    out.push({
      status,
      fingerprint,
      name: clip(labels.alertname ?? title, 500),
      starts_at: storedTime(startsAt),
      // Alertmanager writes the zero time for "not ended".
      ends_at: endsAt && !endsAt.startsWith('0001-') ? storedTime(endsAt) : null,
      alert,
    });
  });
  if (check.issues.length > 0) throw new ValidationFailed(check.issues, 'notification rejected, nothing stored');
  return out;
}

/**
 * The title of a group of several firing alerts: the summary they share, else their alert name
 * and how many fire ("NodeNotReady (2 alerts)"), instead of the first alert's own summary
 * ("Node node-a not ready" while node-b fires too). Undefined for a group of one.
 */
function groupTitleOf(body: Record<string, unknown>, alerts: unknown[]): string | undefined {
  const firing = alerts.filter((a) => (a as { status?: unknown } | null)?.status === 'firing').length;
  if (firing < 2) return undefined;
  const text = (map: unknown, key: string): string | undefined => {
    const value = map !== null && typeof map === 'object' ? (map as Record<string, unknown>)[key] : undefined;
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const summary = text(body.commonAnnotations, 'summary');
  if (summary) return summary;
  const name = text(body.commonLabels, 'alertname') ?? text(body.groupLabels, 'alertname');
  return name ? `${name} (${firing} alerts)` : undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Senders that leave the fingerprint out: a hash of the sorted label set, as Alertmanager's is. */
function labelSetHash(labels: Record<string, string>): string {
  return sha256(JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))).slice(0, 16);
}
