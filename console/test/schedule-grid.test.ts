import { describe, expect, it } from 'vitest';
import {
  addDays,
  civilOf,
  colourSlot,
  dayBounds,
  daysOf,
  formatCivil,
  formatDateTime,
  formatDay,
  formatPeriod,
  formatRange,
  formatTime,
  fromLocalInput,
  instantOf,
  offsetAt,
  parseCivil,
  placeOnDays,
  positionOn,
  stepAnchor,
  toLocalInput,
  untilText,
  weekdayOf,
  zonedParts,
  zoneName,
  type CivilDate,
} from '../src/schedule-grid';

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const date = (text: string): CivilDate => parseCivil(text)!;
const HOUR = 3_600_000;

describe('the zone arithmetic', () => {
  it('reads an instant on the zone’s clocks, with its weekday and offset', () => {
    // 2026-01-15 is a Thursday; Berlin is at +1 in winter, +2 in summer; New York at -5 and -4.
    expect(zonedParts(at('2026-01-15T14:32:09Z'), BERLIN)).toEqual({ year: 2026, month: 1, day: 15, hour: 15, minute: 32, second: 9, weekday: 4 });
    expect(zonedParts(at('2026-01-15T23:30:00Z'), BERLIN)).toMatchObject({ day: 16, hour: 0, minute: 30, weekday: 5 });
    expect(offsetAt(at('2026-01-15T14:32:00Z'), BERLIN)).toBe(1 * HOUR);
    expect(offsetAt(at('2026-07-01T12:00:00Z'), BERLIN)).toBe(2 * HOUR);
    expect(offsetAt(at('2026-01-15T14:32:00Z'), NEW_YORK)).toBe(-5 * HOUR);
    expect(offsetAt(at('2026-07-01T12:00:00Z'), NEW_YORK)).toBe(-4 * HOUR);
    expect(offsetAt(at('2026-01-15T14:32:00Z'), 'UTC')).toBe(0);
  });

  it('finds the instant of a wall-clock time, across both daylight-saving changes', () => {
    expect(iso(instantOf(date('2026-01-15'), 9, 0, BERLIN))).toBe('2026-01-15T08:00:00.000Z');
    expect(iso(instantOf(date('2026-07-01'), 9, 0, BERLIN))).toBe('2026-07-01T07:00:00.000Z');
    // Berlin springs from 02:00 CET to 03:00 CEST on 29 March 2026: 02:30 never happens, and is read as 03:30.
    expect(iso(instantOf(date('2026-03-29'), 2, 30, BERLIN))).toBe('2026-03-29T01:30:00.000Z');
    expect(iso(instantOf(date('2026-03-29'), 3, 0, BERLIN))).toBe('2026-03-29T01:00:00.000Z');
    // It falls back from 03:00 CEST to 02:00 CET on 25 October 2026: 02:30 happens twice, the first one counts.
    expect(iso(instantOf(date('2026-10-25'), 2, 30, BERLIN))).toBe('2026-10-25T00:30:00.000Z');
    // New York springs forward at 02:00 on 8 March 2026; midnight is still at -5.
    expect(iso(instantOf(date('2026-03-08'), 0, 0, NEW_YORK))).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(instantOf(date('2026-03-09'), 0, 0, NEW_YORK))).toBe('2026-03-09T04:00:00.000Z');
  });

  it('counts calendar days and weekdays, leap days included', () => {
    expect(addDays(date('2028-02-28'), 1)).toEqual({ year: 2028, month: 2, day: 29 });
    expect(addDays(date('2026-02-28'), 1)).toEqual({ year: 2026, month: 3, day: 1 });
    expect(addDays(date('2026-12-31'), 1)).toEqual({ year: 2027, month: 1, day: 1 });
    expect(addDays(date('2026-01-01'), -1)).toEqual({ year: 2025, month: 12, day: 31 });
    expect(weekdayOf(date('2026-01-12'))).toBe(1);
    expect(weekdayOf(date('2026-01-18'))).toBe(7);
    expect(civilOf(at('2026-01-15T23:30:00Z'), BERLIN)).toEqual({ year: 2026, month: 1, day: 16 });
    expect(civilOf(at('2026-01-15T23:30:00Z'), NEW_YORK)).toEqual({ year: 2026, month: 1, day: 15 });
    expect(parseCivil('2026-02-30')).toBeNull();
    expect(parseCivil('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    expect(parseCivil('26-1-5')).toBeNull();
    expect(parseCivil(undefined)).toBeNull();
    expect(formatCivil({ year: 2026, month: 3, day: 8 })).toBe('2026-03-08');
  });
});

describe('the week and the month shown', () => {
  it('a week runs Monday to Sunday around any of its days', () => {
    const week = (d: string) => daysOf('week', date(d)).map(formatCivil);
    const expected = ['2026-01-12', '2026-01-13', '2026-01-14', '2026-01-15', '2026-01-16', '2026-01-17', '2026-01-18'];
    expect(week('2026-01-15')).toEqual(expected);
    expect(week('2026-01-12')).toEqual(expected);
    expect(week('2026-01-18')).toEqual(expected);
    expect(week('2026-01-19')[0]).toBe('2026-01-19');
    // Across a year's end.
    expect(week('2027-01-01')).toEqual(['2026-12-28', '2026-12-29', '2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02', '2027-01-03']);
  });

  it('a month is its calendar days', () => {
    expect(daysOf('month', date('2026-02-17')).map(formatCivil)).toHaveLength(28);
    expect(daysOf('month', date('2028-02-03')).map(formatCivil).slice(-1)).toEqual(['2028-02-29']);
    expect(daysOf('month', date('2026-01-31'))[0]).toEqual({ year: 2026, month: 1, day: 1 });
    expect(daysOf('month', date('2026-01-31'))).toHaveLength(31);
  });

  it('previous and next move by a week or to the first of the month', () => {
    expect(formatCivil(stepAnchor('week', date('2026-12-31'), 1))).toBe('2027-01-07');
    expect(formatCivil(stepAnchor('week', date('2026-01-15'), -1))).toBe('2026-01-08');
    expect(formatCivil(stepAnchor('month', date('2026-01-31'), 1))).toBe('2026-02-01');
    expect(formatCivil(stepAnchor('month', date('2026-01-15'), -1))).toBe('2025-12-01');
    expect(formatCivil(stepAnchor('month', date('2026-12-15'), 1))).toBe('2027-01-01');
  });

  it('a day runs from local midnight to local midnight: 23 hours in spring, 25 in autumn', () => {
    const [spring] = dayBounds([date('2026-03-29')], BERLIN);
    expect([iso(spring.start), iso(spring.end)]).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    expect((spring.end - spring.start) / HOUR).toBe(23);
    const [autumn] = dayBounds([date('2026-10-25')], BERLIN);
    expect([iso(autumn.start), iso(autumn.end)]).toEqual(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
    expect((autumn.end - autumn.start) / HOUR).toBe(25);
    const [york] = dayBounds([date('2026-03-08')], NEW_YORK);
    expect((york.end - york.start) / HOUR).toBe(23);
  });
});

describe('shifts placed on the days', () => {
  // The final shifts of test/people.spec.ts, Monday 12 to Saturday 17 January 2026 in Berlin (UTC+1).
  const shifts = [
    { start: '2026-01-12T08:00:00.000Z', end: '2026-01-15T14:00:00.000Z', who: 'Sana' },
    { start: '2026-01-15T14:00:00.000Z', end: '2026-01-15T15:00:00.000Z', who: 'Scy' },
    { start: '2026-01-15T15:00:00.000Z', end: '2026-01-16T00:00:00.000Z', who: 'Sana' },
  ];
  const gap = { start: '2026-01-12T00:00:00.000Z', end: '2026-01-12T08:00:00.000Z', who: 'gap' };
  const rows = placeOnDays(dayBounds(daysOf('week', date('2026-01-14')), BERLIN), [...shifts, gap]);
  const simple = (row: (typeof rows)[number]) =>
    row.placed.map((p) => ({ who: p.item.who, left: +p.left.toFixed(3), width: +p.width.toFixed(3), before: p.continuesBefore, after: p.continuesAfter }));

  it('cuts each shift into its days, by the hours on the zone’s clocks', () => {
    expect(rows.map((r) => formatCivil(r.day.date))).toEqual([
      '2026-01-12',
      '2026-01-13',
      '2026-01-14',
      '2026-01-15',
      '2026-01-16',
      '2026-01-17',
      '2026-01-18',
    ]);
    // Monday: the gap from 01:00 to 09:00 local (sorted first by its start), then Sana from 09:00 on.
    expect(simple(rows[0])).toEqual([
      { who: 'gap', left: 4.167, width: 33.333, before: false, after: false },
      { who: 'Sana', left: 37.5, width: 62.5, before: false, after: true },
    ]);
    expect(simple(rows[1])).toEqual([{ who: 'Sana', left: 0, width: 100, before: true, after: true }]);
    // Thursday: Sana to 15:00, Scy 15:00 to 16:00, Sana again to 01:00 the next day.
    expect(simple(rows[3])).toEqual([
      { who: 'Sana', left: 0, width: 62.5, before: true, after: false },
      { who: 'Scy', left: 62.5, width: 4.167, before: false, after: false },
      { who: 'Sana', left: 66.667, width: 33.333, before: false, after: true },
    ]);
    expect(simple(rows[4])).toEqual([{ who: 'Sana', left: 0, width: 4.167, before: true, after: false }]);
    expect(rows[5].placed).toEqual([]);
  });

  it('places by the share of a 23-hour day, and pieces that meet touch exactly', () => {
    const day = dayBounds([date('2026-03-29')], BERLIN);
    const [row] = placeOnDays(day, [
      // Midnight to noon local is 11 hours of 23 that day; noon to midnight the other 12.
      { start: '2026-03-28T23:00:00.000Z', end: '2026-03-29T10:00:00.000Z' },
      { start: '2026-03-29T10:00:00.000Z', end: '2026-03-29T22:00:00.000Z' },
    ]);
    expect(row.placed[0].width).toBeCloseTo((11 / 23) * 100, 9);
    expect(row.placed[1].left).toBe(row.placed[0].left + row.placed[0].width);
    expect(row.placed[1].left + row.placed[1].width).toBeCloseTo(100, 9);
    expect(positionOn(day[0], at('2026-03-29T10:00:00Z'))).toBeCloseTo((11 / 23) * 100, 9);
    expect(positionOn(day[0], at('2026-03-29T22:00:00Z'))).toBeNull();
  });

  it('leaves out what only touches a day', () => {
    const [row] = placeOnDays(dayBounds([date('2026-01-13')], BERLIN), [{ start: '2026-01-12T08:00:00.000Z', end: '2026-01-12T23:00:00.000Z' }]);
    expect(row.placed).toEqual([]);
  });
});

describe('times in the schedule’s zone', () => {
  it('formats on the zone’s clocks, whatever the browser’s own zone', () => {
    expect(formatTime('2026-01-15T14:32:00Z', BERLIN, 'en-GB')).toBe('15:32');
    expect(formatTime('2026-01-15T14:32:00Z', NEW_YORK, 'en-GB')).toBe('09:32');
    expect(formatTime('2026-01-15T23:05:00Z', BERLIN, 'en-US')).toBe('00:05');
    expect(formatDateTime('2026-01-15T14:32:00Z', BERLIN, 'en-GB')).toBe('Thu 15 Jan, 15:32');
    expect(formatDay(date('2026-01-12'), 'en-GB')).toBe('Mon 12 Jan');
    expect(zoneName('2026-01-15T14:32:00Z', BERLIN, 'en-GB')).toBe('CET');
    expect(zoneName('2026-07-01T12:00:00Z', BERLIN, 'en-GB')).toBe('CEST');
    expect(zoneName('2026-07-01T12:00:00Z', NEW_YORK, 'en-US')).toBe('EDT');
  });

  it('a range names the day once when it ends on the same day', () => {
    expect(formatRange('2026-01-15T14:00:00Z', '2026-01-15T15:00:00Z', BERLIN, 'en-GB')).toBe('Thu 15 Jan, 15:00–16:00');
    expect(formatRange('2026-01-15T15:00:00Z', '2026-01-16T00:00:00Z', BERLIN, 'en-GB')).toBe('Thu 15 Jan, 16:00 – Fri 16 Jan, 01:00');
    expect(formatPeriod('week', daysOf('week', date('2026-01-15')), 'en-GB')).toBe('12 Jan – 18 Jan 2026');
    expect(formatPeriod('month', daysOf('month', date('2026-01-15')), 'en-GB')).toBe('January 2026');
  });

  it('says how soon a hand-off is', () => {
    const now = at('2026-01-15T14:32:00Z');
    expect(untilText(now + 45 * 60_000, now)).toBe('in 45 min');
    expect(untilText(now + 3 * HOUR + 20 * 60_000, now)).toBe('in 3 h 20 min');
    expect(untilText(now + 3 * HOUR, now)).toBe('in 3 h');
    expect(untilText(now + 52 * HOUR, now)).toBe('in 2 d 4 h');
    expect(untilText(now + 72 * HOUR, now)).toBe('in 3 d');
    expect(untilText(now - 60_000, now)).toBe('now');
  });

  it('reads and fills a datetime-local input in the zone', () => {
    expect(toLocalInput(at('2026-01-15T14:32:40Z'), BERLIN)).toBe('2026-01-15T15:32');
    expect(toLocalInput(at('2026-01-15T14:32:40Z'), NEW_YORK)).toBe('2026-01-15T09:32');
    expect(iso(fromLocalInput('2026-07-01T09:00', BERLIN)!)).toBe('2026-07-01T07:00:00.000Z');
    expect(iso(fromLocalInput('2026-01-15T09:32', NEW_YORK)!)).toBe('2026-01-15T14:32:00.000Z');
    expect(fromLocalInput('2026-02-30T10:00', BERLIN)).toBeNull();
    expect(fromLocalInput('2026-01-15T24:00', BERLIN)).toBeNull();
    expect(fromLocalInput('', BERLIN)).toBeNull();
  });

  it('gives each person the same colour every time', () => {
    const id = '3f0c8a52-3d4c-4a51-9e6a-1f7f4a9b2c10';
    expect(colourSlot(id, 6)).toBe(colourSlot(id, 6));
    expect(colourSlot(id, 6)).toBeGreaterThanOrEqual(0);
    expect(colourSlot(id, 6)).toBeLessThan(6);
    const slots = new Set(Array.from({ length: 60 }, (_, i) => colourSlot(`user-${i}`, 6)));
    expect(slots.size).toBe(6);
  });
});
