import { Inject, Injectable } from '@nestjs/common';
import type { Tx } from '../../database/transactor';
import type { Incident } from '../../incidents/domain/incident';
import { IncidentsService } from '../../incidents/incidents.service';
import { MetricsService } from '../../metrics/metrics.service';
import { PeopleService } from '../../people/people.service';
import { ContactMethod, effectiveRules, User } from '../../people/person';
import { SchedulesService } from '../../people/schedules/schedules.service';
import { formatDuration } from '../../routing/duration';
import type { PersonTarget } from '../../routing/routing-config';
import { RoutingService, subjectOf } from '../../routing/routing.service';
import { SilencesService } from '../../silences/silences.service';
import type { NewDeliveryRow } from '../delivery.repository';
import { NotificationRouter, PlanSet } from '../notification-router';
import { CONTACT_CHANNELS, ContactChannel } from './contact-channels';
import { ScheduledStep, ScheduledStepRepository, stepRow } from './scheduled-step.repository';

/** What paged the people, for their deliveries, their later rules and the timeline. */
export interface PagingContext {
  route: string;
  /** The receiver name that named them: user:…, schedule:…, team:…. */
  target: string;
  at: string;
  eventName: string;
  /** The message, when not the event's own headline (an escalation says why it escalated). */
  text?: string;
  /** The escalation policy running, if a step of one pages. */
  policy?: string | null;
  /** Users already paged for this event (one page per person when several routes name them). */
  paged?: Set<string>;
}

export interface PagingOutcome {
  rows: NewDeliveryRow[];
  reached: User[];
  /** Why nobody was reached, when nobody was (and no team policy started in their place). */
  nobody: string | null;
  /** A team's escalation policy started in place of notifying people. */
  startedPolicy: string | null;
}

/**
 * Reaches people: resolves a user, a schedule (whoever is on call at that moment) or a team to
 * the users it names, notifies each by the rules they set (the first at once, the later ones as
 * durable steps, stopped by any acknowledgement), and records who was notified, how and when.
 */
@Injectable()
export class PersonPaging {
  private readonly channels: Map<ContactMethod, ContactChannel>;

  constructor(
    @Inject(CONTACT_CHANNELS) channels: ContactChannel[],
    private readonly people: PeopleService,
    private readonly schedules: SchedulesService,
    private readonly router: NotificationRouter,
    private readonly routing: RoutingService,
    private readonly steps: ScheduledStepRepository,
    private readonly silences: SilencesService,
    private readonly incidents: IncidentsService,
    private readonly metrics: MetricsService,
  ) {
    this.channels = new Map(channels.map((c) => [c.method, c]));
  }

  async page(tx: Tx, incident: Incident, target: PersonTarget, ctx: PagingContext): Promise<PagingOutcome> {
    const resolved = await this.resolve(tx, incident, target, ctx);
    if ('nobody' in resolved) return this.nobody(tx, incident, target, ctx, resolved.nobody);
    if ('policy' in resolved) return { rows: [], reached: [], nobody: null, startedPolicy: resolved.policy };
    const rows: NewDeliveryRow[] = [];
    const reached: User[] = [];
    const silence = await this.silences.matchingWithin(tx, subjectOf(incident), ctx.at);
    for (const user of resolved.users) {
      if (ctx.paged?.has(user.id)) continue;
      ctx.paged?.add(user.id);
      const rules = effectiveRules(user);
      const now = rules.flatMap((rule) => (rule.after_ms === 0 ? rule.methods : []));
      const written = now.length > 0 ? await this.notifyUser(tx, incident, user, [...new Set(now)], ctx, resolved.why, silence, null) : { rows: [], used: [] };
      rows.push(...written.rows);
      // Later rules count from when the person was first notified: paged again (another route,
      // an escalation step to the same schedule), they are not scheduled a second time.
      const later =
        silence || (await this.steps.personPending(tx, incident.id, user.id))
          ? []
          : rules.map((rule, index) => ({ rule, index })).filter(({ rule }) => rule.after_ms > 0);
      for (const { rule, index } of later) {
        const due = new Date(Date.parse(ctx.at) + rule.after_ms).toISOString();
        // The rule's wait is kept with the step: it finds the same rule if the user edits their rules meanwhile.
        this.steps.add(tx, stepRow(incident.id, 'person', ctx.route, null, index, 0, [user.id, ctx.target, String(rule.after_ms)], due, ctx.at));
      }
      if (written.used.length > 0 || later.length > 0) reached.push(user);
    }
    if (reached.length === 0)
      return this.nobody(tx, incident, target, ctx, `${resolved.users.map((u) => u.name).join(', ')} could not be reached by any contact method`);
    return { rows, reached, nobody: null, startedPolicy: null };
  }

  /** One of a paged user's later rules, due now: notifies them by its methods unless the incident was acknowledged. Answers the rows written. */
  async fireRule(tx: Tx, incident: Incident, step: ScheduledStep, now: string): Promise<{ rows: NewDeliveryRow[]; cancelled: string | null }> {
    const [userId, target, afterMs] = JSON.parse(step.receivers) as [string, string, string];
    const user = await this.people.userWithin(tx, userId);
    if (!user?.active) return { rows: [], cancelled: `user ${user?.name ?? userId} is no longer active` };
    const rules = effectiveRules(user);
    const index = rules.findIndex((r) => r.after_ms === Number(afterMs));
    const rule = rules[index];
    if (!rule || rule.after_ms === 0) return { rows: [], cancelled: `${user.name} no longer has a rule after ${formatDuration(Number(afterMs))}` };
    const silence = await this.silences.matchingWithin(tx, subjectOf(incident), now);
    const ctx: PagingContext = {
      route: step.route,
      target,
      at: now,
      eventName: 'incident.reminder',
      text: `Not acknowledged ${formatDuration(Date.parse(now) - Date.parse(incident.created_at))} after it was detected: ${incident.title}`,
    };
    const written = await this.notifyUser(tx, incident, user, rule.methods, ctx, `rule ${index + 1}, after ${formatDuration(rule.after_ms)}`, silence, index);
    return { rows: written.rows, cancelled: null };
  }

  private async resolve(
    tx: Tx,
    incident: Incident,
    target: PersonTarget,
    ctx: PagingContext,
  ): Promise<{ users: User[]; why: string } | { nobody: string } | { policy: string }> {
    if (target.kind === 'user') {
      const user = await this.people.userByRefWithin(tx, target.ref);
      if (!user) return { nobody: `no user ${target.ref}` };
      if (!user.active) return { nobody: `${user.name} is deactivated` };
      return { users: [user], why: `named by ${ctx.target}` };
    }
    if (target.kind === 'schedule') {
      const onCall = await this.schedules.onCallWithin(tx, target.ref, Date.parse(ctx.at));
      if (!onCall) return { nobody: `no schedule named ${target.ref}` };
      if (!onCall.user) return { nobody: `nobody is on call in schedule ${target.ref} (${onCall.reason})` };
      return { users: [onCall.user], why: `on call for schedule ${target.ref}` };
    }
    const team = await this.people.teamByNameWithin(tx, target.ref);
    if (!team) return { nobody: `no team named ${target.ref}` };
    const policy = team.notify === 'policy' && team.escalation_policy ? this.routing.policy(team.escalation_policy) : undefined;
    // A policy runs once per incident: a team whose policy has already run for it (the route's own,
    // or one started through a loop of teams naming each other) notifies its members instead.
    if (policy && policy.steps.length > 0 && !(await this.steps.policyRan(tx, incident.id, policy.name))) {
      // The team's own escalation policy runs from here, as a route's would.
      const due = new Date(Date.parse(ctx.at) + policy.steps[0].after_ms).toISOString();
      this.steps.add(tx, stepRow(incident.id, 'escalation', ctx.route, policy.name, 0, 0, [], due, ctx.at));
      this.incidents.recordWithin(tx, incident.id, 'escalation_started', 'system', `Team ${team.name}: escalation policy ${policy.name} started`, {
        team: team.name,
        policy: policy.name,
        route: ctx.route,
      });
      return { policy: policy.name };
    }
    const members = await this.people.usersByIds(team.member_ids, tx);
    const users = team.member_ids.flatMap((id) => {
      const user = members.get(id);
      return user?.active ? [user] : [];
    });
    if (users.length === 0) return { nobody: `team ${team.name} has no active members` };
    return { users, why: `member of team ${team.name}` };
  }

  /** Writes one user's deliveries by these methods (those they can be reached by) and records it. */
  private async notifyUser(
    tx: Tx,
    incident: Incident,
    user: User,
    methods: ContactMethod[],
    ctx: PagingContext,
    why: string,
    silence: Awaited<ReturnType<SilencesService['matchingWithin']>>,
    rule: number | null,
  ): Promise<{ rows: NewDeliveryRow[]; used: ContactMethod[] }> {
    const out = new PlanSet();
    const used: ContactMethod[] = [];
    const skipped: string[] = [];
    const folded: string[] = [];
    for (const method of methods) {
      const problem = this.unusable(method, user);
      if (problem) {
        skipped.push(`${method}: ${problem}`);
        continue;
      }
      used.push(method);
      const channel = this.channels.get(method)!;
      // A silence writes the record of what it kept back; only a real send is folded.
      const into =
        !silence && channel.foldWithin ? await channel.foldWithin(tx, incident, user, ctx.at, { route: ctx.route, receiver: ctx.target, methods }) : null;
      if (into) folded.push(into);
      else out.add(channel.plan(incident, user, ctx), ctx.route, ctx.target);
    }
    const rows = out.planned.length > 0 ? this.router.write(tx, incident, ctx.eventName, ctx.at, out.planned, { first: true, silence }) : [];
    if (silence) this.metrics.deliveriesSuppressed(rows);
    const how = used.join(' and ');
    const metadata = {
      user_id: user.id,
      user_name: user.name,
      methods: used,
      target: ctx.target,
      route: ctx.route,
      ...(rule !== null ? { rule: rule + 1 } : {}),
      deliveries: [...rows.map((r) => r.id), ...folded],
      ...(folded.length > 0 ? { folded_into: folded } : {}),
      ...(skipped.length > 0 ? { skipped } : {}),
      ...(silence ? { suppressed_by_silence: silence.id } : {}),
    };
    if (used.length === 0) {
      this.incidents.recordWithin(tx, incident.id, 'person_unreachable', 'system', `Could not notify ${user.name} (${why}): ${skipped.join('; ')}`, metadata);
    } else if (silence) {
      this.incidents.recordWithin(
        tx,
        incident.id,
        'person_notification_suppressed',
        'system',
        `Notification of ${user.name} by ${how} kept back by silence ${silence.id}`,
        metadata,
      );
    } else {
      this.incidents.recordWithin(tx, incident.id, 'person_notified', 'system', `Notified ${user.name} by ${how} (${why})`, metadata);
    }
    return { rows, used };
  }

  private unusable(method: ContactMethod, user: User): string | null {
    const channel = this.channels.get(method);
    return channel ? channel.unusable(user) : `no channel reaches ${method}`;
  }

  private nobody(tx: Tx, incident: Incident, target: PersonTarget, ctx: PagingContext, why: string): PagingOutcome {
    this.metrics.nobodyReachedBy(target.kind);
    this.incidents.recordWithin(tx, incident.id, 'nobody_reached', 'system', `Nobody reached through ${ctx.target}: ${why}`, {
      target: ctx.target,
      route: ctx.route,
      reason: why,
      ...(ctx.policy ? { policy: ctx.policy } : {}),
    });
    return { rows: [], reached: [], nobody: why, startedPolicy: null };
  }
}
