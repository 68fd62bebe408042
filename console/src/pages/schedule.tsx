import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, messageOf } from '../api';
import { ErrorText, Section, useSession } from '../components/common';
import { hasScope } from '../lifecycle';
import {
  civilOf,
  colourSlot,
  dayBounds,
  daysOf,
  formatCivil,
  formatDay,
  formatPeriod,
  formatRange,
  fromLocalInput,
  parseCivil,
  placeOnDays,
  positionOn,
  stepAnchor,
  toLocalInput,
  zoneName,
  type CivilDate,
  type View,
} from '../schedule-grid';
import type { Gap, OnCall, Override, Schedule, Shift, ShiftsView, Team, User } from '../types';
import { OnCallEntry } from './on-call';

/** Colours for people on the timeline; each shift also carries the name, so colour is never the only clue. */
const COLOUR_SLOTS = 6;
const REFRESH_MS = 60_000;
const OVERRIDE_HOURS = 8;

export type Entry = ({ kind: 'shift' } & Shift) | ({ kind: 'gap' } & Gap);

/** Shifts and gaps in one list, by start. */
export function entriesOf(view: Pick<ShiftsView, 'shifts' | 'gaps'>): Entry[] {
  return [...view.shifts.map((s) => ({ kind: 'shift' as const, ...s })), ...view.gaps.map((g) => ({ kind: 'gap' as const, ...g }))].sort(
    (a, b) => Date.parse(a.start) - Date.parse(b.start),
  );
}

/** "mon, tue 09:00–17:00": when a layer is on. */
export function restrictionsText(layer: Schedule['layers'][number]): string {
  if (layer.restrictions.length === 0) return 'always';
  return layer.restrictions.map((r) => `${r.days.join(', ')} ${r.start}–${r.end}`).join('; ');
}

export function SchedulePage() {
  const { params } = useRoute();
  const id = params.id;
  const [schedule, setSchedule] = useState<Schedule | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [team, setTeam] = useState<Team | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setSchedule(null);
    setError(null);
    Promise.all([api<Schedule>('GET', `/v1/schedules/${id}`), api<User[]>('GET', '/v1/users?include_inactive=true')]).then(
      ([s, u]) => {
        setSchedule(s);
        setUsers(u);
        if (s.team_id) api<Team>('GET', `/v1/teams/${s.team_id}`).then(setTeam, () => setTeam(null));
      },
      (err) => setError(messageOf(err)),
    );
  }, [id]);
  if (error) return <ErrorText error={error} />;
  if (!schedule) return <p>Loading…</p>;
  return <ScheduleDetail key={schedule.id} schedule={schedule} users={users} team={team} />;
}

function ScheduleDetail({ schedule, users, team }: { schedule: Schedule; users: User[]; team: Team | null }) {
  const location = useLocation();
  const session = useSession();
  const write = hasScope(session.scopes, 'people:write');
  const zone = schedule.time_zone;
  const view: View = location.query.view === 'month' ? 'month' : 'week';
  const anchor = parseCivil(location.query.date) ?? civilOf(Date.now(), zone);
  const days = dayBounds(daysOf(view, anchor), zone);
  const from = days[0].start;
  const to = days[days.length - 1].end;

  const [shifts, setShifts] = useState<ShiftsView | null>(null);
  const [overrides, setOverrides] = useState<Override[] | null>(null);
  const [onCall, setOnCall] = useState<OnCall | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  // Bumped after a change and every minute: everything is read again.
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setVersion((v) => v + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => setShifts(null), [from, to]);
  useEffect(() => {
    let current = true;
    const at = Date.now();
    // The overrides of the period shown, and those now and in the next 31 days.
    const overridesFrom = new Date(Math.min(from, at)).toISOString();
    const overridesTo = new Date(Math.max(to, at + 31 * 86_400_000)).toISOString();
    Promise.all([
      api<ShiftsView>('GET', `/v1/schedules/${schedule.id}/shifts?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`),
      api<Override[]>('GET', `/v1/schedules/${schedule.id}/overrides?from=${overridesFrom}&to=${overridesTo}`),
      api<OnCall>('GET', `/v1/schedules/${schedule.id}/on-call`),
    ]).then(
      ([s, o, c]) => {
        if (!current) return;
        setShifts(s);
        setOverrides([...o].sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at)));
        setOnCall(c);
        setNow(at);
        setError(null);
      },
      (err) => current && setError(messageOf(err)),
    );
    return () => {
      current = false;
    };
  }, [schedule.id, from, to, version]);

  const go = (nextView: View, date: CivilDate) => location.route(`/schedules/${schedule.id}?view=${nextView}&date=${formatCivil(date)}`);
  const reload = () => setVersion((v) => v + 1);
  const names = new Map(users.map((u) => [u.id, u.name]));

  return (
    <div class="schedule">
      <h1>{schedule.name}</h1>
      <p class="meta">
        <span>
          Times in {zone} ({zoneName(now, zone)})
        </span>
        {team && <span>Team {team.name}</span>}
        <a href="/on-call">All schedules</a>
      </p>
      <ErrorText error={error} />
      {onCall && (
        <ul class="oncall" aria-label="On call now">
          <OnCallEntry onCall={onCall} timeZone={zone} now={now} link={false} />
        </ul>
      )}
      <Section title="Shifts" id="shifts">
        <div class="tl-controls">
          <div class="tabs" role="group" aria-label="Period">
            {(['week', 'month'] as View[]).map((v) => (
              <button type="button" key={v} aria-pressed={view === v} onClick={() => go(v, anchor)}>
                {v === 'week' ? 'Week' : 'Month'}
              </button>
            ))}
          </div>
          <div class="tabs" role="group" aria-label="Move">
            <button type="button" onClick={() => go(view, stepAnchor(view, anchor, -1))}>
              Previous
            </button>
            <button type="button" onClick={() => go(view, civilOf(Date.now(), zone))}>
              Today
            </button>
            <button type="button" onClick={() => go(view, stepAnchor(view, anchor, 1))}>
              Next
            </button>
          </div>
        </div>
        <p class="tl-period" aria-live="polite">
          <strong>
            {formatPeriod(
              view,
              days.map((d) => d.date),
            )}
          </strong>{' '}
          <span class="hint">(times in {zone})</span>
        </p>
        <p class="tl-legend hint">
          <span class="seg-key seg-shift c0" aria-hidden="true" /> a shift, by name · <span class="seg-key seg-gap" aria-hidden="true" /> hatched: a gap, nobody
          on call · <span class="seg-key tl-now-key" aria-hidden="true" /> now
        </p>
        {shifts === null ? <p>Loading…</p> : <Timeline view={view} days={days} entries={entriesOf(shifts)} zone={zone} now={now} />}
      </Section>
      <Section title="Overrides" id="overrides">
        <p class="hint">
          Someone else on call for a while: an override wins over every layer. Shown: those of the period above, and those now and in the next 31 days.
        </p>
        {overrides !== null && overrides.length === 0 && <p>No override.</p>}
        {overrides !== null && overrides.length > 0 && (
          <OverrideList overrides={overrides} names={names} zone={zone} now={now} write={write} scheduleId={schedule.id} onDeleted={reload} />
        )}
        {write && <NewOverride scheduleId={schedule.id} users={users.filter((u) => u.active)} zone={zone} onCreated={reload} />}
      </Section>
      <Section title="Layers" id="layers">
        <p class="hint">Lowest first: a higher layer wins where it covers.</p>
        <ol class="layers">
          {schedule.layers.map((layer, i) => (
            <li key={i}>
              <strong>{layer.name}</strong>: {layer.rotation} rotation, hand-off at {layer.handoff_time}, from {layer.start_date}; on {restrictionsText(layer)}
              <br />
              <span class="hint">In order: {layer.members.map((m) => names.get(m) ?? m).join(', ')}</span>
            </li>
          ))}
        </ol>
      </Section>
    </div>
  );
}

/** The final shifts on a grid: one row per day in the zone, midnight to midnight; and the same as a list. */
function Timeline({ view, days, entries, zone, now }: { view: View; days: ReturnType<typeof dayBounds>; entries: Entry[]; zone: string; now: number }) {
  const rows = placeOnDays(days, entries);
  return (
    <>
      <div class="tl-box" tabIndex={0} role="region" aria-label={`Timeline, one row per day (${zone})`}>
        <div class={`tl tl-${view}`}>
          <div class="tl-row tl-axis" aria-hidden="true">
            <span class="tl-day" />
            <div class="tl-track">
              {[0, 6, 12, 18].map((h) => (
                <span key={h} class="tl-tick" style={{ left: `${(h / 24) * 100}%` }}>
                  {String(h).padStart(2, '0')}:00
                </span>
              ))}
            </div>
          </div>
          {rows.map(({ day, placed }) => {
            const nowAt = positionOn(day, now);
            return (
              <div class={`tl-row${nowAt !== null ? ' tl-today' : ''}`} key={formatCivil(day.date)} data-date={formatCivil(day.date)}>
                <span class="tl-day">{formatDay(day.date)}</span>
                <div class="tl-track">
                  {placed.map((p) => {
                    const e = p.item;
                    const when = formatRange(e.start, e.end, zone);
                    const cut = `${p.continuesBefore ? ' tl-cut-before' : ''}${p.continuesAfter ? ' tl-cut-after' : ''}`;
                    return e.kind === 'shift' ? (
                      <span
                        key={`${e.start}-s`}
                        class={`seg seg-shift c${colourSlot(e.user.id, COLOUR_SLOTS)}${e.source === 'override' ? ' seg-override' : ''}${cut}`}
                        style={{ left: `${p.left}%`, width: `${p.width}%` }}
                        title={`${e.user.name}, ${when}${e.source === 'override' ? ' (override)' : ''}`}
                      >
                        {e.user.name}
                      </span>
                    ) : (
                      <span
                        key={`${e.start}-g`}
                        class={`seg seg-gap${cut}`}
                        style={{ left: `${p.left}%`, width: `${p.width}%` }}
                        title={`Nobody on call, ${when}: ${e.reason}`}
                      >
                        <span>Gap</span>
                      </span>
                    );
                  })}
                  {nowAt !== null && <span class="tl-now" style={{ left: `${nowAt}%` }} title="now" />}
                </div>
              </div>
            );
          })}
        </div>
      </div>
      <details class="shift-details" open={view === 'week'} key={view}>
        <summary>As a list ({entries.length})</summary>
        {entries.length === 0 ? (
          <p>Nothing in this period.</p>
        ) : (
          <ol class="shift-list">
            {entries.map((e) =>
              e.kind === 'shift' ? (
                <li key={`${e.start}-s`} class="entry-shift">
                  <span class="when">{formatRange(e.start, e.end, zone)}</span> <strong>{e.user.name}</strong>{' '}
                  <span class="hint">{e.source === 'override' ? 'override' : `layer ${e.source}`}</span>
                </li>
              ) : (
                <li key={`${e.start}-g`} class="entry-gap">
                  <span class="when">{formatRange(e.start, e.end, zone)}</span> <span class="badge gap-badge">Gap</span> <strong>Nobody on call</strong>:{' '}
                  {e.reason}
                </li>
              ),
            )}
          </ol>
        )}
      </details>
    </>
  );
}

function OverrideList(props: {
  overrides: Override[];
  names: Map<string, string>;
  zone: string;
  now: number;
  write: boolean;
  scheduleId: string;
  onDeleted: () => void;
}) {
  const { overrides, names, zone, now, write, scheduleId, onDeleted } = props;
  const [error, setError] = useState<string | null>(null);
  const remove = async (o: Override) => {
    const name = names.get(o.user_id) ?? o.user_id;
    if (!window.confirm(`Delete the override of ${name} (${formatRange(o.starts_at, o.ends_at, zone)})? The layers decide who is on call then.`)) return;
    setError(null);
    try {
      await api('DELETE', `/v1/schedules/${scheduleId}/overrides/${o.id}`);
      onDeleted();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <>
      <ErrorText error={error} />
      <ul class="overrides">
        {overrides.map((o) => {
          const name = names.get(o.user_id) ?? o.user_id;
          const active = Date.parse(o.starts_at) <= now && now < Date.parse(o.ends_at);
          return (
            <li key={o.id} data-override={o.id}>
              <span>
                <strong>{name}</strong> {active && <span class="badge now-badge">now</span>}
              </span>
              <span class="when">{formatRange(o.starts_at, o.ends_at, zone)}</span>
              <span class="hint">by {o.created_by}</span>
              {write && (
                <button
                  type="button"
                  onClick={() => void remove(o)}
                  aria-label={`Delete the override of ${name}, ${formatRange(o.starts_at, o.ends_at, zone)}`}
                >
                  Delete
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}

function NewOverride({ scheduleId, users, zone, onCreated }: { scheduleId: string; users: User[]; zone: string; onCreated: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // From this minute, for a working day: the usual "I take it from here".
  const [start] = useState(() => Math.floor(Date.now() / 60_000) * 60_000);
  const sorted = [...users].sort((a, b) => a.name.localeCompare(b.name));
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
    const startsAt = fromLocalInput(value('starts_at'), zone);
    const endsAt = fromLocalInput(value('ends_at'), zone);
    setDone(null);
    const problem =
      startsAt === null || endsAt === null
        ? 'Give the start and the end as a date and a time.'
        : endsAt <= startsAt
          ? 'The end must be after the start.'
          : null;
    setError(problem);
    if (problem || startsAt === null || endsAt === null) return;
    setBusy(true);
    try {
      const created = await api<Override>('POST', `/v1/schedules/${scheduleId}/overrides`, {
        user_id: value('user_id'),
        starts_at: new Date(startsAt).toISOString(),
        ends_at: new Date(endsAt).toISOString(),
      });
      const name = users.find((u) => u.id === created.user_id)?.name ?? created.user_id;
      setDone(`Override created: ${name}, ${formatRange(created.starts_at, created.ends_at, zone)}.`);
      onCreated();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="subform" aria-label="New override" onSubmit={(e) => void submit(e)}>
      <h3>New override</h3>
      <div class="row">
        <label class="grow">
          Who
          <select name="user_id" required>
            <option value="">Choose a person…</option>
            {sorted.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name} ({u.email})
              </option>
            ))}
          </select>
        </label>
        <label>
          Start ({zone})
          <input name="starts_at" type="datetime-local" required defaultValue={toLocalInput(start, zone)} />
        </label>
        <label>
          End ({zone})
          <input name="ends_at" type="datetime-local" required defaultValue={toLocalInput(start + OVERRIDE_HOURS * 3_600_000, zone)} />
        </label>
      </div>
      <button type="submit" class="primary" disabled={busy}>
        Create override
      </button>
      <ErrorText error={error} />
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
    </form>
  );
}
