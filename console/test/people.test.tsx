import { cleanup, render, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { actorOf } from '../src/lifecycle';
import { byUrgency, OnCallEntry, untilHandOff } from '../src/pages/on-call';
import { contactText, memberNames, notifyText, rulesText } from '../src/pages/people';
import { entriesOf, restrictionsText } from '../src/pages/schedule';
import type { OnCall, User } from '../src/types';

afterEach(cleanup);

const person = { id: '11111111-1111-4111-8111-111111111111', name: 'Ana Lima', email: 'ana@example.com' };

function onCall(name: string, covered: boolean): OnCall {
  return {
    schedule_id: `id-${name}`,
    schedule_name: name,
    at: '2026-01-15T14:32:00.000Z',
    shift: covered ? { start: '2026-01-15T08:00:00.000Z', end: '2026-01-15T17:00:00.000Z', user: person, source: 'primary', override_id: null } : null,
    gap: covered ? null : { start: '2026-01-15T14:00:00.000Z', end: '2026-01-15T15:00:00.000Z', reason: 'Scy is deactivated', inactive_user: null },
  };
}

function user(id: string, name: string, active = true): User {
  return {
    id,
    name,
    email: `${name.toLowerCase()}@example.com`,
    slack_user_id: null,
    phone: null,
    ntfy_topic: null,
    time_zone: 'UTC',
    contact_methods: [{ type: 'email', address: `${name.toLowerCase()}@example.com` }],
    notification_rules: [],
    active,
    deactivated_at: active ? null : '2026-01-01T00:00:00.000Z',
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
}

describe('who the console acts as', () => {
  it('the user the key belongs to, else the key', () => {
    expect(actorOf({ user_name: 'Ana Lima', key_name: 'ana-laptop' })).toBe('Ana Lima');
    expect(actorOf({ user_name: null, key_name: 'ana-laptop' })).toBe('ana-laptop');
    expect(actorOf({ user_name: '', key_name: 'ana-laptop' })).toBe('ana-laptop');
  });
});

describe('the on-call page', () => {
  it('lists the schedules with nobody on call first, then by name', () => {
    const sorted = [onCall('payments', true), onCall('search', false), onCall('api', true), onCall('db', false)].sort(byUrgency);
    expect(sorted.map((o) => o.schedule_name)).toEqual(['db', 'search', 'api', 'payments']);
  });

  it('shows the person on call, until when on the schedule’s clocks, and from which layer', () => {
    render(
      <ul>
        <OnCallEntry onCall={onCall('payments', true)} timeZone="Europe/Berlin" now={Date.parse('2026-01-15T14:32:00Z')} team="payments-team" />
      </ul>,
    );
    const row = screen.getByRole('listitem');
    expect(row.className).toBe('oncall-row');
    expect(row.textContent).toContain('Ana Lima');
    expect(row.textContent).toContain('ana@example.com');
    // 17:00 UTC is 18:00 in Berlin, 2 h 28 min after 14:32.
    expect(row.textContent).toMatch(/until .*18:00.*\(in 2 h 28 min\)/);
    expect(row.textContent).toContain('layer primary');
    expect(row.textContent).toContain('payments-team · Europe/Berlin');
    expect(screen.getByRole('link', { name: 'payments' }).getAttribute('href')).toBe('/schedules/id-payments');
  });

  it('marks nobody on call as a gap, in words, with the reason', () => {
    render(
      <ul>
        <OnCallEntry onCall={onCall('search', false)} timeZone="UTC" now={Date.parse('2026-01-15T14:32:00Z')} />
      </ul>,
    );
    const row = screen.getByRole('listitem');
    expect(row.classList.contains('oncall-gap')).toBe(true);
    expect(row.textContent).toContain('Gap');
    expect(row.textContent).toContain('Nobody on call');
    expect(row.textContent).toContain('Scy is deactivated');
    expect(row.textContent).toMatch(/until .*15:00.*\(in 28 min\)/);
  });

  it('says "until at least" where the service stopped looking (8 days on), not a hand-off', () => {
    const asked = '2026-01-15T14:32:00.000Z';
    const now = Date.parse(asked);
    expect(untilHandOff('2026-01-23T14:32:00.000Z', asked, 'UTC', now)).toMatch(/^until at least .*23.*14:32 UTC \(8 days or more\)$/);
    expect(untilHandOff('2026-01-23T14:31:00.000Z', asked, 'UTC', now)).toMatch(/^until .*23.*14:31 UTC \(in 7 d 23 h\)$/);
  });
});

describe('the people page', () => {
  it('says the notification rules in words', () => {
    expect(rulesText([])).toBe('none set: every method at once');
    expect(
      rulesText([
        { after: '0s', methods: ['slack', 'email'] },
        { after: '5m', methods: ['email'] },
      ]),
    ).toBe('at once: slack, email; after 5m: email');
  });

  it('says how a user is reached, the address beside each but the email shown next to it', () => {
    expect(
      contactText({
        email: 'ana@example.com',
        contact_methods: [
          { type: 'slack', address: 'U024BE7LH' },
          { type: 'email', address: 'ana@example.com' },
        ],
      }),
    ).toBe('slack (U024BE7LH), email');
    expect(contactText({ email: 'ana@example.com', contact_methods: [{ type: 'email', address: 'other@example.com' }] })).toBe('email (other@example.com)');
  });

  it('says what naming a team does', () => {
    expect(notifyText({ notify: 'members', escalation_policy: 'payments' })).toBe('every member at once');
    expect(notifyText({ notify: 'policy', escalation_policy: 'payments' })).toBe('runs the escalation policy payments');
    expect(notifyText({ notify: 'policy', escalation_policy: null })).toBe('its escalation policy (none set)');
  });

  it('names the members in order, a deactivated one as such', () => {
    const users = new Map([user('b', 'Ben'), user('a', 'Ana'), user('g', 'Gone', false)].map((u) => [u.id, u]));
    expect(memberNames({ member_ids: ['b', 'g', 'a', 'unknown-id'] }, users)).toEqual(['Ben', 'Gone (deactivated)', 'Ana', 'unknown-id']);
  });
});

describe('the schedule page', () => {
  it('lists shifts and gaps together by start', () => {
    const entries = entriesOf({
      shifts: [
        { start: '2026-01-12T08:00:00.000Z', end: '2026-01-15T14:00:00.000Z', user: person, source: 'weekly', override_id: null },
        { start: '2026-01-16T00:00:00.000Z', end: '2026-01-16T06:00:00.000Z', user: person, source: 'override', override_id: 'o' },
      ],
      gaps: [{ start: '2026-01-12T00:00:00.000Z', end: '2026-01-12T08:00:00.000Z', reason: 'no layer or override covers this time', inactive_user: null }],
    });
    expect(entries.map((e) => [e.kind, e.start])).toEqual([
      ['gap', '2026-01-12T00:00:00.000Z'],
      ['shift', '2026-01-12T08:00:00.000Z'],
      ['shift', '2026-01-16T00:00:00.000Z'],
    ]);
  });

  it('says when a layer is on', () => {
    const layer = { name: 'office', members: [], rotation: 'weekly', handoff_time: '09:00', start_date: '2026-01-12' };
    expect(restrictionsText({ ...layer, restrictions: [] })).toBe('always');
    expect(
      restrictionsText({
        ...layer,
        restrictions: [
          { days: ['mon', 'tue'], start: '09:00', end: '17:00' },
          { days: ['sat'], start: '22:00', end: '06:00' },
        ],
      }),
    ).toBe('mon, tue 09:00–17:00; sat 22:00–06:00');
  });
});
