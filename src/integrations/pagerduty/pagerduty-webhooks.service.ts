import { Injectable, Logger } from '@nestjs/common';
import secureJson from 'secure-json-parse';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode, FieldIssue, ValidationFailed } from '../../common/domain-error';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import { Transactor } from '../../database/transactor';
import { IncidentsService } from '../../incidents/incidents.service';
import { NotificationsService } from '../../notifications/notifications.service';
import { InboundReceipts } from '../inbound-receipts';
import { signedByAny, v1DigestsOf } from './pagerduty-signature';

/** An event that occurred longer ago than this is refused: its receipt may be gone, so it could be a replay. */
export const PAGERDUTY_WEBHOOK_MAX_AGE_MS = 24 * 3600_000;
/** Clocks differ a little: an event may say it occurred this far in the future. */
const MAX_AHEAD_MS = 5 * 60_000;
/** Receipts outlive the whole window in which an event is accepted, so no accepted event can come twice. */
const RECEIPT_KEEP_MS = PAGERDUTY_WEBHOOK_MAX_AGE_MS + MAX_AHEAD_MS;

/** The events that act on an incident here; every other type (pagey.ping included) is answered and ignored. */
const ACTED_ON = ['incident.acknowledged', 'incident.resolved', 'incident.reassigned'] as const;
type ActedOn = (typeof ACTED_ON)[number];

/** What the incident's state makes of the event: answered 200 with applied false, never retried by PagerDuty. */
const ALREADY_MOVED_ON: string[] = [ErrorCode.ALREADY_ACKNOWLEDGED, ErrorCode.ALREADY_RESOLVED, ErrorCode.INVALID_TRANSITION, ErrorCode.INCIDENT_NOT_FOUND];

/** The ids this service gives incidents (lower-case UUIDs): the dedup_key of every page but a custom one. */
const INCIDENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
/** A PagerDuty user's name as it goes into actor fields and the timeline. */
const NAME_MAX = 120;
const ASSIGNEES_MAX = 20;

export interface PagerDutyWebhookOutcome {
  event_id: string;
  event_type: string;
  /** The incident here that the PagerDuty incident's incident_key (the dedup_key this service sent) maps to, if any. */
  incident_id: string | null;
  /** Whether the event changed the incident here (acknowledged, resolved, or a reassignment written to its timeline). */
  applied: boolean;
  /** Why nothing was applied, or what was not (null when the event was applied as a whole). */
  reason: string | null;
}

interface Reference {
  id: string | null;
  summary: string | null;
}

interface WebhookEvent {
  id: string;
  event_type: string;
  occurred_at: string;
  agent: Reference | null;
  /** For the incident events acted on; null for the others, whose data is not read. */
  incident: {
    id: string | null;
    incident_key: string | null;
    html_url: string | null;
    assignees: Reference[];
    /** resolve_reason of type merge_resolve_reason: the incident it was merged into. */
    merged_into: Reference | null;
  } | null;
}

/**
 * PagerDuty's v3 webhooks (a webhook subscription): an engineer who acknowledges or resolves in
 * PagerDuty's app acknowledges or resolves the incident here. Each request is verified as
 * PagerDuty signs it (HMAC-SHA256 of the raw body with the subscription's secret, any configured
 * secret may match), is refused once its event id was seen or when the event is over a day old,
 * and is mapped back to an incident by the PagerDuty incident's `incident_key`: the dedup_key
 * this service sent with its page (the incident's id, or a custom page's own key).
 */
@Injectable()
export class PagerDutyWebhooksService {
  private readonly logger = new Logger('PagerDutyWebhooks');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly incidents: IncidentsService,
    private readonly notifications: NotificationsService,
    private readonly transactor: Transactor,
    private readonly receipts: InboundReceipts,
    private readonly clock: Clock,
  ) {}

  async handle(raw: string | undefined, signature: string | undefined): Promise<PagerDutyWebhookOutcome> {
    const secrets = this.config.secrets.pagerduty_webhook_secrets;
    if (secrets.length === 0) {
      throw new DomainError(
        ErrorCode.NOT_CONFIGURED,
        `PagerDuty webhooks are off: the environment variable ${this.config.integrations.pagerduty_webhook_secrets_env} is not set`,
      );
    }
    if (typeof raw !== 'string') throw new ValidationFailed([{ field: 'body', message: 'expected application/json, as PagerDuty sends it' }]);
    const found = v1DigestsOf(signature);
    if ('problem' in found) this.refuse(found.problem);
    else if (!signedByAny(raw, found.digests, secrets)) this.refuse('the signature does not match the body under any configured secret');
    const event = parseEvent(raw);
    const now = this.clock.now();
    const occurred = Date.parse(event.occurred_at);
    if (occurred < now.getTime() - PAGERDUTY_WEBHOOK_MAX_AGE_MS) this.refuse('the event occurred more than 24 hours ago', event.id);
    if (occurred > now.getTime() + MAX_AHEAD_MS) this.refuse('the event occurred more than 5 minutes in the future', event.id);
    if (!(await this.receipts.first('pagerduty_webhook', event.id, now, RECEIPT_KEEP_MS))) this.refuse('this event was already received (replay)', event.id);
    try {
      const outcome = await this.apply(event);
      this.logger.log({
        msg: 'PagerDuty webhook',
        event_id: event.id,
        event_type: event.event_type,
        incident_id: outcome.incident_id,
        applied: outcome.applied,
      });
      return outcome;
    } catch (err) {
      // Not applied for a fault here (the store down): PagerDuty retries a 5xx, and the retry must not count as a replay.
      await this.forgetReceipt(event.id);
      throw err;
    }
  }

  private refuse(reason: string, eventId?: string): never {
    this.logger.warn({ msg: 'PagerDuty webhook refused', reason, ...(eventId ? { event_id: eventId } : {}) });
    throw new DomainError(ErrorCode.UNAUTHENTICATED, `PagerDuty webhook refused: ${reason}`, { reason });
  }

  private async apply(event: WebhookEvent): Promise<PagerDutyWebhookOutcome> {
    const answer = (incident_id: string | null, applied: boolean, reason: string | null): PagerDutyWebhookOutcome => ({
      event_id: event.id,
      event_type: event.event_type,
      incident_id,
      applied,
      reason,
    });
    if (!event.incident) {
      return answer(
        null,
        false,
        event.event_type === 'pagey.ping' ? 'ping: the subscription reaches this service and its signature checks' : `${event.event_type} is not acted on`,
      );
    }
    const key = event.incident.incident_key;
    // PagerDuty incidents this service did not page are common on a shared subscription: 200, nothing to retry.
    if (key === null) return answer(null, false, 'the PagerDuty incident has no incident_key, so it was not paged by this service');
    const id = await this.incidentPagedWith(key);
    if (id === null) return answer(null, false, `no incident here was paged with the dedup_key ${JSON.stringify(key)}`);
    const who = nameOf(event.agent);
    const actor = who === null ? 'pagerduty' : `pagerduty:${who}`;
    try {
      switch (event.event_type as ActedOn) {
        case 'incident.acknowledged':
          await this.incidents.acknowledge(id, actor, 'from PagerDuty');
          return answer(id, true, null);
        case 'incident.resolved': {
          const merged = event.incident.merged_into;
          if (merged) {
            // Its alerts live on in the other PagerDuty incident: nothing was resolved, the timeline says where they went.
            const into = merged.summary ?? merged.id ?? 'another incident';
            await this.record(id, 'pagerduty_merged', actor, `Merged in PagerDuty into ${into} by ${actor}; not resolved here`, {
              pagerduty_incident: event.incident.id,
              merged_into: merged,
            });
            return answer(id, false, `merged into another PagerDuty incident (${into}): noted in the timeline, not resolved here`);
          }
          await this.incidents.resolve(
            id,
            { resolved_by: actor, method: 'Manual', notes: `Resolved in PagerDuty by ${who ?? 'PagerDuty'}`, root_cause: null },
            'from PagerDuty',
          );
          return answer(id, true, null);
        }
        case 'incident.reassigned': {
          const names = event.incident.assignees.map((a) => a.summary ?? a.id ?? 'someone');
          const to = names.length > 0 ? names.join(', ') : 'nobody';
          await this.record(id, 'pagerduty_reassigned', actor, `Reassigned in PagerDuty to ${to} by ${actor}`, {
            pagerduty_incident: event.incident.id,
            assignees: event.incident.assignees,
            ...(event.incident.html_url ? { html_url: event.incident.html_url } : {}),
          });
          return answer(id, true, null);
        }
      }
    } catch (err) {
      // PagerDuty sends back the acknowledgement and resolution this service forwarded: already done here, 200.
      if (!(err instanceof DomainError) || !ALREADY_MOVED_ON.includes(err.code)) throw err;
      return answer(id, false, err.message);
    }
  }

  /** A timeline entry on the incident, written under its lock. */
  private async record(id: string, eventType: string, actor: string, description: string, metadata: Record<string, unknown>): Promise<void> {
    await this.transactor.run(async (tx) => {
      if (!(await this.incidents.findWithin(tx, id))) throw new DomainError(ErrorCode.INCIDENT_NOT_FOUND, `incident ${id} not found`, { id });
      this.incidents.recordWithin(tx, id, eventType, actor, description, metadata);
    });
  }

  /**
   * The incident this service paged with `key` as the dedup_key: the incident's own id (every
   * page but a custom one), else the incident of the latest custom PagerDuty page that carried
   * that key, found in the payloads of its deliveries.
   */
  private async incidentPagedWith(key: string): Promise<string | null> {
    if (INCIDENT_ID.test(key)) {
      try {
        await this.incidents.assertExists(key);
        return key;
      } catch (err) {
        if (!(err instanceof DomainError) || err.code !== ErrorCode.INCIDENT_NOT_FOUND) throw err;
      }
    }
    return this.notifications.incidentOfCustomPage(key);
  }

  private forgetReceipt(eventId: string): Promise<void> {
    return this.receipts.forget('pagerduty_webhook', eventId);
  }
}

/** The v3 envelope, checked field by field: a 400 names every field that is wrong. */
function parseEvent(raw: string): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = secureJson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'remove' });
  } catch (err) {
    const reason = (err as Error).message;
    throw new DomainError(ErrorCode.MALFORMED_JSON, `request body is not valid JSON: ${reason}`, { fields: [{ field: 'body', message: reason }] });
  }
  const issues: FieldIssue[] = [];
  const root = asObject(parsed);
  const event = asObject(root?.event);
  if (!event) throw new ValidationFailed([{ field: 'event', message: 'must be an object: the v3 webhook envelope {"event": {...}}' }]);
  const text = (field: string, max: number): string => {
    const value = event[field];
    if (typeof value === 'string' && value.length > 0 && value.length <= max) return value;
    issues.push({ field: `event.${field}`, message: `must be a string of 1 to ${max} characters` });
    return '';
  };
  const id = text('id', 255);
  const event_type = text('event_type', 100);
  const occurred_at = text('occurred_at', 40);
  if (occurred_at && (!RFC3339.test(occurred_at) || Number.isNaN(Date.parse(occurred_at)))) {
    issues.push({ field: 'event.occurred_at', message: 'must be an ISO 8601 date-time with a zone, such as 2026-01-15T14:32:00.000Z' });
  }
  if (event.agent !== undefined && event.agent !== null && !asObject(event.agent)) issues.push({ field: 'event.agent', message: 'must be an object or null' });
  let incident: WebhookEvent['incident'] = null;
  if ((ACTED_ON as readonly string[]).includes(event_type)) {
    const data = asObject(event.data);
    if (!data) issues.push({ field: 'event.data', message: 'must be an object: the incident' });
    else {
      const key = data.incident_key;
      if (key !== undefined && key !== null && (typeof key !== 'string' || key.length > 255)) {
        issues.push({ field: 'event.data.incident_key', message: 'must be a string of at most 255 characters (the dedup_key), or null' });
      }
      if (data.assignees !== undefined && data.assignees !== null && (!Array.isArray(data.assignees) || data.assignees.some((a) => !asObject(a)))) {
        issues.push({ field: 'event.data.assignees', message: 'must be a list of user references' });
      }
      const reason = asObject(data.resolve_reason);
      incident = {
        id: stringOr(data.id),
        incident_key: typeof key === 'string' ? key : null,
        html_url: stringOr(data.html_url),
        assignees: Array.isArray(data.assignees) ? data.assignees.slice(0, ASSIGNEES_MAX).map((a) => referenceOf(a)) : [],
        merged_into: reason?.type === 'merge_resolve_reason' ? referenceOf(reason.incident) : null,
      };
    }
  }
  if (issues.length > 0) throw new ValidationFailed(issues);
  return { id, event_type, occurred_at, agent: event.agent ? referenceOf(event.agent) : null, incident };
}

function asObject(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function stringOr(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, 2048) : null;
}

function referenceOf(value: unknown): Reference {
  const ref = asObject(value);
  return { id: stringOr(ref?.id)?.slice(0, NAME_MAX) ?? null, summary: stringOr(ref?.summary)?.slice(0, NAME_MAX) ?? null };
}

/** Who did it in PagerDuty: the user's name (summary), else their id; null when PagerDuty names nobody. */
function nameOf(agent: Reference | null): string | null {
  return agent?.summary ?? agent?.id ?? null;
}
