import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { Tx } from '../database/transactor';
import type { Incident } from '../incidents/domain/incident';
import { IncidentEvent, IncidentEventName, IncidentUpdatedEvent } from '../incidents/domain/events';
import { DeliveryRepository, NewDeliveryRow } from './delivery.repository';
import { Channel, DeliveryAction, priorityOf } from './notification';
import { emailMessage, emailSubject } from './channels/email/email.render';
import { pagerdutyEvent } from './channels/pagerduty/pagerduty.render';
import { slackMessage } from './channels/slack/slack.render';
import { webhookBody } from './channels/webhook/webhook.render';
import { headline } from './render';

/** The configured PagerDuty integration, as a target (the routing key itself is never stored). */
export const PAGERDUTY_DEFAULT_TARGET = 'integration';

/** A claim written with the rows: the pool that owns them and until when. */
export interface DeliveryLease {
  owner: string;
  until: string;
}

/** One delivery to write: the channel, what it does, where, and the rendered payload. */
export interface PlannedDelivery {
  channel: Channel;
  action: DeliveryAction;
  target: string;
  target_ref?: string | null;
  /** Rendered with the delivery's id (the webhook body carries it as notification_id). */
  render: (notificationId: string) => unknown;
}

/** A URL as it may be shown: scheme, host and a short hash of the rest (paths often hold tokens). */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = `${parsed.pathname}${parsed.search}`;
    return rest === '/' || rest === '' ? parsed.origin : `${parsed.origin}/…#${shortHash(url)}`;
  } catch {
    return `invalid-url#${shortHash(url)}`;
  }
}

export function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/**
 * Decides which event notifies whom (the table in the README) and writes the outbox rows in
 * the incident's own transaction, rendered from the incident as the event left it.
 */
@Injectable()
export class NotificationRouter {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly deliveries: DeliveryRepository,
  ) {}

  /**
   * Writes the deliveries an event calls for into its transaction. `lease`, when given, writes
   * them already claimed by this process (see DeliveryWorkerPool.leaseForNew); the caller hands
   * them to the pool once the transaction has committed.
   */
  async route(tx: Tx, event: IncidentEvent, lease: (priority: number, count: number) => DeliveryLease | null): Promise<NewDeliveryRow[]> {
    const planned = await this.plan(tx, event);
    if (planned.length === 0) return [];
    const first = event.name === IncidentEventName.Detected;
    // A new incident has no earlier deliveries to wait for: they may go straight to the pool.
    const direct = first ? lease(Math.min(...planned.map((p) => priorityOf(p.channel, event.incident.severity, first))), planned.length) : null;
    return this.write(tx, event.incident, event.name, event.occurred_at, planned, { lease: direct, first });
  }

  /**
   * Writes planned deliveries into the transaction; answers the rows in order. `first`: the
   * incident's first notification (or one a person asked for), which goes before follow-ups.
   */
  write(
    tx: Tx,
    incident: Pick<Incident, 'id' | 'severity'>,
    eventName: string,
    at: string,
    planned: PlannedDelivery[],
    { lease = null, first }: { lease?: DeliveryLease | null; first: boolean },
  ): NewDeliveryRow[] {
    const maxAttempts = 1 + this.config.notifications.max_retries;
    const rows: NewDeliveryRow[] = planned.map((p) => {
      const id = newId();
      return {
        id,
        incident_id: incident.id,
        event: eventName,
        channel: p.channel,
        action: p.action,
        target: p.target,
        target_ref: p.target_ref ?? null,
        payload: JSON.stringify(p.render(id)),
        status: lease ? 'sending' : 'pending',
        attempts: 0,
        max_attempts: maxAttempts,
        next_attempt_at: at,
        lease_owner: lease?.owner ?? null,
        lease_until: lease?.until ?? null,
        last_error: null,
        external_ref: null,
        created_at: at,
        updated_at: at,
        sent_at: null,
        priority: priorityOf(p.channel, incident.severity, first),
      };
    });
    this.deliveries.add(tx, rows);
    return rows;
  }

  private async plan(tx: Tx, event: IncidentEvent): Promise<PlannedDelivery[]> {
    const n = this.config.notifications;
    const incident = event.incident;
    const at = event.occurred_at;
    const out: PlannedDelivery[] = [];
    const webhook = (): void => {
      if (n.webhook_enabled) out.push(this.webhook(event.name, at, incident));
    };
    switch (event.name) {
      case IncidentEventName.Detected:
        if (n.slack_enabled) out.push(this.slack('post', event.name, incident));
        if (n.pagerduty_enabled && isPageable(incident)) out.push(this.pagerduty('trigger', incident, at));
        if (n.email_enabled && n.email_to.length > 0) out.push(this.email(event.name, incident));
        webhook();
        break;
      case IncidentEventName.Triaged:
        webhook();
        break;
      case IncidentEventName.Investigating:
      case IncidentEventName.Remediating:
        if (n.pagerduty_enabled && (await this.triggered(tx, incident.id)) && !(await this.has(tx, incident.id, 'acknowledge'))) {
          out.push(this.pagerduty('acknowledge', incident, at));
        }
        webhook();
        break;
      case IncidentEventName.Resolved:
        if (n.slack_enabled) out.push(this.slack('resolve_update', event.name, incident));
        if (n.pagerduty_enabled && (await this.triggered(tx, incident.id))) out.push(this.pagerduty('resolve', incident, at));
        if (n.email_enabled && n.email_to.length > 0) out.push(this.email(event.name, incident));
        webhook();
        break;
      case IncidentEventName.Closed:
        webhook();
        break;
      case IncidentEventName.Updated: {
        // Only a raise into P0/P1 of an open incident that was never paged notifies anyone.
        const changes = (event as IncidentUpdatedEvent).changes;
        const open = incident.state !== 'Resolved' && incident.state !== 'Closed';
        if (changes.severity && open && n.pagerduty_enabled && isPageable(incident) && !(await this.triggered(tx, incident.id))) {
          out.push(this.pagerduty('trigger', incident, at));
        }
        break;
      }
    }
    return out;
  }

  /** Triggered on PagerDuty: a trigger was sent or is on its way (not given up). */
  private triggered(tx: Tx, incidentId: string): Promise<boolean> {
    return this.deliveries.hasDelivery(tx, incidentId, 'pagerduty', PAGERDUTY_DEFAULT_TARGET, 'trigger', ['failed', 'cancelled']);
  }

  private has(tx: Tx, incidentId: string, action: DeliveryAction): Promise<boolean> {
    return this.deliveries.hasDelivery(tx, incidentId, 'pagerduty', PAGERDUTY_DEFAULT_TARGET, action);
  }

  slack(action: DeliveryAction, eventName: string, incident: Incident, channel?: string, message?: string): PlannedDelivery {
    const text = message ?? headline(eventName, incident);
    return {
      channel: 'slack',
      action,
      target: channel ?? this.config.notifications.slack_default_channel,
      render: () => slackMessage(incident, text),
    };
  }

  pagerduty(
    action: 'trigger' | 'acknowledge' | 'resolve',
    incident: Incident,
    at: string,
    custom?: { serviceKey: string; dedupKey: string; summary: string },
  ): PlannedDelivery {
    return {
      channel: 'pagerduty',
      action,
      target: custom ? `service-key#${shortHash(custom.serviceKey)}` : PAGERDUTY_DEFAULT_TARGET,
      target_ref: custom?.serviceKey ?? null,
      render: () => pagerdutyEvent(action, incident, at, custom ? { dedupKey: custom.dedupKey, summary: custom.summary } : {}),
    };
  }

  email(eventName: string, incident: Incident, custom?: { to: string[]; subject: string; body: string }): PlannedDelivery {
    const to = custom?.to ?? [...this.config.notifications.email_to];
    return {
      channel: 'email',
      action: 'send',
      target: emailTarget(to),
      render: () => emailMessage(incident, to, custom?.subject ?? emailSubject(eventName, incident), custom?.body ?? headline(eventName, incident)),
    };
  }

  webhook(eventName: string, at: string, incident: Incident, custom?: { url: string; payload: unknown }): PlannedDelivery {
    const url = custom?.url ?? this.config.notifications.default_webhook_url;
    return {
      channel: 'webhook',
      action: 'send',
      target: displayUrl(url),
      target_ref: custom ? url : null,
      render: (id) => (custom ? custom.payload : webhookBody(eventName, at, incident, id)),
    };
  }
}

/** The recipients as a target: in full when short, else the first, a count and a hash (the target is indexed). */
function emailTarget(to: string[]): string {
  const all = to.join(', ');
  return all.length <= 200 ? all : `${to[0]}, … (${to.length} recipients) #${shortHash(all)}`;
}

function isPageable(incident: Incident): boolean {
  return incident.severity === 'P0' || incident.severity === 'P1';
}
