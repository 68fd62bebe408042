import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, messageOf } from '../api';
import { ErrorText, SeverityBadge, StateBadge, Time, useSession } from '../components/common';
import { actionsFor, actorOf } from '../lifecycle';
import { applyEvent, fromSearch, PAGE_SIZE, parseLabels, toApiQuery, toSearch, toStreamQuery, type IncidentFilters } from '../filters';
import { useLiveEvents } from '../live';
import { SEVERITIES, STATES, type Incident, type Page } from '../types';

/** Open P0 and P1 incidents, counted for the tab's title: a background tab still says "2 urgent". */
function useUrgentCount(): [number | null, () => void] {
  const [count, setCount] = useState<number | null>(null);
  const read = () =>
    void api<Page<Incident>>(
      'GET',
      '/v1/incidents?state=Detected&state=Triaged&state=Investigating&state=Remediating&severity=P0&severity=P1&page_size=1',
    ).then(
      (page) => setCount(page.total),
      () => undefined,
    );
  // Events come in storms: the count is read again at most every 5 s, once after the last one.
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refresh = () => {
    pending.current ??= setTimeout(() => {
      pending.current = null;
      read();
    }, URGENT_REFRESH_MS);
  };
  useEffect(() => {
    read();
    return () => {
      if (pending.current) clearTimeout(pending.current);
    };
  }, []);
  useEffect(() => {
    document.title = count ? `(${count}) ${count === 1 ? 'urgent incident' : 'urgent incidents'} · LLM Incident Manager` : 'Incidents · LLM Incident Manager';
  }, [count]);
  return [count, refresh];
}

/** The channels as GET /v1/notifications/stats reports them. */
interface ChannelsState {
  channels: Record<string, { enabled?: boolean; configured?: boolean }>;
}

/** Said on the list when no channel can deliver anything: nobody is told of any incident. */
export function noChannelWarning(stats: ChannelsState | null): string | null {
  if (!stats) return null;
  const usable = Object.values(stats.channels).filter((c) => c.enabled !== false && c.configured !== false);
  return usable.length === 0
    ? 'No notification channel is on and configured: nobody is notified of any incident. Switch one on in [notifications] (see the Notifications page).'
    : null;
}

const URGENT_REFRESH_MS = 5_000;

/** Phones: the first screen is for incidents; the filters open with one tap. */
const narrow = () => typeof window !== 'undefined' && window.matchMedia?.('(max-width: 600px)').matches;

export function IncidentsPage() {
  const location = useLocation();
  const session = useSession();
  const [, refreshUrgent] = useUrgentCount();
  const [ackError, setAckError] = useState<string | null>(null);
  const [channels, setChannels] = useState<ChannelsState | null>(null);
  useEffect(() => {
    api<ChannelsState>('GET', '/v1/notifications/stats').then(setChannels, () => setChannels(null));
  }, []);
  const nobody = noChannelWarning(channels);
  const filters = fromSearch(location.url.includes('?') ? location.url.slice(location.url.indexOf('?')) : '');
  const apiQuery = toApiQuery(filters);
  const [list, setList] = useState<{ items: Incident[]; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  useEffect(() => {
    let current = true;
    api<Page<Incident>>('GET', `/v1/incidents?${apiQuery}`).then(
      (page) => {
        if (!current) return;
        setList({ items: page.items, total: page.total });
        setError(null);
      },
      (err) => current && setError(messageOf(err)),
    );
    return () => {
      current = false;
    };
  }, [apiQuery]);

  const { connected } = useLiveEvents(toStreamQuery(filters), (event) => {
    setList((shown) => (shown ? applyEvent(filtersRef.current, shown, event) : shown));
    setFresh((ids) => new Set(ids).add(event.incident.id));
    refreshUrgent();
  });

  // From the list: the event that follows moves the row on (Detected to Triaged).
  const acknowledge = async (incident: Incident) => {
    setAckError(null);
    try {
      const updated = await api<Incident>('POST', `/v1/incidents/${incident.id}/acknowledge`, { actor: actorOf(session) });
      setList((shown) => (shown ? { ...shown, items: shown.items.map((i) => (i.id === updated.id ? updated : i)) } : shown));
    } catch (err) {
      setAckError(`${incident.title}: ${messageOf(err)}`);
    }
  };
  const activeFilters = filters.states.length + filters.severities.length + (filters.q ? 1 : 0) + (filters.source ? 1 : 0) + (filters.labels ? 1 : 0);

  const go = (next: Partial<IncidentFilters>) => location.route(`/${toSearch({ ...filters, page: 1, ...next })}`);
  const pages = list ? Math.max(1, Math.ceil(list.total / PAGE_SIZE)) : 1;

  return (
    <div>
      <div class="title-row">
        <h1>Incidents</h1>
        <span class={`live ${connected ? 'on' : 'off'}`} role="status">
          {connected ? 'Live' : 'Not live: reconnecting…'}
        </span>
      </div>
      <details class="filter-toggle" open={!narrow() || undefined}>
        <summary>Filters{activeFilters > 0 ? ` (${activeFilters} set)` : ''}</summary>
        <FilterBar key={`${filters.q}\u0000${filters.source}\u0000${filters.labels}`} filters={filters} onChange={go} />
      </details>
      {nobody && (
        <p class="nobody" role="status">
          {nobody}
        </p>
      )}
      <ErrorText error={error} />
      <ErrorText error={ackError} />
      {list === null && !error && <p>Loading…</p>}
      {list !== null && (
        <>
          <p class="count" aria-live="polite">
            {list.total} {list.total === 1 ? 'incident' : 'incidents'}
            {filters.view === 'open' ? ' open' : ''}
          </p>
          {list.items.length === 0 ? (
            <p class="empty">Nothing matches. {filters.view === 'open' ? 'No open incident: all quiet.' : ''}</p>
          ) : (
            <ul class="incidents" aria-label="Incidents">
              {list.items.map((incident) => (
                <li key={incident.id} class={`incident-row sev-edge-${incident.severity}${fresh.has(incident.id) ? ' fresh' : ''}`} data-id={incident.id}>
                  <a class="incident-title" href={`/incidents/${incident.id}`}>
                    {incident.title}
                  </a>
                  <span class="meta">
                    <SeverityBadge severity={incident.severity} />
                    <StateBadge state={incident.state} />
                    <span class="source">{incident.source}</span>
                    <span class="alerts">
                      {incident.alert_count} {incident.alert_count === 1 ? 'alert' : 'alerts'}
                    </span>
                    <Time at={incident.created_at} />
                  </span>
                  {actionsFor(incident, session.scopes).acknowledge && (
                    <button type="button" class="ack" onClick={() => void acknowledge(incident)} aria-label={`Acknowledge ${incident.title}`}>
                      Acknowledge
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={filters.page <= 1} onClick={() => go({ page: filters.page - 1 })}>
              Previous
            </button>
            <span>
              Page {filters.page} of {pages}
            </span>
            <button type="button" disabled={filters.page >= pages} onClick={() => go({ page: filters.page + 1 })}>
              Next
            </button>
          </nav>
        </>
      )}
    </div>
  );
}

/** The filters, applied as the user changes them; text fields apply on submit (Enter). */
export function FilterBar({ filters, onChange }: { filters: IncidentFilters; onChange: (next: Partial<IncidentFilters>) => void }) {
  const [labelError, setLabelError] = useState<string | null>(null);
  const toggle = <T extends string>(list: T[], value: T): T[] => (list.includes(value) ? list.filter((v) => v !== value) : [...list, value]);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const labels = value('labels');
    const parsed = parseLabels(labels);
    setLabelError(parsed.error ?? null);
    if (parsed.error) return;
    onChange({ q: value('q'), source: value('source'), labels });
  };
  const states = filters.view === 'open' ? STATES.slice(0, 4) : STATES;
  return (
    <form class="filters card" role="search" onSubmit={submit} aria-label="Filter incidents">
      <div class="row">
        <label class="grow">
          Search
          <input name="q" type="search" defaultValue={filters.q} placeholder="title, description or id" />
        </label>
        <label>
          Source
          <input name="source" defaultValue={filters.source} placeholder="prometheus" />
        </label>
        <label>
          Labels
          <input name="labels" defaultValue={filters.labels} placeholder="team=payments" aria-invalid={labelError ? true : undefined} />
        </label>
        <button type="submit">Apply</button>
      </div>
      <ErrorText error={labelError} />
      <div class="row chips">
        <fieldset>
          <legend>Show</legend>
          <label class="chip">
            <input type="radio" name="view" checked={filters.view === 'open'} onChange={() => onChange({ view: 'open', states: [] })} /> Open
          </label>
          <label class="chip">
            <input type="radio" name="view" checked={filters.view === 'all'} onChange={() => onChange({ view: 'all' })} /> All
          </label>
        </fieldset>
        <fieldset>
          <legend>State</legend>
          {states.map((s) => (
            <label class="chip" key={s}>
              <input type="checkbox" checked={filters.states.includes(s)} onChange={() => onChange({ states: toggle(filters.states, s) })} /> {s}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Severity</legend>
          {SEVERITIES.map((s) => (
            <label class="chip" key={s}>
              <input type="checkbox" checked={filters.severities.includes(s)} onChange={() => onChange({ severities: toggle(filters.severities, s) })} /> {s}
            </label>
          ))}
        </fieldset>
      </div>
    </form>
  );
}
