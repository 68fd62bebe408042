import { Inject, Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode, FieldIssue, ValidationFailed } from '../common/domain-error';
import { newId } from '../common/ids';
import { OutboundPolicy } from '../common/outbound/outbound-policy';
import { toValidDto } from '../common/validation';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { Transactor } from '../database/transactor';
import type { Incident } from '../incidents/domain/incident';
import { IncidentEvent, IncidentEventName } from '../incidents/domain/events';
import { INCIDENT_CHANGE_IN_TRANSACTION, IncidentChangeInTransaction, OnCommittedIncidentEvent } from '../incidents/incident-change.event';
import { IncidentsService } from '../incidents/incidents.service';
import { DeliveryFigures, MetricsService } from '../metrics/metrics.service';
import { CHANNEL_PROVIDERS, ChannelProvider } from './channels/channel-provider';
import { DeliveryRepository, NewDeliveryRow, toDelivery } from './delivery.repository';
import { DeliveryClaimsRepository } from './delivery-claims.repository';
import { DeliveryHistoryRepository } from './delivery-history.repository';
import { DeliveryPolicy } from './delivery-policy';
import { DeliveryWorkerPool } from './delivery-worker-pool';
import { EscalationService } from './escalation/escalation.service';
import { hideAckTokens } from './escalation/ack-links';
import { maskedTopic } from '../people/person';
import { CHANNEL_DTOS, ChannelDto, CustomNotificationDto } from './dto/notification.dto';
import { Channel, CUSTOM_EVENT, Delivery, ReceiverChannel, shownTarget } from './notification';
import { NotificationRouter, PlannedDelivery } from './notification-router';
import { pagerdutyEvent } from './channels/pagerduty/pagerduty.render';
import { slackMessage } from './channels/slack/slack.render';
import { webhookBody } from './channels/webhook/webhook.render';

export interface DeliveryRecord extends Omit<Delivery, 'id' | 'seq' | 'target_ref' | 'external_ref' | 'payload'> {
  notification_id: string;
  payload: unknown;
}

export interface TestOutcome {
  channel: Channel;
  target: string;
  delivered: boolean;
  outcome: 'delivered' | 'retry' | 'permanent';
  error: string | null;
}

/** What the API shows of a delivery: never the credential-bearing target or Slack internals. */
export function deliveryRecord(d: Delivery): DeliveryRecord {
  return {
    notification_id: d.id,
    incident_id: d.incident_id,
    event: d.event,
    channel: d.channel,
    action: d.action,
    // A push's target is the person's ntfy topic: shown cut, as in the user's own record.
    target: shownTarget(d.channel, d.target),
    status: d.status,
    attempts: d.attempts,
    max_attempts: d.max_attempts,
    next_attempt_at: d.next_attempt_at,
    last_error: d.last_error,
    created_at: d.created_at,
    updated_at: d.updated_at,
    sent_at: d.sent_at,
    priority: d.priority,
    route: d.route,
    receiver: d.receiver,
    silence_id: d.silence_id,
    payload: shownPayload(d),
  };
}

/** The stored message as answers show it: no acknowledgement token, and a push's topic cut. */
function shownPayload(d: Delivery): unknown {
  const payload = JSON.parse(hideAckTokens(d.payload)) as Record<string, unknown>;
  if (d.channel === 'ntfy' && typeof payload.topic === 'string') payload.topic = maskedTopic(payload.topic);
  return payload;
}

@Injectable()
export class NotificationsService {
  /** Rows written for an event, until it commits (a rolled-back event is never emitted, and its entry goes with it). */
  private readonly written = new WeakMap<IncidentEvent, { rows: NewDeliveryRow[]; leased: boolean; wake: boolean }>();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly incidents: IncidentsService,
    private readonly router: NotificationRouter,
    private readonly deliveries: DeliveryRepository,
    private readonly claims: DeliveryClaimsRepository,
    private readonly history: DeliveryHistoryRepository,
    private readonly policy: DeliveryPolicy,
    private readonly pool: DeliveryWorkerPool,
    private readonly transactor: Transactor,
    private readonly clock: Clock,
    private readonly outbound: OutboundPolicy,
    @Inject(CHANNEL_PROVIDERS) private readonly providers: ChannelProvider[],
    private readonly metrics: MetricsService,
    private readonly escalation: EscalationService,
  ) {
    metrics.provide({ deliveries: () => this.deliveryFigures() });
    escalation.wake = (incidentIds) => this.pool.wake(incidentIds);
  }

  /** The outbox: deliveries are written in the transaction of the incident change itself. */
  @OnEvent(INCIDENT_CHANGE_IN_TRANSACTION, { suppressErrors: false })
  async writeOutbox({ tx, event }: IncidentChangeInTransaction): Promise<void> {
    let leased = false;
    const { rows, silence } = await this.router.route(tx, event, (priority, count) => {
      const lease = this.pool.leaseForNew(priority, count);
      leased = lease !== null;
      return lease;
    });
    const paged = await this.escalation.onEvent(tx, event, silence !== null && event.name === IncidentEventName.Detected);
    if (silence) {
      this.metrics.deliveriesSuppressed(rows);
      this.incidents.recordWithin(
        tx,
        event.incident.id,
        'notifications_suppressed',
        'system',
        `${rows.length} notification(s) of ${event.name} suppressed by silence ${silence.id}: ${silence.comment}`,
        {
          silence_id: silence.id,
          event: event.name,
          deliveries: rows.length,
        },
      );
      return;
    }
    // People's deliveries are not leased: the pool is woken to claim them.
    if (rows.length > 0 || paged) this.written.set(event, { rows, leased, wake: paged });
  }

  /** Once the change has committed, its deliveries go to the pool (or the pool is woken to claim them). */
  @OnCommittedIncidentEvent()
  wakePool(event: IncidentEvent): void {
    const written = this.written.get(event);
    if (!written) return;
    this.written.delete(event);
    if (written.leased) this.pool.adopt(written.rows.map(toDelivery));
    if (!written.leased || written.wake) this.pool.wake([event.incident.id]);
  }

  /** The incident a custom PagerDuty page with this dedup_key was for (PagerDuty's webhooks name pages by it). */
  incidentOfCustomPage(dedupKey: string): Promise<string | null> {
    return this.history.incidentOfCustomPage(dedupKey);
  }

  async listForIncident(incidentId: string): Promise<DeliveryRecord[]> {
    await this.incidents.assertExists(incidentId);
    return (await this.deliveries.listForIncident(incidentId)).map(deliveryRecord);
  }

  async deadLetters(page: number, pageSize: number): Promise<{ items: DeliveryRecord[]; total: number; page: number; page_size: number }> {
    const { items, total } = await this.deliveries.listFailed(pageSize, (page - 1) * pageSize);
    return { items: items.map(deliveryRecord), total, page, page_size: pageSize };
  }

  /** A custom notification: explicit channels and a message, for one incident. */
  async notify(incidentId: string, request: CustomNotificationDto): Promise<string[]> {
    const channels = request.channels.map((plain, i) => this.validChannel(plain, `channels[${i}]`));
    const { notes: _notes, timeline: _timeline, ...incident } = await this.incidents.get(incidentId);
    await this.assertReachable(channels);
    const at = this.clock.now().toISOString();
    const planned = channels.map((channel) => this.plan(channel, incident, request.message, at));
    return this.transactor.run(async (tx) => {
      const rows = this.router.write(tx, incident, CUSTOM_EVENT, at, planned, { first: true });
      // PagerDuty's webhooks name a page by its dedup_key: a custom page's own key is remembered.
      for (const channel of channels)
        if (channel.type === 'pagerduty') await this.history.rememberCustomPage(tx, channel.incident_key ?? incident.id, incident.id, at);
      tx.afterCommit(() => this.pool.wake([incidentId]));
      return rows.map((row) => row.id);
    });
  }

  async retry(id: string): Promise<DeliveryRecord> {
    const existing = await this.deliveries.findById(id);
    if (!existing) throw new DomainError(ErrorCode.NOTIFICATION_NOT_FOUND, `notification ${id} not found`, { id });
    const outcome = await this.policy.redrive(id, this.clock.now().toISOString());
    if ('refused' in outcome) {
      const message =
        outcome.refused === 'status'
          ? `notification ${id} is ${outcome.status}; only failed or cancelled notifications can be retried`
          : `a later notification of this incident to the same target was already sent; sending ${id} now would deliver it out of order`;
      throw new DomainError(ErrorCode.NOT_RETRYABLE, message, { id, status: outcome.status, reason: outcome.refused });
    }
    this.pool.wake([outcome.delivery.incident_id]);
    return deliveryRecord(outcome.delivery);
  }

  async stats(): Promise<object> {
    const n = this.config.notifications;
    const state = this.pool.state();
    const counts = await this.deliveries.countsByChannel();
    const channels: Record<string, object> = {};
    let pending = 0;
    for (const provider of this.providers) {
      const { oldest_waiting_at: _oldest, ...c } = counts.get(provider.channel) ?? {
        pending: 0,
        sending: 0,
        sent: 0,
        failed: 0,
        cancelled: 0,
        suppressed: 0,
        retried: 0,
        oldest_waiting_at: null,
      };
      pending += c.pending;
      channels[provider.channel] = { ...provider.readiness(), ...c };
    }
    return {
      slack_enabled: n.slack_enabled,
      email_enabled: n.email_enabled,
      pagerduty_enabled: n.pagerduty_enabled,
      webhook_enabled: n.webhook_enabled,
      teams_enabled: n.teams_enabled,
      queue_capacity: state.queue_capacity,
      worker_count: state.worker_count,
      queue_depth: state.queue_depth,
      in_flight: state.in_flight,
      pending,
      degraded_targets: state.degraded_targets.map((key) => {
        const [channel, target] = key.split('\u0000');
        return `${channel} ${shownTarget(channel, target)}`;
      }),
      channels,
    };
  }

  /** What the metrics show of the deliveries at a scrape: the stats' counts, of the rows not yet settled only. */
  private async deliveryFigures(): Promise<DeliveryFigures> {
    const counts = await this.deliveries.countsByChannel(['pending', 'sending']);
    const channels = new Map<string, { pending: number; sending: number }>();
    let oldest: string | null = null;
    for (const provider of this.providers) {
      const c = counts.get(provider.channel);
      channels.set(provider.channel, { pending: c?.pending ?? 0, sending: c?.sending ?? 0 });
      if (c?.oldest_waiting_at && (oldest === null || c.oldest_waiting_at < oldest)) oldest = c.oldest_waiting_at;
    }
    const state = this.pool.state();
    const stranded = await this.claims.expiredLeases(this.clock.now().toISOString());
    return {
      channels,
      oldestWaitingCreatedAt: oldest,
      pool: { queue_depth: state.queue_depth, in_flight: state.in_flight },
      stranded: { count: stranded.count, oldestLeaseUntil: stranded.oldest_lease_until },
    };
  }

  /** For readiness: deliveries left `sending` past their lease, and how long the oldest has waited since. */
  async strandedDeliveries(): Promise<{ count: number; oldest_expired_lease_secs: number }> {
    const now = this.clock.now();
    const { count, oldest_lease_until } = await this.claims.expiredLeases(now.toISOString());
    return {
      count,
      oldest_expired_lease_secs: oldest_lease_until === null ? 0 : Math.max(0, Math.round((now.getTime() - Date.parse(oldest_lease_until)) / 1000)),
    };
  }

  /** Sends a test message through one configured channel now and reports what the target said. */
  async test(channel: ReceiverChannel): Promise<TestOutcome> {
    this.assertEnabled(channel, 'channel');
    const at = this.clock.now().toISOString();
    const incident = sampleIncident(at);
    const n = this.config.notifications;
    const message = 'Test notification from LLM Incident Manager: this channel works.';
    let planned: PlannedDelivery;
    switch (channel) {
      case 'slack':
        planned = {
          channel,
          action: 'post',
          target: n.slack_default_channel,
          render: () => slackMessage(incident, message, { link: this.router.linkTo(incident) }),
        };
        break;
      case 'email':
        if (n.email_to.length === 0) {
          throw new ValidationFailed([{ field: 'channel', message: 'email has no recipients: set notifications.email_to' }]);
        }
        planned = this.router.email('notification.test', incident, { to: [...n.email_to], subject: 'Test notification', body: message });
        break;
      case 'pagerduty':
        planned = this.router.pagerduty('trigger', incident, at);
        break;
      case 'webhook':
        planned = this.router.webhook('notification.test', at, incident);
        break;
      case 'teams':
        // A card to the default receiver's Workflows webhook (notifications.teams_webhook_env).
        planned = this.router.teams('test', incident, message);
        break;
    }
    const id = newId();
    const send = (payload: string) =>
      this.pool.sendNow({ id, incident_id: incident.id, channel, action: planned.action, target: planned.target, target_ref: null, payload, anchor: null });
    const outcome = await send(JSON.stringify(planned.render(id)));
    // A test page must not stay open on PagerDuty.
    if (channel === 'pagerduty' && outcome.kind === 'delivered') await send(JSON.stringify(pagerdutyEvent('resolve', incident, at)));
    return {
      channel,
      target: planned.target,
      delivered: outcome.kind === 'delivered',
      outcome: outcome.kind,
      error: outcome.kind === 'delivered' ? null : outcome.error,
    };
  }

  private validChannel(plain: unknown, prefix: string): ChannelDto {
    const type = (plain as { type?: unknown }).type;
    const types = Object.keys(CHANNEL_DTOS);
    if (typeof type !== 'string' || !types.includes(type)) {
      throw new ValidationFailed([{ field: `${prefix}.type`, message: `type must be one of the following values: ${types.join(', ')}` }]);
    }
    const dto = toValidDto(CHANNEL_DTOS[type as keyof typeof CHANNEL_DTOS] as new () => ChannelDto, plain, prefix);
    this.assertEnabled(type as Channel, `${prefix}.type`);
    return dto;
  }

  /** Custom webhook URLs come from the caller: checked against the outbound policy (and again at send time). */
  private async assertReachable(channels: ChannelDto[]): Promise<void> {
    const issues = await Promise.all(
      channels.map(async (channel, i): Promise<FieldIssue | undefined> => {
        if (channel.type !== 'webhook') return undefined;
        const refused = await this.outbound.refusal(channel.url);
        return refused === undefined ? undefined : { field: `channels[${i}].url`, message: `refused by the outbound policy: ${refused}` };
      }),
    );
    const refused = issues.filter((issue): issue is FieldIssue => issue !== undefined);
    if (refused.length > 0) throw new ValidationFailed(refused);
  }

  private assertEnabled(channel: Channel, field: string): void {
    if (!this.config.notifications[`${channel}_enabled`]) {
      const issue: FieldIssue = { field, message: `${channel} notifications are disabled (notifications.${channel}_enabled = false)` };
      throw new ValidationFailed([issue]);
    }
  }

  private plan(channel: ChannelDto, incident: Incident, message: string, at: string): PlannedDelivery {
    switch (channel.type) {
      case 'slack':
        return this.router.slack('message', CUSTOM_EVENT, incident, channel.channel, channel.message ?? message);
      case 'email':
        return this.router.email(CUSTOM_EVENT, incident, { to: channel.to, subject: channel.subject, body: channel.body ?? message });
      case 'pagerduty':
        return this.router.pagerduty('trigger', incident, at, {
          serviceKey: channel.service_key,
          dedupKey: channel.incident_key ?? incident.id,
          summary: message,
        });
      case 'webhook': {
        const payload = channel.payload;
        const planned = this.router.webhook(CUSTOM_EVENT, at, incident, { url: channel.url, payload: payload ?? null });
        return payload ? planned : { ...planned, render: (id) => ({ ...webhookBody(CUSTOM_EVENT, at, incident, id, this.router.linkTo(incident)), message }) };
      }
    }
  }
}

function sampleIncident(at: string): Incident {
  return {
    id: '00000000-0000-7000-8000-000000000000',
    title: 'Test notification',
    description: 'Sent by POST /v1/notifications/test to check this channel.',
    severity: 'P4',
    state: 'Detected',
    incident_type: 'Unknown',
    source: 'llm-incident-manager',
    created_at: at,
    updated_at: at,
    resolved_at: null,
    affected_resources: [],
    assignees: [],
    labels: {},
    fingerprint: '',
    alert_count: 0,
    last_seen_at: at,
    resolution: null,
    acknowledged_at: null,
    acknowledged_by: null,
    runbook_url: null,
  };
}
