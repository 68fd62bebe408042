import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, messageOf } from '../api';
import { absoluteTime, ErrorText, Section, SeverityBadge, StateBadge, Time, useSession } from '../components/common';
import { actorOf, hasScope } from '../lifecycle';
import type { Incident, Silence } from '../types';

type Tab = 'active' | 'pending' | 'expired';

/** Alertmanager's matcher syntax, quoted so that any value is taken literally. */
export function matchersOfLabels(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
}

/**
 * Names a matcher reads from the incident's own fields, not from its labels: a label of the same
 * name (Alertmanager's `severity="critical"`) can never match as written, since `severity`
 * compares the P-level.
 */
const FIELD_NAMES = new Set(['severity', 'source', 'incident_type', 'affected_resources']);

/** Matchers that match the incident as stored: its labels, but those the matcher reads as fields. */
export function matchersOfIncident(incident: Incident): { matchers: string[]; left_out: string[] } {
  const kept = Object.fromEntries(Object.entries(incident.labels).filter(([name]) => !FIELD_NAMES.has(name)));
  return { matchers: matchersOfLabels(kept), left_out: Object.keys(incident.labels).filter((name) => FIELD_NAMES.has(name)) };
}

const isOpen = (incident: Incident) => incident.state !== 'Resolved' && incident.state !== 'Closed';

export function SilencesPage() {
  const location = useLocation();
  const session = useSession();
  const fromIncident = location.query.incident;
  const [tab, setTab] = useState<Tab>('active');
  const [silences, setSilences] = useState<Silence[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState<string | null>(fromIncident ? null : '');
  const [source, setSource] = useState<Incident | null>(null);
  const [leftOut, setLeftOut] = useState<string[]>([]);
  const write = hasScope(session.scopes, 'incidents:write');

  const load = () =>
    api<Silence[]>('GET', `/v1/silences?state=${tab}`).then(
      (list) => {
        setSilences(list);
        setError(null);
      },
      (err) => setError(messageOf(err)),
    );
  useEffect(() => void load(), [tab]);
  useEffect(() => {
    if (!fromIncident) return;
    api<Incident>('GET', `/v1/incidents/${fromIncident}`).then(
      (incident) => {
        setSource(incident);
        const prefill = matchersOfIncident(incident);
        setLeftOut(prefill.left_out);
        setDraft(prefill.matchers.join('\n'));
      },
      (err) => {
        setError(messageOf(err));
        setDraft('');
      },
    );
  }, [fromIncident]);

  const expire = async (id: string) => {
    try {
      await api('POST', `/v1/silences/${id}/expire`, {});
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <div>
      <h1>Silences</h1>
      {write && draft !== null && (
        <NewSilence
          key={draft}
          initial={draft}
          source={source}
          leftOut={leftOut}
          onCreated={() => {
            setTab('active');
            void load();
          }}
        />
      )}
      <Section title="Silences" id="silence-list">
        <div class="tabs" role="group" aria-label="Which silences">
          {(['active', 'pending', 'expired'] as Tab[]).map((t) => (
            <button type="button" key={t} aria-pressed={tab === t} onClick={() => setTab(t)}>
              {t[0].toUpperCase() + t.slice(1)}
            </button>
          ))}
        </div>
        <ErrorText error={error} />
        {silences !== null && silences.length === 0 && <p>No {tab} silence.</p>}
        <ul class="silences">
          {silences?.map((s) => (
            <li key={s.id} class="card-inner">
              <code>{s.matchers.join(', ')}</code>
              <span>{s.comment}</span>
              <span class="hint">
                by {s.created_by}, <Time at={s.starts_at} /> to <Time at={s.ends_at} /> ({s.state})
              </span>
              {write && s.state !== 'expired' && (
                <button type="button" onClick={() => void expire(s.id)}>
                  Expire now
                </button>
              )}
            </li>
          ))}
        </ul>
      </Section>
    </div>
  );
}

function NewSilence({ initial, source, leftOut, onCreated }: { initial: string; source: Incident | null; leftOut: string[]; onCreated: () => void }) {
  const session = useSession();
  const [matchers, setMatchers] = useState(initial);
  const [preview, setPreview] = useState<{ incidents: Incident[]; total: number; complete: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const lines = () =>
    matchers
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);

  const runPreview = async () => {
    setError(null);
    try {
      setPreview(await api('POST', '/v1/silences/preview', { matchers: lines() }));
    } catch (err) {
      setPreview(null);
      setError(messageOf(err));
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const hours = Number((form.elements.namedItem('hours') as HTMLInputElement).value);
    const comment = (form.elements.namedItem('comment') as HTMLInputElement).value;
    setError(null);
    try {
      // Started from an open incident: a silence that would not silence it is almost surely a
      // mistake, so it is said plainly before anything is created.
      if (source && isOpen(source)) {
        const check = await api<{ incidents: Incident[]; total: number; complete: boolean }>('POST', '/v1/silences/preview', { matchers: lines() });
        setPreview(check);
        // Only a whole answer can say the incident is not among the matches.
        const listed = check.complete && check.incidents.length === check.total;
        if (listed && !check.incidents.some((i) => i.id === source.id)) {
          const ask = `These matchers do not match the incident you started from ("${source.title}"): the silence would not silence it. Create it anyway?`;
          if (!window.confirm(ask)) {
            setError(`Not created: these matchers do not match "${source.title}".`);
            return;
          }
        }
      }
      const ends_at = new Date(Date.now() + hours * 3_600_000).toISOString();
      const created = await api<Silence>('POST', '/v1/silences', { matchers: lines(), ends_at, comment, created_by: actorOf(session) });
      setDone(`Silence created until ${absoluteTime(new Date(created.ends_at))}.`);
      onCreated();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Section title={source ? `New silence from "${source.title}"` : 'New silence'} id="new-silence">
      <form class="subform" onSubmit={(e) => void submit(e)} aria-label="New silence">
        <label>
          Matchers (one per line, e.g. team="payments")
          <textarea name="matchers" rows={4} required value={matchers} onInput={(e) => setMatchers(e.currentTarget.value)} />
        </label>
        {leftOut.length > 0 && (
          <p class="hint">
            Left out: the {leftOut.length === 1 ? 'label' : 'labels'} {leftOut.join(', ')}. A matcher on {leftOut.length === 1 ? 'that name' : 'those names'}{' '}
            compares the incident&rsquo;s own field (for severity, its P-level), not the label.
          </p>
        )}
        <div class="row">
          <label>
            Hours
            <input name="hours" type="number" min="0.1" step="0.1" defaultValue="2" required />
          </label>
          <label class="grow">
            Comment
            <input name="comment" required defaultValue={source ? `Silenced from incident ${source.id}` : ''} />
          </label>
        </div>
        <div class="actions">
          <button type="button" onClick={() => void runPreview()}>
            Preview matches
          </button>
          <button type="submit" class="primary">
            Create silence
          </button>
        </div>
        <ErrorText error={error} />
        {done && (
          <p class="ok" role="status">
            {done}
          </p>
        )}
      </form>
      {preview && (
        <div class="preview" aria-live="polite">
          <p>
            It would match {preview.total} open {preview.total === 1 ? 'incident' : 'incidents'}
            {preview.complete ? '' : ' (of the open incidents read)'}.
          </p>
          <ul>
            {preview.incidents.map((i) => (
              <li key={i.id}>
                <SeverityBadge severity={i.severity} /> <StateBadge state={i.state} /> <a href={`/incidents/${i.id}`}>{i.title}</a>
              </li>
            ))}
          </ul>
        </div>
      )}
    </Section>
  );
}
