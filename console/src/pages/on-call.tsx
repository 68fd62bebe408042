import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText } from '../components/common';
import { formatDateTime, formatTime, untilText, zoneName } from '../schedule-grid';
import type { OnCall, Schedule, Team } from '../types';

/** How often the page asks again: hand-offs happen while it is open. */
const REFRESH_MS = 60_000;

/** Nobody on call first (what a lead must act on), then by schedule name. */
export function byUrgency(a: OnCall, b: OnCall): number {
  const gap = Number(a.shift !== null) - Number(b.shift !== null);
  return gap !== 0 ? gap : a.schedule_name.localeCompare(b.schedule_name);
}

/**
 * How far either side of the moment asked about the service looks for the edges of the shift or
 * gap holding it (ON_CALL_WINDOW_MS in src/people/schedules/final-shifts.ts): an end that far off
 * is where it stopped looking, not a hand-off.
 */
export const ON_CALL_HORIZON_MS = 8 * 86_400_000;

/**
 * "until Thu, 15 Jan, 18:00 CET (in 2 h 28 min)": the hand-off on the schedule's clocks, and how
 * soon; "until at least …" when the service stopped looking before finding it.
 */
export function untilHandOff(end: string, asked: string, timeZone: string, now: number): string {
  const when = `${formatDateTime(end, timeZone)} ${zoneName(end, timeZone)}`;
  return Date.parse(end) >= Date.parse(asked) + ON_CALL_HORIZON_MS
    ? `until at least ${when} (8 days or more)`
    : `until ${when} (${untilText(Date.parse(end), now)})`;
}

/**
 * Who is on call for one schedule, or that nobody is and why: a gap is marked by a label and a
 * hatched edge, not by colour alone.
 */
export function OnCallEntry({ onCall, timeZone, now, team, link = true }: { onCall: OnCall; timeZone: string; now: number; team?: string; link?: boolean }) {
  const { shift, gap } = onCall;
  return (
    <li class={`oncall-row${shift ? '' : ' oncall-gap'}`} data-schedule={onCall.schedule_id}>
      <span class="oncall-schedule">
        {link ? <a href={`/schedules/${onCall.schedule_id}`}>{onCall.schedule_name}</a> : <span>{onCall.schedule_name}</span>}
        <span class="hint">
          {team ? `${team} · ` : ''}
          {timeZone}
        </span>
      </span>
      {shift ? (
        <>
          <span class="oncall-person">
            <strong>{shift.user.name}</strong> <a href={`mailto:${shift.user.email}`}>{shift.user.email}</a>
          </span>
          <span class="meta">
            <span>{untilHandOff(shift.end, onCall.at, timeZone, now)}</span>
            <span>{shift.source === 'override' ? 'override' : `layer ${shift.source}`}</span>
          </span>
        </>
      ) : (
        <>
          <span class="oncall-person">
            <span class="badge gap-badge">Gap</span> <strong>Nobody on call</strong>
          </span>
          <span class="gap-reason">{gap?.reason ?? 'no layer or override covers this time'}</span>
          {gap && <span class="meta">{untilHandOff(gap.end, onCall.at, timeZone, now)}</span>}
        </>
      )}
    </li>
  );
}

export function OnCallPage() {
  const [onCall, setOnCall] = useState<OnCall[] | null>(null);
  const [schedules, setSchedules] = useState<Map<string, Schedule>>(new Map());
  const [teams, setTeams] = useState<Map<string, Team>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());

  const load = async () => {
    try {
      const [list, scheduleList, teamList] = await Promise.all([
        api<OnCall[]>('GET', '/v1/on-call'),
        api<Schedule[]>('GET', '/v1/schedules'),
        api<Team[]>('GET', '/v1/teams'),
      ]);
      setOnCall([...list].sort(byUrgency));
      setSchedules(new Map(scheduleList.map((s) => [s.id, s])));
      setTeams(new Map(teamList.map((t) => [t.id, t])));
      setNow(Date.now());
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  const gaps = onCall?.filter((o) => !o.shift).length ?? 0;
  return (
    <div>
      <div class="title-row">
        <h1>On call now</h1>
        {onCall && <span class="hint">as of {formatTime(now, Intl.DateTimeFormat().resolvedOptions().timeZone)} (your time)</span>}
      </div>
      <ErrorText error={error} />
      {onCall === null && !error && <p>Loading…</p>}
      {onCall !== null && (
        <>
          <p class="count" role="status">
            {onCall.length} {onCall.length === 1 ? 'schedule' : 'schedules'}
            {gaps > 0 ? `, ${gaps} with nobody on call` : onCall.length > 0 ? ', everyone covered' : ''}
          </p>
          {onCall.length === 0 ? (
            <p class="empty">No schedule yet. Schedules are made through the API (POST /v1/schedules); see the API docs at /docs.</p>
          ) : (
            <ul class="oncall" aria-label="On call per schedule">
              {onCall.map((o) => {
                const schedule = schedules.get(o.schedule_id);
                const team = schedule?.team_id ? teams.get(schedule.team_id)?.name : undefined;
                return <OnCallEntry key={o.schedule_id} onCall={o} timeZone={schedule?.time_zone ?? 'UTC'} now={now} team={team} />;
              })}
            </ul>
          )}
        </>
      )}
    </div>
  );
}
