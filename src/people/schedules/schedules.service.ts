import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { Clock } from '../../common/clock';
import type { Tx } from '../../database/transactor';
import { DomainError, ErrorCode, FieldIssue, ValidationFailed } from '../../common/domain-error';
import { newId } from '../../common/ids';
import type { CreateOverrideDto, CreateScheduleDto, GapView, OnCallView, OverrideView, ShiftView, ShiftsView, UpdateScheduleDto } from '../dto/schedule.dto';
import { isUniqueViolation } from '../people.repository';
import { PeopleService } from '../people.service';
import type { User } from '../person';
import { CalendarEvent, renderCalendar } from './ical';
import { FinalSchedule, finalSchedule, ON_CALL_WINDOW_MS, onCallAt, Override } from './final-shifts';
import { isZone, Layer, MIN_ROTATION_MS, parseRotation } from './layer-shifts';
import { Schedule, ScheduleRepository, StoredOverride } from './schedule.repository';

const DAY_MS = 24 * 3600 * 1000;
/** The longest range the shifts API answers: a quarter. */
export const MAX_SHIFTS_RANGE_MS = 93 * DAY_MS;
/** What a calendar feed holds: two weeks back, eight weeks ahead. */
const FEED_BACK_MS = 14 * DAY_MS;
const FEED_AHEAD_MS = 56 * DAY_MS;

/** An on-call answer a transaction found, and the stretch it holds for. */
interface KnownOnCall {
  start: number;
  end: number;
  answer: OnCall | null;
}

/** Who is on call for a schedule at a moment: the user, or nobody and why. */
export interface OnCall {
  schedule: Schedule;
  user: User | null;
  /** Why nobody is: no layer or override covers the moment, or the user it names is deactivated. */
  reason: string | null;
}

/** Schedules, overrides, and the questions they answer: who is on call, the final shifts, the calendar feeds. */
@Injectable()
export class SchedulesService {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly people: PeopleService,
    private readonly clock: Clock,
  ) {}

  async create(dto: CreateScheduleDto): Promise<Schedule> {
    const layers = await this.checkSchedule(dto, true);
    if (await this.schedules.findByName(dto.name)) throw this.taken(dto.name);
    const now = this.clock.now().toISOString();
    return this.unique(dto.name, () =>
      this.schedules.insert({
        id: newId(),
        name: dto.name,
        time_zone: dto.time_zone,
        team_id: dto.team_id ?? null,
        layers: JSON.stringify(layers),
        created_at: now,
        updated_at: now,
      }),
    );
  }

  async update(id: string, dto: UpdateScheduleDto): Promise<Schedule> {
    const current = await this.get(id);
    // A null time zone is refused (as on create); an absent one is the schedule's own, for the layers' dates.
    const layers = await this.checkSchedule(dto.time_zone === undefined ? { ...dto, time_zone: current.time_zone } : dto, false);
    if (dto.name) {
      const other = await this.schedules.findByName(dto.name);
      if (other && other.id !== id) throw this.taken(dto.name);
    }
    const updated = await this.unique(dto.name ?? '', () =>
      this.schedules.update(id, {
        ...(dto.name !== undefined ? { name: dto.name } : {}),
        ...(dto.time_zone !== undefined ? { time_zone: dto.time_zone } : {}),
        ...(dto.team_id !== undefined ? { team_id: dto.team_id } : {}),
        ...(layers ? { layers: JSON.stringify(layers) } : {}),
        updated_at: this.clock.now().toISOString(),
      }),
    );
    if (!updated) throw this.notFound(id);
    return updated;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.schedules.delete(id))) throw this.notFound(id);
  }

  async get(id: string): Promise<Schedule> {
    const schedule = await this.schedules.find(id);
    if (!schedule) throw this.notFound(id);
    return schedule;
  }

  findByName(name: string): Promise<Schedule | null> {
    return this.schedules.findByName(name);
  }

  list(): Promise<Schedule[]> {
    return this.schedules.list();
  }

  async addOverride(scheduleId: string, dto: CreateOverrideDto, createdBy: string): Promise<StoredOverride> {
    await this.get(scheduleId);
    const issues: FieldIssue[] = [];
    const user = await this.people.findUser(dto.user_id);
    if (!user) issues.push({ field: 'user_id', message: `no user ${dto.user_id}` });
    else if (!user.active) issues.push({ field: 'user_id', message: `${user.name} is deactivated` });
    const start = Date.parse(dto.starts_at);
    const end = Date.parse(dto.ends_at);
    if (!(end > start)) issues.push({ field: 'ends_at', message: 'ends_at must be after starts_at' });
    else if (end - start > 366 * DAY_MS) issues.push({ field: 'ends_at', message: 'an override covers at most a year' });
    if (issues.length > 0) throw new ValidationFailed(issues);
    return this.schedules.insertOverride({
      id: newId(),
      schedule_id: scheduleId,
      user_id: dto.user_id,
      starts_at: new Date(start).toISOString(),
      ends_at: new Date(end).toISOString(),
      created_by: createdBy,
      created_at: this.clock.now().toISOString(),
    });
  }

  async deleteOverride(scheduleId: string, id: string): Promise<void> {
    if (!(await this.schedules.deleteOverride(scheduleId, id)))
      throw new DomainError(ErrorCode.OVERRIDE_NOT_FOUND, `override ${id} not found in schedule ${scheduleId}`);
  }

  async listOverrides(scheduleId: string, from: string, to: string): Promise<OverrideView[]> {
    await this.get(scheduleId);
    return this.schedules.overrides([scheduleId], from, to);
  }

  /** The final shifts and the gaps of [from, to). */
  async shifts(id: string, fromText: string, toText: string): Promise<ShiftsView> {
    const schedule = await this.get(id);
    const from = Date.parse(fromText);
    const to = Date.parse(toText);
    if (!(to > from)) throw new ValidationFailed([{ field: 'to', message: 'to must be after from' }]);
    if (to - from > MAX_SHIFTS_RANGE_MS) throw new ValidationFailed([{ field: 'to', message: 'at most 93 days after from' }]);
    const { final, users } = await this.compute(schedule, from, to);
    return {
      schedule_id: schedule.id,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      shifts: final.shifts.map((s) => shiftView(s, users)),
      gaps: final.gaps.map((g) => gapView(g, users)),
    };
  }

  async onCall(id: string, atText?: string): Promise<OnCallView> {
    return this.onCallView(await this.get(id), atText ? Date.parse(atText) : this.clock.now().getTime());
  }

  /** Every schedule's on-call person now (or at `at`): the page an on-call lead opens first. */
  async onCallEverywhere(atText?: string): Promise<OnCallView[]> {
    const at = atText ? Date.parse(atText) : this.clock.now().getTime();
    const out: OnCallView[] = [];
    for (const schedule of await this.schedules.list()) out.push(await this.onCallView(schedule, at));
    return out;
  }

  /**
   * For escalation, in its transaction: the person on call for the named schedule at a moment, or
   * nobody and why. Remembered for the transaction while `at` stays within the shift (or gap)
   * found: a batch of a thousand alerts routed to one schedule computes it once, not a thousand times.
   */
  async onCallWithin(tx: Tx, scheduleName: string, at: number): Promise<OnCall | null> {
    let known = this.onCallByTx.get(tx);
    if (!known) this.onCallByTx.set(tx, (known = new Map<string, KnownOnCall>()));
    const cached = known.get(scheduleName);
    if (cached && cached.start <= at && at < cached.end) return cached.answer;
    const schedule = await this.schedules.findByName(scheduleName, tx.db);
    if (!schedule) {
      known.set(scheduleName, { start: -Infinity, end: Infinity, answer: null });
      return null;
    }
    const view = await this.onCallView(schedule, at, tx);
    const span = view.shift ?? view.gap;
    let answer: OnCall;
    if (!view.shift) answer = { schedule, user: null, reason: view.gap?.reason ?? 'no layer or override covers this time' };
    else answer = { schedule, user: await this.people.userWithin(tx, view.shift.user.id), reason: null };
    if (span) known.set(scheduleName, { start: Date.parse(span.start), end: Date.parse(span.end), answer });
    return answer;
  }

  private readonly onCallByTx = new WeakMap<Tx, Map<string, KnownOnCall>>();

  /** A user's shifts in every schedule, as iCalendar: two weeks back, eight ahead. */
  async userCalendar(user: User): Promise<string> {
    const now = this.clock.now().getTime();
    const events: CalendarEvent[] = [];
    for (const schedule of await this.schedules.list()) {
      if (!schedule.layers.some((l) => l.members.includes(user.id))) {
        const overrides = await this.schedules.overrides(
          [schedule.id],
          new Date(now - FEED_BACK_MS).toISOString(),
          new Date(now + FEED_AHEAD_MS).toISOString(),
        );
        if (!overrides.some((o) => o.user_id === user.id)) continue;
      }
      const { final } = await this.compute(schedule, now - FEED_BACK_MS, now + FEED_AHEAD_MS);
      for (const shift of final.shifts)
        if (shift.user_id === user.id) events.push(this.event(schedule, shift, { start: now - FEED_BACK_MS, end: now + FEED_AHEAD_MS }, user));
    }
    return renderCalendar(`On call: ${user.name}`, events, now);
  }

  /**
   * One schedule's final shifts, as iCalendar, for a user of it (a member of one of its layers or
   * of its team): a calendar link shows a person their own rotations, not every schedule.
   */
  async scheduleCalendar(scheduleId: string, user: User): Promise<string> {
    const schedule = await this.schedules.find(scheduleId);
    const team = schedule?.team_id ? await this.people.getTeam(schedule.team_id).catch(() => null) : null;
    if (!schedule || !(schedule.layers.some((l) => l.members.includes(user.id)) || team?.member_ids.includes(user.id))) {
      throw new DomainError(ErrorCode.SCHEDULE_NOT_FOUND, 'no calendar for this link');
    }
    const now = this.clock.now().getTime();
    const { final, users } = await this.compute(schedule, now - FEED_BACK_MS, now + FEED_AHEAD_MS);
    const events = final.shifts.flatMap((s) => {
      const user = users.get(s.user_id);
      return user ? [this.event(schedule, s, { start: now - FEED_BACK_MS, end: now + FEED_AHEAD_MS }, user)] : [];
    });
    return renderCalendar(`On call: ${schedule.name}`, events, now);
  }

  /**
   * A shift as a calendar event. Its UID must stay the same from one fetch to the next, but the
   * feed's window moves with the clock and cuts the shifts at its edges: a shift is named by an
   * edge the window did not cut (its start, else its end), and the one shift of a person that
   * the window cuts at both ends (it covers all of it) by neither.
   */
  private event(schedule: Schedule, shift: { start: number; end: number; source: string }, window: { start: number; end: number }, user: User): CalendarEvent {
    const { start, end, source } = shift;
    const edge = start > window.start ? `s${start}` : end < window.end ? `e${end}` : 'whole';
    return {
      uid: `${schedule.id}-${edge}-${user.id}@llm-incident-manager`,
      start,
      end,
      summary: `On call: ${schedule.name} (${user.name})`,
      description: source === 'override' ? `${user.name} covers ${schedule.name} (override)` : `${user.name}, layer ${source} of ${schedule.name}`,
    };
  }

  private async onCallView(schedule: Schedule, at: number, tx?: Tx): Promise<OnCallView> {
    const overrides = await this.schedules.overrides(
      [schedule.id],
      new Date(at - ON_CALL_WINDOW_MS).toISOString(),
      new Date(at + ON_CALL_WINDOW_MS).toISOString(),
      tx?.db,
    );
    const users = await this.people.usersByIds([...schedule.layers.flatMap((l) => l.members), ...overrides.map((o) => o.user_id)], tx);
    const { shift, gap } = onCallAt(schedule.layers, overrides.map(toOverride), schedule.time_zone, at, (id) => users.get(id)?.active === true);
    return {
      schedule_id: schedule.id,
      schedule_name: schedule.name,
      at: new Date(at).toISOString(),
      shift: shift ? shiftView(shift, users) : null,
      gap: gap ? gapView(gap, users) : null,
    };
  }

  private async compute(schedule: Schedule, from: number, to: number): Promise<{ final: FinalSchedule; users: Map<string, User> }> {
    const overrides = await this.schedules.overrides([schedule.id], new Date(from).toISOString(), new Date(to).toISOString());
    const users = await this.people.usersByIds([...schedule.layers.flatMap((l) => l.members), ...overrides.map((o) => o.user_id)]);
    const final = finalSchedule(schedule.layers, overrides.map(toOverride), schedule.time_zone, from, to, (id) => users.get(id)?.active === true);
    return { final, users };
  }

  /** Checks what the DTO cannot: zone, rotations, members. Answers the layers to store, if given. */
  private async checkSchedule(dto: UpdateScheduleDto, creating: boolean): Promise<Layer[] | undefined> {
    const issues: FieldIssue[] = [];
    for (const field of ['name', 'time_zone', 'layers'] as const) {
      if ((dto as Record<string, unknown>)[field] === null || (creating && dto[field] === undefined)) issues.push({ field, message: `${field} is required` });
    }
    if (typeof dto.time_zone === 'string' && !isZone(dto.time_zone))
      issues.push({ field: 'time_zone', message: `"${dto.time_zone}" is not an IANA time zone` });
    if (dto.team_id) {
      const team = await this.people.getTeam(dto.team_id).catch(() => null);
      if (!team) issues.push({ field: 'team_id', message: `no team ${dto.team_id}` });
    }
    let layers: Layer[] | undefined;
    if (dto.layers) {
      const users = await this.people.usersByIds(dto.layers.flatMap((l) => l.members));
      layers = dto.layers.map((l, i) => {
        const at = `layers[${i}]`;
        const rotation = parseRotation(l.rotation);
        if (!rotation || rotation.as('milliseconds') < MIN_ROTATION_MS)
          issues.push({ field: `${at}.rotation`, message: `"${l.rotation}" is not daily, weekly or a duration from 1h to 366d such as 12h or 2w` });
        // Luxon's reading, the one the arithmetic uses: 2026-02-30 is no date (Date.parse rolls it over to March).
        if (!DateTime.fromISO(l.start_date, { zone: typeof dto.time_zone === 'string' && isZone(dto.time_zone) ? dto.time_zone : 'UTC' }).isValid)
          issues.push({ field: `${at}.start_date`, message: `"${l.start_date}" is not a date` });
        l.members.forEach((id, j) => {
          if (!users.has(id)) issues.push({ field: `${at}.members[${j}]`, message: `no user ${id}` });
        });
        return {
          name: l.name,
          members: l.members,
          rotation: l.rotation,
          handoff_time: l.handoff_time,
          start_date: l.start_date,
          restrictions: (l.restrictions ?? []).map((r) => ({ days: r.days, start: r.start, end: r.end })),
        };
      });
      const names = new Set<string>();
      layers.forEach((l, i) => {
        if (names.has(l.name)) issues.push({ field: `layers[${i}].name`, message: `two layers are named "${l.name}"` });
        names.add(l.name);
      });
    }
    if (issues.length > 0) throw new ValidationFailed(issues);
    return layers;
  }

  private async unique<T>(name: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw this.taken(name);
      throw err;
    }
  }

  private taken(name: string): DomainError {
    return new DomainError(ErrorCode.NAME_TAKEN, `a schedule named ${name} exists`, { field: 'name' });
  }

  private notFound(id: string): DomainError {
    return new DomainError(ErrorCode.SCHEDULE_NOT_FOUND, `schedule ${id} not found`);
  }
}

function toOverride(o: StoredOverride): Override {
  return { id: o.id, user_id: o.user_id, start: Date.parse(o.starts_at), end: Date.parse(o.ends_at) };
}

function personRef(id: string, users: Map<string, User>): { id: string; name: string; email: string } {
  const user = users.get(id);
  return { id, name: user?.name ?? '(deleted user)', email: user?.email ?? '' };
}

function shiftView(s: { start: number; end: number; user_id: string; source: string; override_id: string | null }, users: Map<string, User>): ShiftView {
  return {
    start: new Date(s.start).toISOString(),
    end: new Date(s.end).toISOString(),
    user: personRef(s.user_id, users),
    source: s.source,
    override_id: s.override_id,
  };
}

function gapView(g: { start: number; end: number; inactive_user_id: string | null }, users: Map<string, User>): GapView {
  return {
    start: new Date(g.start).toISOString(),
    end: new Date(g.end).toISOString(),
    reason: g.inactive_user_id ? `${users.get(g.inactive_user_id)?.name ?? g.inactive_user_id} is deactivated` : 'no layer or override covers this time',
    inactive_user: g.inactive_user_id ? personRef(g.inactive_user_id, users) : null,
  };
}
