import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { StoreHealth } from '../../database/store-health';
import { Transactor, Tx } from '../../database/transactor';
import { IncidentEvent, IncidentEventName, IncidentStateEvent, IncidentUpdatedEvent } from '../../incidents/domain/events';
import type { Incident } from '../../incidents/domain/incident';
import { isActive } from '../../incidents/domain/state-machine';
import { IncidentsService } from '../../incidents/incidents.service';
import { MetricsService } from '../../metrics/metrics.service';
import { formatDuration } from '../../routing/duration';
import { RoutingService, subjectOf } from '../../routing/routing.service';
import type { LiveSilence } from '../../silences/silence';
import { SilencesService } from '../../silences/silences.service';
import { DeliveryRepository, NewDeliveryRow } from '../delivery.repository';
import { DeliveryHistoryRepository } from '../delivery-history.repository';
import { NotificationRouter, PlanSet, RoutedReceiver } from '../notification-router';
import { PersonPaging } from './person-paging';
import { ScheduledStep, ScheduledStepRepository, stepRow } from './scheduled-step.repository';

/** How often due steps and ended silences are looked for. */
const TICK_MS = 1000;
const BATCH = 100;

export const ESCALATED_EVENT = 'incident.escalated';
export const REMINDER_EVENT = 'incident.reminder';

/** Whether the event is someone taking the incident on (acknowledge, or a move on from Detected). */
export function isAcknowledgement(event: IncidentEvent): boolean {
  if (event.name === IncidentEventName.Updated) return 'acknowledged_at' in (event as IncidentUpdatedEvent).changes;
  return event instanceof IncidentStateEvent && event.previous_state === 'Detected' && isActive(event.incident.state);
}

/**
 * Escalation steps and repeats as durable rows (scheduled_steps), written in the incident's own
 * transaction and fired by whichever instance claims them first, once, also after a restart or a
 * kill -9 (a step due while the service was down fires at the first tick). Silences' ends are
 * acted on here too: the incidents they kept quiet are notified then.
 */
@Injectable()
export class EscalationService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Escalation');
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;

  constructor(
    private readonly steps: ScheduledStepRepository,
    private readonly routing: RoutingService,
    private readonly router: NotificationRouter,
    private readonly deliveries: DeliveryRepository,
    private readonly history: DeliveryHistoryRepository,
    private readonly silences: SilencesService,
    private readonly incidents: IncidentsService,
    private readonly transactor: Transactor,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    private readonly store: StoreHealth,
    private readonly paging: PersonPaging,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    // A tick in progress ends first, unless the store stopped answering it.
    await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }

  /**
   * Runs what is due now, one run at a time: a call while a run is in progress waits for it and
   * runs again, so that it sees the clock as it is now (tests call it after moving the clock).
   */
  async tick(): Promise<void> {
    while (this.running) await this.running;
    // While the store is down or full, ticks wait; steps due meanwhile fire at the first tick after.
    if (!this.store.healthy) return;
    const run: Promise<void> = this.runDue()
      .catch((err: unknown) => {
        if (!this.store.observe(err)) this.logger.error({ msg: 'escalation tick failed', err: String(err) });
      })
      .finally(() => {
        if (this.running === run) this.running = null;
      });
    this.running = run;
    await run;
  }

  /**
   * In the incident change's transaction: schedules, or cancels, what the event calls for, and
   * pages the people a new incident's routes name. Answers whether it wrote deliveries.
   */
  async onEvent(tx: Tx, event: IncidentEvent, suppressed: boolean): Promise<boolean> {
    const incident = event.incident;
    const at = event.occurred_at;
    if (event.name === IncidentEventName.Detected) {
      // Kept quiet by a silence: scheduled when the silence ends and the incident is notified. A
      // route naming only people plans no channel delivery, so the outbox saw no silence: asked here.
      const silence = suppressed || this.routing.hasPersonTargets ? await this.silences.matchingWithin(tx, subjectOf(incident), at) : null;
      if (suppressed || silence) {
        if (silence) this.holdPeople(tx, incident, silence, at);
        return false;
      }
      this.schedule(tx, incident, at, { escalation: true, repeat: true });
      return this.pageRoutedPeople(tx, incident, at);
    }
    if (event.name === IncidentEventName.Resolved || event.name === IncidentEventName.Closed) {
      await this.steps.cancelFor(tx, incident.id, ['escalation', 'repeat', 'person', 'held'], `incident ${incident.state.toLowerCase()}`, at);
      await this.deliveries.cancelPersonPages(tx, incident.id, `incident ${incident.state.toLowerCase()}`, at);
      return false;
    }
    if (event instanceof IncidentStateEvent && event.previous_state === 'Resolved') {
      this.schedule(tx, incident, at, { escalation: false, repeat: true });
      return false;
    }
    // An acknowledgement by anyone stops every step and every person's later rules.
    if (isAcknowledgement(event)) {
      const reason = `acknowledged by ${incident.acknowledged_by ?? event.actor}`;
      await this.steps.cancelFor(tx, incident.id, ['escalation', 'person', 'held'], reason, at);
      await this.deliveries.cancelPersonPages(tx, incident.id, reason, at);
    }
    return false;
  }

  /**
   * A silence keeps a new incident quiet: the people its routes name are not resolved now (nor a
   * team's policy started); a durable step pages them when the silence ends, and starts the
   * escalation then if the incident's channel notifications did not (a route naming only people).
   */
  private holdPeople(tx: Tx, incident: Incident, silence: LiveSilence, at: string): void {
    const targets = this.routing.hasPersonTargets ? this.router.routedReceivers(incident).flatMap((r) => (r.receiver.person ? [r.receiver.name] : [])) : [];
    if (targets.length === 0) return;
    this.steps.add(tx, stepRow(incident.id, 'held', 'silence', null, 0, 0, [silence.id], silence.ends_at, at));
    this.incidents.recordWithin(tx, incident.id, 'people_held', 'system', `Paging of ${targets.join(', ')} kept back by silence ${silence.id} until it ends`, {
      silence_id: silence.id,
      targets,
    });
  }

  /** Pages the users, schedules and teams the incident's routes name as their receiver. */
  private async pageRoutedPeople(tx: Tx, incident: Incident, at: string): Promise<boolean> {
    if (!this.routing.hasPersonTargets) return false;
    let wrote = false;
    const users = new Set<string>();
    for (const { route, receiver } of this.router.routedReceivers(incident)) {
      if (!receiver.person) continue;
      const paged = await this.paging.page(tx, incident, receiver.person, {
        route,
        target: receiver.name,
        at,
        eventName: IncidentEventName.Detected,
        paged: users,
      });
      if (paged.rows.length > 0) wrote = true;
    }
    return wrote;
  }

  /**
   * Someone paged asked to escalate now (a key pressed on a call): the waiting escalation steps
   * fire at once instead of at their time. Answers whether there was a step to move on to.
   */
  async escalateNow(incidentId: string, actor: string, via: string): Promise<boolean> {
    const now = this.clock.now().toISOString();
    const moved = await this.transactor.run(async (tx) => {
      const incident = await this.incidents.findWithin(tx, incidentId);
      if (!incident || !isActive(incident.state)) return 0;
      const count = await this.steps.escalationDueNow(tx, incidentId, now);
      this.incidents.recordWithin(
        tx,
        incidentId,
        'escalation_requested',
        actor,
        count > 0
          ? `${actor} asked to escalate (${via}): the next escalation step runs now`
          : `${actor} asked to escalate (${via}), but no escalation step is waiting`,
        { via, steps: count },
      );
      return count;
    });
    if (moved > 0) await this.tick();
    return moved > 0;
  }

  /** Writes the first escalation step of each route that has a policy, and the first repeat of each route with a repeat_interval. */
  schedule(tx: Tx, incident: Incident, at: string, what: { escalation: boolean; repeat: boolean }): void {
    const base = Date.parse(at);
    for (const { route, receiver } of this.routing.route(subjectOf(incident)).matches) {
      const policy = route.escalation ? this.routing.policy(route.escalation) : undefined;
      if (what.escalation && policy && policy.steps.length > 0) {
        this.steps.add(tx, stepRow(incident.id, 'escalation', route.id, policy.name, 0, 0, [], new Date(base + policy.steps[0].after_ms).toISOString(), at));
      }
      if (what.repeat && route.repeat_interval_ms) {
        this.steps.add(tx, stepRow(incident.id, 'repeat', route.id, null, 0, 0, [receiver], new Date(base + route.repeat_interval_ms).toISOString(), at));
      }
    }
  }

  private async runDue(): Promise<void> {
    const now = this.clock.now().toISOString();
    // Two indexed lookups outside any transaction: a tick with nothing to do takes no lock.
    if (!(await this.steps.anyDue(now)) && !(await this.silences.anyEnded())) return;
    const woken = await this.transactor.run(async (tx) => {
      const incidents = new Set<string>();
      for (const step of await this.steps.claimDue(tx, now, BATCH)) {
        if (await this.fire(tx, step, now)) incidents.add(step.incident_id);
      }
      for (const silence of await this.silences.claimEndedWithin(tx, now, BATCH)) {
        for (const id of await this.silenceEnded(tx, silence, now)) incidents.add(id);
      }
      return [...incidents];
    });
    if (woken.length > 0) this.wake(woken);
  }

  /** Set by the notifications service: hands written deliveries to the worker pool. */
  wake: (incidentIds: string[]) => void = () => undefined;

  /** Fires one step; answers whether it wrote deliveries. */
  private async fire(tx: Tx, step: ScheduledStep, now: string): Promise<boolean> {
    const incident = await this.incidents.findWithin(tx, step.incident_id);
    const cancel = async (reason: string) => {
      await this.steps.settle(tx, step.id, 'cancelled', reason, now);
      return false;
    };
    if (!incident) return cancel('incident gone');
    if (step.kind === 'held') {
      if (!isActive(incident.state)) return cancel(`incident ${incident.state.toLowerCase()}`);
      if (incident.acknowledged_at !== null) return cancel(`acknowledged by ${incident.acknowledged_by}`);
      await this.steps.settle(tx, step.id, 'fired', null, now);
      const other = await this.silences.matchingWithin(tx, subjectOf(incident), now);
      if (other) {
        this.holdPeople(tx, incident, other, now);
        return false;
      }
      if (!(await this.steps.escalationStarted(tx, incident.id))) this.schedule(tx, incident, now, { escalation: true, repeat: true });
      return this.pageRoutedPeople(tx, incident, now);
    }
    if (step.kind === 'person') {
      if (!isActive(incident.state)) return cancel(`incident ${incident.state.toLowerCase()}`);
      if (incident.acknowledged_at !== null) return cancel(`acknowledged by ${incident.acknowledged_by}`);
      const fired = await this.paging.fireRule(tx, incident, step, now);
      if (fired.cancelled) return cancel(fired.cancelled);
      await this.steps.settle(tx, step.id, 'fired', null, now);
      return fired.rows.length > 0;
    }
    if (step.kind === 'escalation') {
      if (!isActive(incident.state)) return cancel(`incident ${incident.state.toLowerCase()}`);
      if (incident.acknowledged_at !== null) return cancel(`acknowledged by ${incident.acknowledged_by}`);
      const policy = step.policy ? this.routing.policy(step.policy) : undefined;
      const current = policy?.steps[step.step];
      const receiver = current ? this.routing.receiver(current.receiver) : undefined;
      if (!policy || !current || !receiver) return cancel(`escalation policy ${step.policy} step ${step.step + 1} is no longer configured`);
      const of = `step ${step.step + 1} of ${policy.steps.length}${step.round > 0 ? `, repeat ${step.round}` : ''}`;
      const text = `Escalated to ${receiver.name} (${of}): not acknowledged ${formatDuration(Date.parse(now) - Date.parse(incident.created_at))} after it was detected`;
      const metadata = { policy: policy.name, step: step.step + 1, round: step.round, receiver: receiver.name, route: step.route };
      let rows: NewDeliveryRow[];
      let nobody: string | null = null;
      if (receiver.person) {
        // Recorded first: the timeline reads escalated, then who was notified (or that nobody was).
        this.incidents.recordWithin(tx, incident.id, 'escalated', 'system', text, metadata);
        const paged = await this.paging.page(tx, incident, receiver.person, {
          route: step.route,
          target: receiver.name,
          at: now,
          eventName: ESCALATED_EVENT,
          text,
          policy: policy.name,
        });
        rows = paged.rows;
        nobody = paged.nobody;
      } else {
        const written = await this.notify(tx, incident, ESCALATED_EVENT, now, [{ route: step.route, receiver }], text, true);
        rows = written.rows;
        this.incidents.recordWithin(tx, incident.id, 'escalated', 'system', text, {
          ...metadata,
          ...(written.silence ? { suppressed_by_silence: written.silence.id } : {}),
        });
      }
      let next: { step: number; round: number } | null = null;
      if (step.step + 1 < policy.steps.length) next = { step: step.step + 1, round: step.round };
      else if (step.round < policy.repeat) next = { step: 0, round: step.round + 1 };
      if (next) {
        // Nobody reached: the next step of this round is due at once (a new round keeps its wait).
        const fallThrough = nobody !== null && next.round === step.round;
        const due = fallThrough ? now : new Date(Date.parse(step.due_at) + policy.steps[next.step].after_ms).toISOString();
        this.steps.add(tx, stepRow(incident.id, 'escalation', step.route, policy.name, next.step, next.round, [], due, now));
      } else if (nobody !== null) {
        this.incidents.recordWithin(
          tx,
          incident.id,
          'escalation_exhausted',
          'system',
          `Escalation policy ${policy.name} has no further step: nobody was reached at its last`,
          {
            policy: policy.name,
            route: step.route,
          },
        );
      }
      await this.steps.settle(tx, step.id, 'fired', null, now);
      return rows.length > 0;
    }
    // A repeat: the route's receivers again while the incident is open (PagerDuty repeats on its own).
    if (!isActive(incident.state)) return cancel(`incident ${incident.state.toLowerCase()}`);
    const route = this.routing.findRoute(step.route);
    if (!route?.repeat_interval_ms) return cancel(`route ${step.route} no longer repeats`);
    const receivers = (JSON.parse(step.receivers) as string[]).flatMap((name) => {
      const receiver = this.routing.receiver(name);
      return receiver ? [{ route: step.route, receiver }] : [];
    });
    const text = `Still open (${incident.state}) ${formatDuration(Date.parse(now) - Date.parse(incident.created_at))} after it was detected`;
    const written = await this.notify(tx, incident, REMINDER_EVENT, now, receivers, text, false);
    const due = new Date(Date.parse(step.due_at) + route.repeat_interval_ms).toISOString();
    this.steps.add(tx, stepRow(incident.id, 'repeat', step.route, null, 0, step.round + 1, JSON.parse(step.receivers) as string[], due, now));
    await this.steps.settle(tx, step.id, 'fired', null, now);
    return written.rows.length > 0;
  }

  private async notify(
    tx: Tx,
    incident: Incident,
    eventName: string,
    at: string,
    routed: RoutedReceiver[],
    text: string,
    page: boolean,
  ): Promise<{ rows: NewDeliveryRow[]; silence: LiveSilence | null }> {
    const out = new PlanSet();
    const posted = new Set(await this.history.postedSlackTargets(tx, incident.id));
    this.router.firstNotification(out, routed, incident, eventName, at, { text, posted, page });
    if (out.planned.length === 0) return { rows: [], silence: null };
    const silence = await this.silences.matchingWithin(tx, subjectOf(incident), at);
    const rows = this.router.write(tx, incident, eventName, at, out.planned, { first: true, silence });
    if (silence) this.metrics.deliveriesSuppressed(rows);
    return { rows, silence: silence ?? null };
  }

  /**
   * A silence ended: each incident whose first notification it kept back, still open and not
   * acknowledged, is notified now (or handed to another silence that matches it now).
   */
  private async silenceEnded(tx: Tx, silence: LiveSilence, now: string): Promise<string[]> {
    const notified: string[] = [];
    // The people it held back are paged at the next tick (their step decides about escalation too).
    await this.steps.releaseHeld(tx, silence.id, now);
    for (const id of await this.history.incidentsSuppressedBy(tx, silence.id)) {
      const incident = await this.incidents.findWithin(tx, id);
      if (!incident || !isActive(incident.state) || incident.acknowledged_at !== null) continue;
      const routed = this.router.routedReceivers(incident);
      const out = new PlanSet();
      this.router.firstNotification(out, routed, incident, IncidentEventName.Detected, now);
      const other = await this.silences.matchingWithin(tx, subjectOf(incident), now);
      const rows = this.router.write(tx, incident, IncidentEventName.Detected, now, out.planned, { first: true, silence: other });
      if (other) {
        this.metrics.deliveriesSuppressed(rows);
        this.incidents.recordWithin(tx, id, 'silence_ended', 'system', `Silence ${silence.id} ended; silence ${other.id} still keeps notifications back`, {
          silence_id: silence.id,
          suppressed_by_silence: other.id,
        });
        continue;
      }
      this.incidents.recordWithin(
        tx,
        id,
        'silence_ended',
        'system',
        `Silence ${silence.id} ended while the incident was open and not acknowledged: notified now`,
        {
          silence_id: silence.id,
          deliveries: rows.length,
        },
      );
      // Unless the held-back people's step already started it (it may run first, in the same tick).
      if (!(await this.steps.escalationStarted(tx, id))) this.schedule(tx, incident, now, { escalation: true, repeat: true });
      notified.push(id);
    }
    return notified;
  }
}
