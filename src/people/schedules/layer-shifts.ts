import { DateTime, Duration, IANAZone } from 'luxon';

/**
 * A schedule's layers as stored, and the arithmetic that turns one layer into shifts. All zone
 * arithmetic is Luxon's: days and weeks are calendar units in the schedule's time zone (a
 * Monday 09:00 hand-off stays at 09:00 local across daylight-saving changes), hours and minutes
 * are elapsed time.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Times of day at which a layer is on: for example weekdays 09:00–17:00. An end at or before the start runs past midnight. */
export interface Restriction {
  days: Weekday[];
  /** HH:mm, local to the schedule. */
  start: string;
  end: string;
}

export interface Layer {
  name: string;
  /** User ids, in rotation order. */
  members: string[];
  /** `daily`, `weekly`, or a duration such as `12h`, `2d`, `2w`. */
  rotation: string;
  /** HH:mm, local to the schedule: when one member hands off to the next. */
  handoff_time: string;
  /** YYYY-MM-DD, local to the schedule: the first member's first shift starts on this day at handoff_time. */
  start_date: string;
  restrictions: Restriction[];
}

/** A span of time, as epoch milliseconds, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

export interface LayerShift extends Span {
  user_id: string;
}

const ROTATION_UNITS: Record<string, 'weeks' | 'days' | 'hours' | 'minutes'> = { w: 'weeks', d: 'days', h: 'hours', m: 'minutes' };
export const MIN_ROTATION_MS = 60 * 60 * 1000;
/** A year: a longer rotation is surely a typing mistake (and past 2^53 ms it is no number at all). */
export const MAX_ROTATION_MS = 366 * 24 * 60 * 60 * 1000;

/** The rotation as a Luxon duration, or null when it is not one of the forms above. */
export function parseRotation(rotation: string): Duration | null {
  if (rotation === 'daily') return Duration.fromObject({ days: 1 });
  if (rotation === 'weekly') return Duration.fromObject({ weeks: 1 });
  if (!/^(\d+[wdhm])+$/.test(rotation)) return null;
  const parts: Record<string, number> = {};
  for (const [, n, unit] of rotation.matchAll(/(\d+)([wdhm])/g)) {
    const key = ROTATION_UNITS[unit];
    if (parts[key] !== undefined) return null;
    parts[key] = Number(n);
  }
  const duration = Duration.fromObject(parts);
  const ms = duration.as('milliseconds');
  return ms > 0 && ms <= MAX_ROTATION_MS ? duration : null;
}

export function isTimeOfDay(value: string): boolean {
  return /^([01]\d|2[0-3]):[0-5]\d$/.test(value);
}

export function isZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

function timeOfDay(value: string): { hour: number; minute: number } {
  const [hour, minute] = value.split(':').map(Number);
  return { hour, minute };
}

/** The instant a local date and time of day names in the zone (a time skipped by a spring-forward change moves on by the gap, as Luxon does). */
function localInstant(date: DateTime, time: string): DateTime {
  return date.set({ ...timeOfDay(time), second: 0, millisecond: 0 });
}

/**
 * localInstant in epoch milliseconds, remembered: Luxon finds a zone's offset through Intl (about
 * 10 µs a call), and restrictions ask for the same few times of the same days again and again,
 * layer after layer (bench/schedules.js: the largest schedule over a quarter went from 1.1 s to
 * the figure in docs/people.md). Bounded: cleared when full.
 */
const instants = new Map<string, number>();
function localInstantMs(date: DateTime, time: string): number {
  const key = `${date.zoneName}|${date.year}|${date.ordinal}|${time}`;
  let ms = instants.get(key);
  if (ms === undefined) {
    if (instants.size >= 100_000) instants.clear();
    ms = localInstant(date, time).toMillis();
    instants.set(key, ms);
  }
  return ms;
}

/**
 * The start of rotation period `n` (0 = the layer's start), computed from the anchor each time so
 * that calendar units never drift. Hours and minutes are elapsed time: plain arithmetic (a 1-hour
 * rotation has thousands of periods in a quarter, and Luxon's calendar math costs microseconds each).
 */
function periodStarts(startDay: DateTime, handoff: string, rotation: Duration): (n: number) => number {
  const { weeks = 0, days = 0, hours = 0, minutes = 0 } = rotation.toObject();
  const elapsedMs = (hours * 60 + minutes) * 60_000;
  const base = localInstantMs(startDay, handoff);
  if (weeks === 0 && days === 0) return (n) => base + n * elapsedMs;
  // From the civil date each time: a first hand-off in an hour a spring-forward change skipped
  // moves on by the gap that day only, and the next ones are at the hand-off time again.
  const stepDays = weeks * 7 + days;
  return (n) => localInstantMs(startDay.plus({ days: stepDays * n }), handoff) + n * elapsedMs;
}

/** A layer's shifts that overlap [from, to), before restrictions, clipped to it. */
function rotationShifts(layer: Layer, zone: string, from: number, to: number): LayerShift[] {
  const rotation = parseRotation(layer.rotation);
  if (!rotation || layer.members.length === 0) return [];
  const startDay = DateTime.fromISO(layer.start_date, { zone });
  if (!startDay.isValid) return [];
  const periodStart = periodStarts(startDay, layer.handoff_time, rotation);
  const nominal = rotation.as('milliseconds');
  // The estimate may be off by one where a period held a daylight-saving change: step to the period holding `from`.
  let n = Math.max(0, Math.floor((from - periodStart(0)) / nominal));
  while (n > 0 && periodStart(n) > from) n--;
  while (periodStart(n + 1) <= from) n++;
  const shifts: LayerShift[] = [];
  for (let start = periodStart(n); start < to; n++) {
    const end = periodStart(n + 1);
    if (end > from) shifts.push({ start: Math.max(start, from), end: Math.min(end, to), user_id: layer.members[n % layer.members.length] });
    start = end;
  }
  return shifts;
}

/** The spans within [from, to) that a layer's restrictions allow, in order and merged. */
export function restrictionSpans(restrictions: Restriction[], zone: string, from: number, to: number): Span[] {
  const spans: Span[] = [];
  // A window that runs past midnight starts on the day before: begin a day early.
  let day = DateTime.fromMillis(from, { zone }).startOf('day').minus({ days: 1 });
  for (; day.toMillis() < to; day = day.plus({ days: 1 })) {
    const weekday = WEEKDAYS[day.weekday - 1];
    let next: DateTime | null = null;
    for (const r of restrictions) {
      if (!r.days.includes(weekday)) continue;
      const start = localInstantMs(day, r.start);
      // Past midnight as written (end at or before start), not as computed: on a spring-forward
      // day 02:00–03:00 both land on 03:00, and that window is empty, not a day long.
      const end = r.end <= r.start ? localInstantMs((next ??= day.plus({ days: 1 })), r.end) : localInstantMs(day, r.end);
      const s = Math.max(start, from);
      const e = Math.min(end, to);
      if (s < e) spans.push({ start: s, end: e });
    }
  }
  spans.sort((a, b) => a.start - b.start);
  const merged: Span[] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else merged.push({ ...span });
  }
  return merged;
}

/** Who a layer puts on call within [from, to): its rotation's shifts, cut to its restrictions. */
export function layerShifts(layer: Layer, zone: string, from: number, to: number): LayerShift[] {
  const shifts = rotationShifts(layer, zone, from, to);
  if (layer.restrictions.length === 0) return shifts;
  const allowed = restrictionSpans(layer.restrictions, zone, from, to);
  const out: LayerShift[] = [];
  let i = 0;
  for (const shift of shifts) {
    while (i < allowed.length && allowed[i].end <= shift.start) i++;
    for (let j = i; j < allowed.length && allowed[j].start < shift.end; j++) {
      const start = Math.max(shift.start, allowed[j].start);
      const end = Math.min(shift.end, allowed[j].end);
      if (start < end) out.push({ start, end, user_id: shift.user_id });
    }
  }
  return out;
}
