import { finalSchedule, onCallAt } from '../src/people/schedules/final-shifts';
import { Layer, layerShifts, parseRotation, restrictionSpans } from '../src/people/schedules/layer-shifts';

/**
 * Rotation, restriction, layer and override arithmetic. Every expected instant is written by
 * hand in UTC from the zone's published rules (Europe/Berlin: CET +01:00, CEST +02:00 from the
 * last Sunday of March to the last Sunday of October; America/New_York: EST -05:00, EDT -04:00
 * from the second Sunday of March to the first Sunday of November).
 */

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const layer = (over: Partial<Layer>): Layer => ({
  name: 'primary',
  members: ['ana', 'ben'],
  rotation: 'weekly',
  handoff_time: '09:00',
  start_date: '2027-03-22',
  restrictions: [],
  ...over,
});
const spans = (list: { start: number; end: number; user_id?: string }[]) => list.map((s) => [iso(s.start), iso(s.end), ...(s.user_id ? [s.user_id] : [])]);
const everyoneActive = () => true;

describe('rotations across daylight-saving changes', () => {
  it('a weekly Monday 09:00 hand-off in Europe/Berlin stays at 09:00 local across the March change', () => {
    const shifts = layerShifts(layer({}), 'Europe/Berlin', t('2027-03-22T00:00:00Z'), t('2027-04-06T00:00:00Z'));
    expect(spans(shifts)).toEqual([
      ['2027-03-22T08:00:00.000Z', '2027-03-29T07:00:00.000Z', 'ana'], // 09:00 CET to 09:00 CEST: 167 hours
      ['2027-03-29T07:00:00.000Z', '2027-04-05T07:00:00.000Z', 'ben'],
      ['2027-04-05T07:00:00.000Z', '2027-04-06T00:00:00.000Z', 'ana'],
    ]);
  });

  it('and across the October change', () => {
    const shifts = layerShifts(layer({}), 'Europe/Berlin', t('2027-10-25T00:00:00Z'), t('2027-11-08T12:00:00Z'));
    // 31 weeks after 2027-03-22: ben's turn (odd week).
    expect(spans(shifts)).toEqual([
      ['2027-10-25T00:00:00.000Z', '2027-10-25T07:00:00.000Z', 'ana'],
      ['2027-10-25T07:00:00.000Z', '2027-11-01T08:00:00.000Z', 'ben'], // 09:00 CEST to 09:00 CET: 169 hours
      ['2027-11-01T08:00:00.000Z', '2027-11-08T08:00:00.000Z', 'ana'],
      ['2027-11-08T08:00:00.000Z', '2027-11-08T12:00:00.000Z', 'ben'],
    ]);
  });

  it('a daily 09:00 hand-off in America/New_York: a 23-hour shift in March and a 25-hour one in November', () => {
    const ny = layer({ rotation: 'daily', start_date: '2027-03-01', members: ['ana', 'ben', 'cy'] });
    expect(spans(layerShifts(ny, 'America/New_York', t('2027-03-13T14:00:00Z'), t('2027-03-15T13:00:00Z')))).toEqual([
      ['2027-03-13T14:00:00.000Z', '2027-03-14T13:00:00.000Z', 'ana'], // day 12 of the rotation: 12 % 3 = 0
      ['2027-03-14T13:00:00.000Z', '2027-03-15T13:00:00.000Z', 'ben'],
    ]);
    expect(spans(layerShifts(ny, 'America/New_York', t('2027-11-06T13:00:00Z'), t('2027-11-08T14:00:00Z')))).toEqual([
      ['2027-11-06T13:00:00.000Z', '2027-11-07T14:00:00.000Z', 'ben'], // day 250 of the rotation: 250 % 3 = 1
      ['2027-11-07T14:00:00.000Z', '2027-11-08T14:00:00.000Z', 'cy'],
    ]);
  });

  it('a 12-hour rotation counts elapsed hours, so its local hand-off moves by the change', () => {
    const shifts = layerShifts(
      layer({ rotation: '12h', start_date: '2027-03-27', handoff_time: '08:00' }),
      'Europe/Berlin',
      t('2027-03-27T07:00:00Z'),
      t('2027-03-28T19:00:00Z'),
    );
    expect(spans(shifts)).toEqual([
      ['2027-03-27T07:00:00.000Z', '2027-03-27T19:00:00.000Z', 'ana'],
      ['2027-03-27T19:00:00.000Z', '2027-03-28T07:00:00.000Z', 'ben'], // 09:00 CEST: one hour later on the wall
      ['2027-03-28T07:00:00.000Z', '2027-03-28T19:00:00.000Z', 'ana'],
    ]);
  });

  it('a hand-off in the hour skipped by spring-forward moves on by the gap, and is back the day after', () => {
    const shifts = layerShifts(
      layer({ rotation: 'daily', start_date: '2027-03-27', handoff_time: '02:30' }),
      'Europe/Berlin',
      t('2027-03-27T00:00:00Z'),
      t('2027-03-29T12:00:00Z'),
    );
    expect(spans(shifts)).toEqual([
      ['2027-03-27T01:30:00.000Z', '2027-03-28T01:30:00.000Z', 'ana'], // 02:30 CET; 02:30 on the 28th does not exist: 03:30 CEST
      ['2027-03-28T01:30:00.000Z', '2027-03-29T00:30:00.000Z', 'ben'], // 02:30 CEST
      ['2027-03-29T00:30:00.000Z', '2027-03-29T12:00:00.000Z', 'ana'],
    ]);
  });
});

describe('hand-offs and windows in the hour a spring-forward change skips', () => {
  it('a layer whose first hand-off falls in the skipped hour hands off at the written time from the next day on', () => {
    const shifts = layerShifts(
      layer({ rotation: 'daily', start_date: '2027-03-28', handoff_time: '02:30' }),
      'Europe/Berlin',
      t('2027-03-28T00:00:00Z'),
      t('2027-03-30T12:00:00Z'),
    );
    expect(spans(shifts)).toEqual([
      ['2027-03-28T01:30:00.000Z', '2027-03-29T00:30:00.000Z', 'ana'], // 03:30 CEST (02:30 does not exist), then 02:30 CEST
      ['2027-03-29T00:30:00.000Z', '2027-03-30T00:30:00.000Z', 'ben'],
      ['2027-03-30T00:30:00.000Z', '2027-03-30T12:00:00.000Z', 'ana'],
    ]);
  });

  it('a 02:00–03:00 window is empty on the change day, not a day long', () => {
    const allowed = restrictionSpans(
      [{ days: ['sat', 'sun', 'mon'], start: '02:00', end: '03:00' }],
      'Europe/Berlin',
      t('2027-03-27T00:00:00Z'),
      t('2027-03-30T00:00:00Z'),
    );
    expect(spans(allowed)).toEqual([
      ['2027-03-27T01:00:00.000Z', '2027-03-27T02:00:00.000Z'], // Saturday, CET
      ['2027-03-29T00:00:00.000Z', '2027-03-29T01:00:00.000Z'], // Monday, CEST
    ]);
  });
});

describe('leap day', () => {
  it('a daily rotation gives 29 February its own shift', () => {
    const l = layer({ rotation: 'daily', start_date: '2028-02-27', members: ['ana', 'ben', 'cy'], handoff_time: '00:00' });
    expect(spans(layerShifts(l, 'UTC', t('2028-02-27T00:00:00Z'), t('2028-03-02T00:00:00Z')))).toEqual([
      ['2028-02-27T00:00:00.000Z', '2028-02-28T00:00:00.000Z', 'ana'],
      ['2028-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z', 'ben'],
      ['2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z', 'cy'],
      ['2028-03-01T00:00:00.000Z', '2028-03-02T00:00:00.000Z', 'ana'],
    ]);
  });

  it('a weekly rotation starting on 29 February hands off on 7 March, and a year later on the same weekday', () => {
    const l = layer({ start_date: '2028-02-29', handoff_time: '10:00' });
    expect(spans(layerShifts(l, 'Europe/Berlin', t('2028-02-29T09:00:00Z'), t('2028-03-08T00:00:00Z')))).toEqual([
      ['2028-02-29T09:00:00.000Z', '2028-03-07T09:00:00.000Z', 'ana'],
      ['2028-03-07T09:00:00.000Z', '2028-03-08T00:00:00.000Z', 'ben'],
    ]);
    // 52 weeks later: Tuesday 2029-02-27, ana again (52 is even).
    const later = layerShifts(l, 'Europe/Berlin', t('2029-02-27T00:00:00Z'), t('2029-02-28T00:00:00Z'));
    expect(spans(later)).toEqual([
      ['2029-02-27T00:00:00.000Z', '2029-02-27T09:00:00.000Z', 'ben'],
      ['2029-02-27T09:00:00.000Z', '2029-02-28T00:00:00.000Z', 'ana'],
    ]);
  });
});

describe('restrictions', () => {
  it('weekdays 09:00–17:00 in Europe/Berlin follow local time across the change', () => {
    const allowed = restrictionSpans(
      [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
      'Europe/Berlin',
      t('2027-03-26T00:00:00Z'),
      t('2027-03-30T00:00:00Z'),
    );
    expect(spans(allowed)).toEqual([
      ['2027-03-26T08:00:00.000Z', '2027-03-26T16:00:00.000Z'], // Friday, CET
      ['2027-03-29T07:00:00.000Z', '2027-03-29T15:00:00.000Z'], // Monday, CEST
    ]);
  });

  it('a window past midnight belongs to the day it starts on, and cuts the rotation', () => {
    const nights = layer({
      rotation: 'daily',
      start_date: '2027-01-04',
      handoff_time: '12:00',
      restrictions: [{ days: ['fri'], start: '22:00', end: '06:00' }],
    });
    expect(spans(layerShifts(nights, 'UTC', t('2027-01-07T00:00:00Z'), t('2027-01-10T00:00:00Z')))).toEqual([
      ['2027-01-08T22:00:00.000Z', '2027-01-09T06:00:00.000Z', 'ana'], // day 4 from noon Friday (ana), not the Saturday shift
    ]);
  });
});

describe('layers, overrides and gaps', () => {
  const base = layer({ name: 'base', members: ['ana', 'ben'], start_date: '2027-01-04', handoff_time: '00:00' });
  const business = layer({
    name: 'business hours',
    members: ['cy'],
    start_date: '2027-01-04',
    handoff_time: '00:00',
    restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  });

  it('a higher layer wins where it covers; the lower one covers the rest', () => {
    const final = finalSchedule([base, business], [], 'UTC', t('2027-01-04T00:00:00Z'), t('2027-01-05T00:00:00Z'), everyoneActive);
    expect(final.shifts.map((s) => [iso(s.start), iso(s.end), s.user_id, s.source])).toEqual([
      ['2027-01-04T00:00:00.000Z', '2027-01-04T09:00:00.000Z', 'ana', 'base'],
      ['2027-01-04T09:00:00.000Z', '2027-01-04T17:00:00.000Z', 'cy', 'business hours'],
      ['2027-01-04T17:00:00.000Z', '2027-01-05T00:00:00.000Z', 'ana', 'base'],
    ]);
    expect(final.gaps).toEqual([]);
  });

  it('an override wins over every layer, and the later of two overlapping overrides wins', () => {
    const overrides = [
      { id: 'o1', user_id: 'dee', start: t('2027-01-04T08:00:00Z'), end: t('2027-01-04T10:00:00Z') },
      { id: 'o2', user_id: 'eve', start: t('2027-01-04T09:30:00Z'), end: t('2027-01-04T11:00:00Z') },
    ];
    const final = finalSchedule([base, business], overrides, 'UTC', t('2027-01-04T07:00:00Z'), t('2027-01-04T12:00:00Z'), everyoneActive);
    expect(final.shifts.map((s) => [iso(s.start), iso(s.end), s.user_id, s.override_id])).toEqual([
      ['2027-01-04T07:00:00.000Z', '2027-01-04T08:00:00.000Z', 'ana', null],
      ['2027-01-04T08:00:00.000Z', '2027-01-04T09:30:00.000Z', 'dee', 'o1'],
      ['2027-01-04T09:30:00.000Z', '2027-01-04T11:00:00.000Z', 'eve', 'o2'],
      ['2027-01-04T11:00:00.000Z', '2027-01-04T12:00:00.000Z', 'cy', null],
    ]);
  });

  it('time nobody covers is a gap, and so is a deactivated user’s time (never their lower layer silently)', () => {
    const final = finalSchedule([business], [], 'UTC', t('2027-01-04T00:00:00Z'), t('2027-01-05T00:00:00Z'), (id) => id !== 'cy');
    expect(final.shifts).toEqual([]);
    expect(final.gaps.map((g) => [iso(g.start), iso(g.end), g.inactive_user_id])).toEqual([
      ['2027-01-04T00:00:00.000Z', '2027-01-04T09:00:00.000Z', null],
      ['2027-01-04T09:00:00.000Z', '2027-01-04T17:00:00.000Z', 'cy'],
      ['2027-01-04T17:00:00.000Z', '2027-01-05T00:00:00.000Z', null],
    ]);
  });

  it('before a layer starts nobody is on call', () => {
    const { shift, gap } = onCallAt([base], [], 'UTC', t('2027-01-03T12:00:00Z'), everyoneActive);
    expect(shift).toBeNull();
    expect(gap && [iso(gap.start), iso(gap.end)]).toEqual(['2026-12-26T12:00:00.000Z', '2027-01-04T00:00:00.000Z']);
  });

  it('on call at an instant: the whole shift holding it', () => {
    const { shift } = onCallAt([base], [], 'UTC', t('2027-01-06T12:00:00Z'), everyoneActive);
    expect(shift && [iso(shift.start), iso(shift.end), shift.user_id]).toEqual(['2027-01-04T00:00:00.000Z', '2027-01-11T00:00:00.000Z', 'ana']);
  });
});

describe('rotation lengths', () => {
  it.each([
    ['daily', { days: 1 }],
    ['weekly', { weeks: 1 }],
    ['12h', { hours: 12 }],
    ['2w', { weeks: 2 }],
    ['1d12h', { days: 1, hours: 12 }],
  ])('%s', (written, expected) => {
    expect(parseRotation(written)?.toObject()).toEqual(expected);
  });

  it.each(['', 'fortnightly', '0h', '1x', '1h1h', '-1d', '53w', '9999999999999999999w'])('refuses %j', (written) => {
    expect(parseRotation(written)).toBeNull();
  });
});
