/**
 * Times in a schedule's own time zone, and shifts placed on a week or a month of days, with the
 * browser's Intl alone (no time-zone library in the bundle). A day is local midnight to the next
 * local midnight in the zone, so it is 23 or 25 hours long across a daylight-saving change, and a
 * shift is placed by its share of that day.
 */

/** A date on the calendar, as people in the zone read it (month 1 to 12). */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

export interface ZonedParts extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  /** ISO weekday: 1 Monday … 7 Sunday. */
  weekday: number;
}

export type View = 'week' | 'month';

/** One day of the grid: its date and the instants it starts and ends at in the zone. */
export interface Day {
  date: CivilDate;
  start: number;
  end: number;
}

/** What a shift or a gap needs to be placed. */
export interface Span {
  start: string;
  end: string;
}

/** A span's piece on one day: from `left` % of the day, `width` % wide. */
export interface Placed<T extends Span> {
  item: T;
  left: number;
  width: number;
  /** The span began on an earlier day, or goes on into the next. */
  continuesBefore: boolean;
  continuesAfter: boolean;
}

export interface DayRow<T extends Span> {
  day: Day;
  placed: Placed<T>[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

const partsFormats = new Map<string, Intl.DateTimeFormat>();
function partsFormat(timeZone: string): Intl.DateTimeFormat {
  let format = partsFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormats.set(timeZone, format);
  }
  return format;
}

/** The wall-clock reading of an instant in the zone. */
export function zonedParts(at: number, timeZone: string): ZonedParts {
  const parts: Record<string, string> = {};
  for (const part of partsFormat(timeZone).formatToParts(at)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS[parts.weekday] ?? 0,
  };
}

/** How far the zone's clock is ahead of UTC at the instant, in ms (Berlin in winter: 3,600,000). */
export function offsetAt(at: number, timeZone: string): number {
  const whole = Math.floor(at / 1000) * 1000;
  const p = zonedParts(whole, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

/**
 * The instant the zone's clocks show this date and time. A time that occurs twice (clocks put
 * back) is its first occurrence; one that never occurs (clocks put forward) is read with the
 * offset from before the change, as Luxon does: 02:30 on the spring change in Berlin is 03:30.
 */
export function instantOf(date: CivilDate, hour: number, minute: number, timeZone: string): number {
  const local = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  const candidates = [...new Set([offsetAt(local - DAY_MS, timeZone), offsetAt(local, timeZone), offsetAt(local + DAY_MS, timeZone)])].map(
    (offset) => local - offset,
  );
  const consistent = candidates.filter((at) => local - at === offsetAt(at, timeZone));
  return consistent.length > 0 ? Math.min(...consistent) : Math.max(...candidates);
}

export function civilOf(at: number, timeZone: string): CivilDate {
  const { year, month, day } = zonedParts(at, timeZone);
  return { year, month, day };
}

export function addDays(date: CivilDate, days: number): CivilDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** ISO weekday of a date: 1 Monday … 7 Sunday. */
export function weekdayOf(date: CivilDate): number {
  return ((new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7) + 1;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function formatCivil(date: CivilDate): string {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

export function parseCivil(text: string | undefined): CivilDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text ?? '');
  if (!m) return null;
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  return formatCivil(addDays(date, 0)) === m[0] ? date : null;
}

/** The days a view shows around a date: its week, Monday to Sunday, or its calendar month. */
export function daysOf(view: View, anchor: CivilDate): CivilDate[] {
  if (view === 'week') {
    const monday = addDays(anchor, 1 - weekdayOf(anchor));
    return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
  }
  const days: CivilDate[] = [];
  for (let d: CivilDate = { year: anchor.year, month: anchor.month, day: 1 }; d.month === anchor.month; d = addDays(d, 1)) days.push(d);
  return days;
}

/** The date the previous (-1) or next (1) week or month is shown around. */
export function stepAnchor(view: View, anchor: CivilDate, direction: 1 | -1): CivilDate {
  if (view === 'week') return addDays(anchor, 7 * direction);
  const d = new Date(Date.UTC(anchor.year, anchor.month - 1 + direction, 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: 1 };
}

/** Each date's start and end in the zone: local midnight to the next local midnight. */
export function dayBounds(dates: CivilDate[], timeZone: string): Day[] {
  return dates.map((date) => ({ date, start: instantOf(date, 0, 0, timeZone), end: instantOf(addDays(date, 1), 0, 0, timeZone) }));
}

/**
 * Shifts (or gaps) on the grid: each one cut into its pieces per day, each piece placed by its
 * share of its own day. A piece that ends where the next begins touches it exactly.
 */
export function placeOnDays<T extends Span>(days: Day[], items: T[]): DayRow<T>[] {
  const spans = items.map((item) => ({ item, start: Date.parse(item.start), end: Date.parse(item.end) })).sort((a, b) => a.start - b.start);
  return days.map((day) => {
    const length = day.end - day.start;
    const placed: Placed<T>[] = [];
    for (const span of spans) {
      const from = Math.max(span.start, day.start);
      const to = Math.min(span.end, day.end);
      if (to <= from) continue;
      placed.push({
        item: span.item,
        left: ((from - day.start) / length) * 100,
        width: ((to - from) / length) * 100,
        continuesBefore: span.start < day.start,
        continuesAfter: span.end > day.end,
      });
    }
    return { day, placed };
  });
}

/** Where an instant falls on its day's row, in % (null when it is not on that day). */
export function positionOn(day: Day, at: number): number | null {
  return at >= day.start && at < day.end ? ((at - day.start) / (day.end - day.start)) * 100 : null;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(locale: string | undefined, timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale ?? ''}|${timeZone}|${JSON.stringify(options)}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { timeZone, ...options });
    formats.set(key, f);
  }
  return f;
}

const TIME: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
const DAY: Intl.DateTimeFormatOptions = { weekday: 'short', day: 'numeric', month: 'short' };

/** "15:32" on the zone's clocks. */
export function formatTime(at: number | string, timeZone: string, locale?: string): string {
  return format(locale, timeZone, TIME).format(new Date(at));
}

/** "Thu, 15 Jan, 15:32" on the zone's clocks (the order and words are the locale's). */
export function formatDateTime(at: number | string, timeZone: string, locale?: string): string {
  return format(locale, timeZone, { ...DAY, ...TIME }).format(new Date(at));
}

/** A date as a row label: "Mon, 12 Jan". */
export function formatDay(date: CivilDate, locale?: string): string {
  return format(locale, 'UTC', DAY).format(Date.UTC(date.year, date.month - 1, date.day));
}

/** The zone's short name at the instant: "CET", "CEST", "GMT+1", as the locale names it. */
export function zoneName(at: number | string, timeZone: string, locale?: string): string {
  const part = format(locale, timeZone, { timeZoneName: 'short' })
    .formatToParts(new Date(at))
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/** "Thu, 15 Jan, 15:00–16:00", or both dates when it ends on another day. */
export function formatRange(start: number | string, end: number | string, timeZone: string, locale?: string): string {
  const [from, to] = [new Date(start).getTime(), new Date(end).getTime()];
  const sameDay = formatCivil(civilOf(from, timeZone)) === formatCivil(civilOf(to, timeZone));
  return `${formatDateTime(from, timeZone, locale)}${sameDay ? '–' : ' – '}${sameDay ? formatTime(to, timeZone, locale) : formatDateTime(to, timeZone, locale)}`;
}

/** What the grid shows: "12 Jan – 18 Jan 2026", or "January 2026". */
export function formatPeriod(view: View, dates: CivilDate[], locale?: string): string {
  const first = dates[0];
  const last = dates[dates.length - 1];
  const utc = (d: CivilDate) => Date.UTC(d.year, d.month - 1, d.day);
  if (view === 'month') return format(locale, 'UTC', { month: 'long', year: 'numeric' }).format(utc(first));
  const dayMonth = format(locale, 'UTC', { day: 'numeric', month: 'short' });
  return `${dayMonth.format(utc(first))} – ${format(locale, 'UTC', { day: 'numeric', month: 'short', year: 'numeric' }).format(utc(last))}`;
}

/** "in 3 h 20 min", "in 45 min", "in 2 d 4 h": how long until a hand-off. */
export function untilText(at: number, now: number): string {
  const minutes = Math.round((at - now) / 60_000);
  if (minutes <= 0) return 'now';
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  const days = Math.floor(hours / 24);
  return `in ${days} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

/** An instant as a datetime-local input shows it in the zone: "2026-01-15T15:32". */
export function toLocalInput(at: number, timeZone: string): string {
  const p = zonedParts(at, timeZone);
  return `${formatCivil(p)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** A datetime-local input's value read in the zone, or null when it is not one. */
export function fromLocalInput(value: string, timeZone: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})$/.exec(value);
  const date = m ? parseCivil(m[1]) : null;
  if (!m || !date || Number(m[2]) > 23 || Number(m[3]) > 59) return null;
  return instantOf(date, Number(m[2]), Number(m[3]), timeZone);
}

/** A colour slot (0 … slots-1) per person, the same on every page and every reload. */
export function colourSlot(id: string, slots: number): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % slots;
}
