import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import { displayUrl, shortHash } from '../common/display-url';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { Tx } from '../database/transactor';
import type { Incident } from '../incidents/domain/incident';
import { IncidentEvent, IncidentEventName, IncidentStateEvent, IncidentUpdatedEvent } from '../incidents/domain/events';
import { DEFAULT_PAGERDUTY_TARGET, DEFAULT_TEAMS_TARGET, Receiver } from '../routing/routing-config';
import { RoutingService, subjectOf } from '../routing/routing.service';
import type { LiveSilence } from '../silences/silence';
import { SilencesService } from '../silences/silences.service';
import { DeliveryRepository, NewDeliveryRow } from './delivery.repository';
import { DeliveryHistoryRepository, PagerDutyPage } from './delivery-history.repository';
import { Channel, DeliveryAction, priorityOf } from './notification';
import { emailMessage, emailSubject } from './channels/email/email.render';
import { pagerdutyEvent } from './channels/pagerduty/pagerduty.render';
import { slackMessage } from './channels/slack/slack.render';
import { TeamsCardKind, teamsCardKind, teamsMessage } from './channels/teams/teams.render';
import { webhookBody } from './channels/webhook/webhook.render';
import { headline, incidentLink } from './render';

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
  /** The route and receiver that called for it; none for a custom or test notification. */
  route?: string | null;
  receiver?: string | null;
}

/** A receiver an incident's routes reached, and the first route that reached it. */
export interface RoutedReceiver {
  route: string;
  receiver: Receiver;
}

/** Planned deliveries, each (channel, target, action) once: two routes reaching one channel send one message. */
export class PlanSet {
  readonly planned: PlannedDelivery[] = [];
  private readonly keys = new Set<string>();

  add(delivery: PlannedDelivery, route: string | null, receiver: string | null): void {
    const key = `${delivery.channel}\u0000${delivery.target}\u0000${delivery.action}`;
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.planned.push({ ...delivery, route, receiver });
  }
}

/** What an event's routing wrote: the rows, and the silence that suppressed them, if one did. */
export interface RoutedWrite {
  rows: NewDeliveryRow[];
  silence: LiveSilence | null;
}

/**
 * Decides which event notifies whom (the table in docs/notifications.md) and writes the outbox rows in
 * the incident's own transaction, rendered from the incident as the event left it.
 */
@Injectable()
export class NotificationRouter {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly deliveries: DeliveryRepository,
    private readonly history: DeliveryHistoryRepository,
    private readonly routing: RoutingService,
    private readonly silences: SilencesService,
  ) {}

  /**
   * Writes the deliveries an event calls for into its transaction. `lease`, when given, writes
   * them already claimed by this process (see DeliveryWorkerPool.leaseForNew); the caller hands
   * them to the pool once the transaction has committed.
   */
  async route(tx: Tx, event: IncidentEvent, lease: (priority: number, count: number) => DeliveryLease | null): Promise<RoutedWrite> {
    const planned = await this.plan(tx, event);
    if (planned.length === 0) return { rows: [], silence: null };
    const silence = await this.silences.matchingWithin(tx, subjectOf(event.incident), event.occurred_at);
    const first = event.name === IncidentEventName.Detected;
    // A new incident has no earlier deliveries to wait for: they may go straight to the pool.
    const direct = first && !silence ? lease(Math.min(...planned.map((p) => priorityOf(p.channel, event.incident.severity, first))), planned.length) : null;
    return { rows: this.write(tx, event.incident, event.name, event.occurred_at, planned, { lease: direct, first, silence }), silence };
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
    { lease = null, first, silence = null }: { lease?: DeliveryLease | null; first: boolean; silence?: LiveSilence | null },
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
        // Suppressed rows are the record of what a silence kept back: never claimed, never sent.
        status: silence ? 'suppressed' : lease ? 'sending' : 'pending',
        attempts: 0,
        max_attempts: maxAttempts,
        next_attempt_at: at,
        lease_owner: lease?.owner ?? null,
        lease_until: lease?.until ?? null,
        last_error: silence ? `suppressed by silence ${silence.id}` : null,
        external_ref: null,
        created_at: at,
        updated_at: at,
        sent_at: null,
        priority: priorityOf(p.channel, incident.severity, first),
        route: p.route ?? null,
        receiver: p.receiver ?? null,
        silence_id: silence?.id ?? null,
      };
    });
    this.deliveries.add(tx, rows);
    return rows;
  }

  private async plan(tx: Tx, event: IncidentEvent): Promise<PlannedDelivery[]> {
    const incident = event.incident;
    const at = event.occurred_at;
    const routed = this.routedReceivers(incident);
    const out = new PlanSet();
    const webhooks = (): void => {
      for (const { route, receiver } of routed)
        for (const url of receiver.webhook_urls) out.add(this.webhook(event.name, at, incident, undefined, url), route, receiver.name);
    };
    switch (event.name) {
      case IncidentEventName.Detected:
        this.firstNotification(out, routed, incident, event.name, at);
        break;
      case IncidentEventName.Triaged:
      case IncidentEventName.Investigating:
      case IncidentEventName.Remediating: {
        const previous = (event as IncidentStateEvent).previous_state;
        if (previous === 'Resolved') await this.reopened(tx, out, routed, incident, at, event.actor);
        else {
          await this.acknowledgePages(tx, out, incident, at);
          if (previous === 'Detected') {
            const text = `Acknowledged by ${incident.acknowledged_by ?? event.actor}`;
            await this.updateSlack(tx, out, incident, text);
            await this.teamsCards(tx, out, routed, incident, 'acknowledged', text);
          }
        }
        webhooks();
        break;
      }
      case IncidentEventName.Resolved: {
        const slackTargets = new Set([...routed.flatMap((r) => r.receiver.slack_channels), ...(await this.history.postedSlackTargets(tx, incident.id))]);
        for (const channel of slackTargets) out.add(this.slack('resolve_update', event.name, incident, channel), ...this.origin(routed, channel));
        for (const [target, page] of await this.history.pagerdutyPages(tx, incident.id)) {
          if (page.last === 'trigger' || page.last === 'acknowledge') out.add(this.page('resolve', incident, at, target, page), page.route, page.receiver);
        }
        for (const { route, receiver } of routed)
          if (receiver.email_to.length > 0) out.add(this.email(event.name, incident, undefined, receiver.email_to), route, receiver.name);
        await this.teamsCards(tx, out, routed, incident, 'resolved', headline(event.name, incident));
        webhooks();
        break;
      }
      case IncidentEventName.Closed:
        webhooks();
        break;
      case IncidentEventName.Updated: {
        const changes = (event as IncidentUpdatedEvent).changes;
        if (changes.acknowledged_at) {
          await this.acknowledgePages(tx, out, incident, at);
          await this.updateSlack(tx, out, incident, `Acknowledged by ${event.actor}`);
          await this.teamsCards(tx, out, routed, incident, 'acknowledged', `Acknowledged by ${event.actor}`);
        }
        // A raise into P0/P1 of an open incident pages the integrations that were not paged.
        const open = incident.state !== 'Resolved' && incident.state !== 'Closed';
        if (changes.severity && open && isPageable(incident)) {
          const pages = await this.history.pagerdutyPages(tx, incident.id);
          for (const { route, receiver } of routed) {
            for (const pd of receiver.pagerduty) {
              const last = pages.get(pd.target)?.last;
              if (last !== 'trigger' && last !== 'acknowledge') out.add(this.pagerduty('trigger', incident, at, undefined, pd.target), route, receiver.name);
            }
          }
        }
        break;
      }
    }
    return out.planned;
  }

  /** The receivers the incident's routes reach, each once (the first route that reached it is recorded). */
  routedReceivers(incident: Incident): RoutedReceiver[] {
    const seen = new Set<string>();
    const out: RoutedReceiver[] = [];
    for (const match of this.routing.route(subjectOf(incident)).matches) {
      if (seen.has(match.receiver)) continue;
      seen.add(match.receiver);
      const receiver = this.routing.receiver(match.receiver);
      if (receiver) out.push({ route: match.route.id, receiver });
    }
    return out;
  }

  /**
   * What a receiver is sent when it first hears of an incident: a Slack post per channel, a page
   * per PagerDuty integration (P0/P1 only), one email, one webhook per URL, a Teams card per Workflows webhook.
   * Also used by escalation steps, repeats and a silence's end.
   */
  firstNotification(
    out: PlanSet,
    routed: RoutedReceiver[],
    incident: Incident,
    eventName: string,
    at: string,
    options: { text?: string; posted?: ReadonlySet<string>; page?: boolean } = {},
  ): void {
    const posted = options.posted ?? new Set<string>();
    for (const { route, receiver } of routed) {
      for (const channel of receiver.slack_channels) {
        out.add(this.slack(posted.has(channel) ? 'message' : 'post', eventName, incident, channel, options.text), route, receiver.name);
      }
      if (options.page !== false && isPageable(incident)) {
        for (const pd of receiver.pagerduty) out.add(this.pagerduty('trigger', incident, at, undefined, pd.target), route, receiver.name);
      }
      if (receiver.email_to.length > 0) {
        const custom = options.text ? { to: receiver.email_to, subject: emailSubject(eventName, incident), body: options.text } : undefined;
        out.add(this.email(eventName, incident, custom, receiver.email_to), route, receiver.name);
      }
      for (const url of receiver.webhook_urls) out.add(this.webhook(eventName, at, incident, undefined, url), route, receiver.name);
      for (const teams of receiver.teams) {
        out.add(this.teams(teamsCardKind(eventName), incident, options.text ?? headline(eventName, incident), teams.target), route, receiver.name);
      }
    }
  }

  /**
   * A Workflows webhook cannot edit the card it posted: a state change (acknowledged, reopened,
   * resolved) posts a new card to the Teams webhooks of the receivers the incident's routes reach,
   * and to every other Teams webhook the incident was posted to.
   */
  private async teamsCards(tx: Tx, out: PlanSet, routed: RoutedReceiver[], incident: Incident, kind: TeamsCardKind, text: string): Promise<void> {
    for (const { route, receiver } of routed) for (const teams of receiver.teams) out.add(this.teams(kind, incident, text, teams.target), route, receiver.name);
    // Webhooks an escalation step or a repeat posted to (not among the routes' own) hear of it too.
    // Looked up only when Teams is on: every acknowledgement and resolution passes here.
    if (!this.config.notifications.teams_enabled) return;
    for (const target of await this.history.postedTargets(tx, incident.id, 'teams')) out.add(this.teams(kind, incident, text, target), null, null);
  }

  /** PagerDuty acknowledge for every page (automatic or custom) whose last event was a trigger. */
  private async acknowledgePages(tx: Tx, out: PlanSet, incident: Incident, at: string): Promise<void> {
    for (const [target, page] of await this.history.pagerdutyPages(tx, incident.id)) {
      if (page.last === 'trigger') out.add(this.page('acknowledge', incident, at, target, page), page.route, page.receiver);
    }
  }

  /** Edits the incident's Slack messages (and replies in their threads) to show a change, such as who acknowledged it. */
  private async updateSlack(tx: Tx, out: PlanSet, incident: Incident, text: string): Promise<void> {
    for (const channel of await this.history.postedSlackTargets(tx, incident.id))
      out.add(this.slack('status_update', 'incident.updated', incident, channel, text), null, null);
  }

  /** Reopened: every page resolved before is triggered again with its dedup_key; Slack says so. */
  private async reopened(tx: Tx, out: PlanSet, routed: RoutedReceiver[], incident: Incident, at: string, actor: string): Promise<void> {
    for (const [target, page] of await this.history.pagerdutyPages(tx, incident.id)) {
      if (page.last === 'resolve') out.add(this.page('trigger', incident, at, target, page), page.route, page.receiver);
    }
    const text = `Reopened by ${actor}: now ${incident.state}`;
    for (const channel of await this.history.postedSlackTargets(tx, incident.id)) {
      out.add(this.slack('status_update', 'incident.reopened', incident, channel, text), ...this.origin(routed, channel));
    }
    await this.teamsCards(tx, out, routed, incident, 'reopened', text);
  }

  /** The route and receiver that hold a Slack channel, for the record. */
  private origin(routed: RoutedReceiver[], channel: string): [string | null, string | null] {
    const found = routed.find((r) => r.receiver.slack_channels.includes(channel));
    return found ? [found.route, found.receiver.name] : [null, null];
  }

  /** A follow-up event of an earlier page, to the same integration, with its dedup_key (and summary, for a trigger). */
  private page(action: 'trigger' | 'acknowledge' | 'resolve', incident: Incident, at: string, target: string, page: PagerDutyPage): PlannedDelivery {
    return {
      channel: 'pagerduty',
      action,
      target,
      target_ref: page.target_ref,
      render: () => pagerdutyEvent(action, incident, at, { dedupKey: page.dedup_key, summary: page.summary ?? undefined, link: this.linkTo(incident) }),
    };
  }

  /** The incident in the console, for the messages to link to (server.public_url). */
  linkTo(incident: Incident): string | undefined {
    return incidentLink(this.config.server.public_url, incident.id);
  }

  slack(action: DeliveryAction, eventName: string, incident: Incident, channel?: string, message?: string): PlannedDelivery {
    const text = message ?? headline(eventName, incident);
    // Buttons only where a click can come back: a bot token posts them, the signing secret verifies the click.
    const interactive = Boolean(this.config.secrets.slack_bot_token && this.config.secrets.slack_signing_secret);
    return {
      channel: 'slack',
      action,
      target: channel ?? this.config.notifications.slack_default_channel,
      render: () => slackMessage(incident, text, { interactive, link: this.linkTo(incident) }),
    };
  }

  /**
   * A PagerDuty event. `target`: `integration` (the key in pagerduty_integration_key_env) or `env:<VARIABLE>` (a
   * receiver's); `custom`: a page asked for through the API, with its own service key.
   */
  pagerduty(
    action: 'trigger' | 'acknowledge' | 'resolve',
    incident: Incident,
    at: string,
    custom?: { serviceKey: string; dedupKey: string; summary: string },
    target: string = DEFAULT_PAGERDUTY_TARGET,
  ): PlannedDelivery {
    return {
      channel: 'pagerduty',
      action,
      target: custom ? `service-key#${shortHash(custom.serviceKey)}` : target,
      target_ref: custom?.serviceKey ?? null,
      render: () =>
        pagerdutyEvent(action, incident, at, { ...(custom ? { dedupKey: custom.dedupKey, summary: custom.summary } : {}), link: this.linkTo(incident) }),
    };
  }

  email(eventName: string, incident: Incident, custom?: { to: string[]; subject: string; body: string }, recipients?: readonly string[]): PlannedDelivery {
    const to = custom?.to ?? [...(recipients ?? this.config.notifications.email_to)];
    return {
      channel: 'email',
      action: 'send',
      target: emailTarget(to),
      render: () =>
        emailMessage(incident, to, custom?.subject ?? emailSubject(eventName, incident), custom?.body ?? headline(eventName, incident), this.linkTo(incident)),
    };
  }

  /** `custom`: a webhook asked for through the API (its URL goes through the outbound policy); `configured`: a receiver's URL. */
  webhook(eventName: string, at: string, incident: Incident, custom?: { url: string; payload: unknown }, configured?: string): PlannedDelivery {
    const url = custom?.url ?? configured ?? this.config.notifications.default_webhook_url;
    return {
      channel: 'webhook',
      action: 'send',
      target: displayUrl(url),
      target_ref: url === this.config.notifications.default_webhook_url && !custom ? null : url,
      render: (id) => (custom ? custom.payload : webhookBody(eventName, at, incident, id, this.linkTo(incident))),
    };
  }

  /** A Teams card to a Workflows webhook; the target names where its URL is (`default` or `env:<VARIABLE>`), never the URL. */
  teams(kind: TeamsCardKind, incident: Incident, text: string, target: string = DEFAULT_TEAMS_TARGET): PlannedDelivery {
    return { channel: 'teams', action: 'send', target, render: () => teamsMessage(incident, kind, text, { link: this.linkTo(incident) }) };
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
