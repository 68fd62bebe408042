import { Fragment } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, messageOf } from '../api';
import { ErrorText, Section, SeverityBadge, StateBadge, Time, useSession } from '../components/common';
import { actionsFor, actorOf, hasScope, type IncidentActions } from '../lifecycle';
import { useLiveEvents } from '../live';
import {
  RESOLUTION_METHODS,
  SEVERITIES,
  type Alert,
  type Delivery,
  type Incident,
  type IncidentDetail,
  type Severity,
  type State,
  type UpstreamAlert,
} from '../types';

interface Explanation {
  routes: {
    route: string;
    path: string;
    receiver: {
      name: string;
      slack_channels: string[];
      email_to: string[];
      pagerduty: string[];
      webhooks: string[];
      teams?: string[];
      person?: { kind: string; ref: string };
    };
    escalation: { policy: string } | null;
  }[];
  silenced_by?: { id: string; comment: string; ends_at: string }[];
}

export function IncidentPage() {
  const { params } = useRoute();
  const id = params.id;
  const session = useSession();
  const [incident, setIncident] = useState<IncidentDetail | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [upstream, setUpstream] = useState<UpstreamAlert[]>([]);
  const [explanation, setExplanation] = useState<Explanation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const [detail, alertList, deliveryList] = await Promise.all([
        api<IncidentDetail>('GET', `/v1/incidents/${id}`),
        api<Alert[]>('GET', `/v1/incidents/${id}/alerts`),
        api<Delivery[]>('GET', `/v1/incidents/${id}/notifications`),
      ]);
      setIncident(detail);
      // Alertmanager's and Grafana's incidents: each alert's own state upstream.
      if (detail.source === 'alertmanager' || detail.source === 'grafana') {
        setUpstream(await api<UpstreamAlert[]>('GET', `/v1/incidents/${id}/upstream-alerts`));
      }
      setAlerts(alertList);
      setDeliveries(deliveryList);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [id]);

  useEffect(() => {
    setIncident(null);
    void load();
    api<Explanation>('POST', '/v1/routing/explain', { incident_id: id }).then(setExplanation, () => setExplanation(null));
  }, [id]);

  // Changes to the incident arrive live; deliveries change without an incident event, so the
  // log is read again every few seconds while any of them is still on its way.
  useLiveEvents('', (event) => {
    if (event.incident.id === id) void load();
  });
  const waiting = deliveries.some((d) => d.status === 'pending' || d.status === 'sending');
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const timer = setInterval(() => void loadRef.current(), waiting ? 2000 : 10000);
    return () => clearInterval(timer);
  }, [waiting]);

  if (error && !incident) return <ErrorText error={error} />;
  if (!incident) return <p>Loading…</p>;

  const actions = actionsFor(incident, session.scopes);
  const actor = actorOf(session);
  const act = async (method: 'POST' | 'PATCH', path: string, body: unknown) => {
    setBusy(true);
    setActionError(null);
    try {
      await api(method, path, body);
      await load();
      return true;
    } catch (err) {
      setActionError(messageOf(err));
      return false;
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="incident">
      {/* Severity and state first: what a responder reads before the title. */}
      <p class="meta">
        <SeverityBadge severity={incident.severity} />
        <StateBadge state={incident.state} />
      </p>
      <div class="title-row">
        <h1>{incident.title}</h1>
      </div>
      <p class="meta">
        <span class="age">
          opened <Time at={incident.created_at} />
        </span>
        {notifiedChannels(deliveries).length > 0 && <span class="notified">Notified: {notifiedChannels(deliveries).join(', ')}</span>}
        {incident.acknowledged_at && (
          <span class="acked">
            Acknowledged by {incident.acknowledged_by} <Time at={incident.acknowledged_at} />
          </span>
        )}
      </p>
      <NobodyNotified explanation={explanation} deliveries={deliveries} />
      <ErrorText error={error} />

      {(actions.acknowledge || actions.moves.length > 0 || actions.silence) && (
        <Section title="Actions" id="actions">
          <ActionButtons
            incident={incident}
            actions={actions}
            busy={busy}
            onAcknowledge={() => void act('POST', `/v1/incidents/${id}/acknowledge`, { actor })}
            onMove={(to) => void act('POST', `/v1/incidents/${id}/transition`, { state: to, actor })}
          />
          <ErrorText error={actionError} />
        </Section>
      )}

      <IncidentLinks alerts={alerts} runbook={incident.runbook_url ?? null} />

      <Section title="Details" id="details">
        <dl class="fields">
          <dt>Id</dt>
          <dd class="mono">{incident.id}</dd>
          <dt>Description</dt>
          <dd class="pre">{incident.description || '—'}</dd>
          <dt>Type</dt>
          <dd>{incident.incident_type}</dd>
          <dt>Source</dt>
          <dd>{incident.source}</dd>
          <dt>Created</dt>
          <dd>
            <Time at={incident.created_at} />
          </dd>
          <dt>Last seen</dt>
          <dd>
            <Time at={incident.last_seen_at} />
          </dd>
          <dt>Resolved</dt>
          <dd>
            <Time at={incident.resolved_at} />
          </dd>
          <dt>Alerts</dt>
          <dd>{incident.alert_count}</dd>
          <dt>Affected</dt>
          <dd>{incident.affected_resources.join(', ') || '—'}</dd>
          <dt>Assignees</dt>
          <dd>{incident.assignees.join(', ') || '—'}</dd>
          {incident.resolution && (
            <>
              <dt>Resolution</dt>
              <dd>
                {incident.resolution.method} by {incident.resolution.resolved_by}: {incident.resolution.notes}
                {incident.resolution.root_cause && <> (root cause: {incident.resolution.root_cause})</>}
              </dd>
            </>
          )}
        </dl>
        <h3>Labels</h3>
        {Object.keys(incident.labels).length === 0 ? <p>None.</p> : <LabelList labels={incident.labels} />}
      </Section>

      <Section title="Timeline" id="timeline">
        {incident.timeline_total > incident.timeline.length && (
          <p class="hint">
            The newest {incident.timeline.length} of {incident.timeline_total} entries.
          </p>
        )}
        <ol class="timeline">
          {incident.timeline.map((entry, i) => (
            <li key={i}>
              <Time at={entry.timestamp} /> <strong>{entry.event_type}</strong> by {entry.actor}
              {entry.api_key_name && entry.api_key_name !== entry.actor ? ` (key ${entry.api_key_name})` : ''}: {entry.description}
            </li>
          ))}
        </ol>
        {incident.notes.length > 0 && (
          <>
            <h3>Notes</h3>
            <ul class="notes">
              {incident.notes.map((n) => (
                <li key={n.id}>
                  <Time at={n.created_at} /> <strong>{n.author}</strong>: <span class="pre">{n.content}</span>
                </li>
              ))}
            </ul>
          </>
        )}
        {actions.note && <NoteForm busy={busy} onAdd={(content) => act('POST', `/v1/incidents/${id}/notes`, { author: actor, content })} />}
      </Section>

      <Section title="Deliveries" id="deliveries">
        {deliveries.length === 0 ? (
          <p>No notification yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="deliveries stack">
              <thead>
                <tr>
                  <th scope="col">Channel</th>
                  <th scope="col">Target</th>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last error</th>
                  {actions.redrive && <th scope="col">Re-drive</th>}
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.notification_id} data-status={d.status}>
                    <td data-label="Channel">{d.channel}</td>
                    <td data-label="Target" class="wrap">
                      {d.target}
                    </td>
                    <td data-label="Event">
                      {d.event} ({d.action})
                    </td>
                    <td data-label="Status">
                      <span class={`status status-${d.status}`}>{d.status}</span>
                    </td>
                    <td data-label="Attempts">{d.attempts}</td>
                    <td data-label="Last error" class="wrap">
                      {d.last_error ?? ''}
                    </td>
                    {actions.redrive && (
                      <td data-label="Re-drive">
                        {(d.status === 'failed' || d.status === 'cancelled') && (
                          <button type="button" disabled={busy} onClick={() => void act('POST', `/v1/notifications/${d.notification_id}/retry`, {})}>
                            Re-drive
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <Section title="Routing" id="routing">
        {explanation === null ? (
          <p>No routing explanation.</p>
        ) : (
          <>
            <ul>
              {explanation.routes.map((r) => (
                <li key={r.route}>
                  Route <strong>{r.path || r.route}</strong> → receiver <strong>{r.receiver.name}</strong>
                  {describeReceiver(r.receiver)}
                  {r.escalation && <> · escalation {r.escalation.policy}</>}
                </li>
              ))}
            </ul>
            {explanation.silenced_by && explanation.silenced_by.length > 0 && (
              <p>
                Silenced by:{' '}
                {explanation.silenced_by.map((s) => (
                  <span key={s.id}>
                    {s.comment} (until <Time at={s.ends_at} />){' '}
                  </span>
                ))}
              </p>
            )}
          </>
        )}
      </Section>

      {upstream.length > 0 && <UpstreamAlerts upstream={upstream} alerts={alerts} />}

      <Section title={`Alerts (${alerts.length})`} id="alerts">
        <ul class="alerts-list">
          {alerts.map((a) => (
            <li key={a.id}>
              <Time at={a.received_at} /> <strong>{a.status}</strong> {a.title} ({a.source}, {a.severity})
              {Object.keys(a.labels).length > 0 && <LabelList labels={a.labels} />}
              {a.annotations?.generatorURL && isHttp(a.annotations.generatorURL) && (
                <a href={a.annotations.generatorURL} rel="noopener noreferrer" target="_blank">
                  Graph
                </a>
              )}
            </li>
          ))}
        </ul>
      </Section>
      {(actions.resolve || actions.close || actions.edit) && (
        <Section title="Resolve, close or change" id="more-actions">
          {actions.resolve && <ResolveForm busy={busy} onResolve={(body) => act('POST', `/v1/incidents/${id}/resolve`, { ...body, resolved_by: actor })} />}
          {actions.close && <CloseForm busy={busy} onClose={(note) => act('POST', `/v1/incidents/${id}/close`, { actor, ...(note ? { note } : {}) })} />}
          {actions.edit && <EditForm incident={incident} busy={busy} onSave={(patch) => act('PATCH', `/v1/incidents/${id}`, { ...patch, actor })} />}
          <ErrorText error={actionError} />
        </Section>
      )}
      {!hasScope(session.scopes, 'incidents:write') && <p class="hint">This key can read only: no action is offered.</p>}
    </div>
  );
}

/**
 * Each Alertmanager or Grafana alert of the incident: its state upstream, when it started and
 * ended, and the labels and graph link of its newest stored firing.
 */
function UpstreamAlerts({ upstream, alerts }: { upstream: UpstreamAlert[]; alerts: Alert[] }) {
  const firing = upstream.filter((u) => u.status === 'firing').length;
  return (
    <Section title={`Upstream alerts (${firing} of ${upstream.length} firing)`} id="upstream">
      <ul class="upstream">
        {upstream.map((u) => {
          const stored = [...alerts].reverse().find((a) => a.external_id?.startsWith(`${u.fingerprint}@`));
          const graph = stored?.annotations?.generatorURL;
          return (
            <li key={`${u.integration}:${u.fingerprint}`} data-status={u.status}>
              <span class={`status status-${u.status === 'firing' ? 'failed' : 'sent'}`}>{u.status}</span> <strong>{u.name}</strong> since{' '}
              <Time at={u.starts_at} />
              {u.ends_at && (
                <>
                  , ended <Time at={u.ends_at} />
                </>
              )}
              {stored && Object.keys(stored.labels).length > 0 && <LabelList labels={stored.labels} />}
              {graph && isHttp(graph) && (
                <a href={graph} rel="noopener noreferrer" target="_blank">
                  Graph
                </a>
              )}
            </li>
          );
        })}
      </ul>
    </Section>
  );
}

/** Labels as `name=value` chips. */
function LabelList({ labels }: { labels: Record<string, string> }) {
  return (
    <ul class="labels">
      {Object.entries(labels).map(([k, v]) => (
        <li key={k} class="label">
          {k}={v}
        </li>
      ))}
    </ul>
  );
}

/** The channels that delivered something for the incident ("slack, webhook"). */
function notifiedChannels(deliveries: Delivery[]): string[] {
  return [...new Set(deliveries.filter((d) => d.status === 'sent').map((d) => d.channel))];
}

/** Annotations shown as links, in this order; the rest are shown as text. */
const LINK_ANNOTATIONS: [key: string, label: string][] = [
  ['runbook_url', 'Runbook'],
  ['generatorURL', 'Graph'],
  ['dashboard', 'Dashboard'],
  ['externalURL', 'Alertmanager'],
];
const isHttp = (value: string) => /^https?:\/\//i.test(value);

/**
 * What the responder opens next: the runbook, the rule's graph, the dashboard, and the other
 * annotations, from the newest alert that has any.
 */
function IncidentLinks({ alerts, runbook }: { alerts: Alert[]; runbook: string | null }) {
  const newest = [...alerts].reverse().find((a) => a.runbook_url || (a.annotations && Object.keys(a.annotations).length > 0));
  if (!newest && !runbook) return null;
  const annotations: Record<string, string> = {
    ...(newest?.annotations ?? {}),
    ...(newest?.runbook_url ? { runbook_url: newest.runbook_url } : {}),
    // The incident's own runbook (its first alert's) wins: it is what the messages linked to.
    ...(runbook ? { runbook_url: runbook } : {}),
  };
  const links = LINK_ANNOTATIONS.filter(([key]) => annotations[key] && isHttp(annotations[key]));
  const linked = new Set(links.map(([key]) => key));
  const rest = Object.entries(annotations).filter(([key]) => !linked.has(key) && key !== 'runbook');
  return (
    <Section title="Runbook and links" id="links">
      {links.length > 0 && (
        <ul class="links">
          {links.map(([key, label]) => (
            <li key={key}>
              <a href={annotations[key]} rel="noopener noreferrer" target="_blank">
                {label}
              </a>
            </li>
          ))}
        </ul>
      )}
      {rest.length > 0 && (
        <dl class="fields">
          {rest.map(([key, value]) => (
            <Fragment key={key}>
              <dt>{key}</dt>
              <dd class="pre">{value}</dd>
            </Fragment>
          ))}
        </dl>
      )}
    </Section>
  );
}

/**
 * Said plainly at the top: nobody was or will be told of this incident (a fresh install with no
 * channel, a silence, every delivery failed), with the way to the routing explanation.
 */
export function nobodyNotifiedReason(explanation: Explanation | null, deliveries: Delivery[]): string | null {
  const silence = explanation?.silenced_by?.[0];
  if (silence) return `Nobody is notified: a silence ("${silence.comment}") holds this incident's notifications.`;
  const reached = deliveries.some((d) => d.status === 'sent' || d.status === 'pending' || d.status === 'sending');
  if (deliveries.length > 0 && !reached) return 'Nobody has been notified: every notification for this incident failed or was stopped.';
  if (deliveries.length === 0 && explanation !== null && explanation.routes.every((r) => describeReceiver(r.receiver) === '')) {
    return "Nobody will be notified: no receiver on this incident's route has a channel configured.";
  }
  return null;
}

function NobodyNotified({ explanation, deliveries }: { explanation: Explanation | null; deliveries: Delivery[] }) {
  const reason = nobodyNotifiedReason(explanation, deliveries);
  if (!reason) return null;
  return (
    <p class="nobody" role="status">
      {reason}{' '}
      <button type="button" class="link" onClick={() => document.getElementById('routing-h')?.scrollIntoView()}>
        See the routing
      </button>
    </p>
  );
}

function describeReceiver(r: Explanation['routes'][number]['receiver']): string {
  const parts = [
    ...r.slack_channels.map((c) => `Slack ${c}`),
    ...r.email_to.map((e) => `email ${e}`),
    ...r.pagerduty.map((p) => `PagerDuty ${p}`),
    ...r.webhooks.map((w) => `webhook ${w}`),
    ...(r.teams ?? []).map((t) => `Teams ${t}`),
    ...(r.person ? [r.person.kind === 'schedule' ? `whoever is on call in ${r.person.ref}` : `${r.person.kind} ${r.person.ref}`] : []),
  ];
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** The one-click moves: acknowledge, the forward moves (or reopen), and a silence from the labels. */
export function ActionButtons({
  incident,
  actions,
  busy,
  onAcknowledge,
  onMove,
}: {
  incident: Incident;
  actions: IncidentActions;
  busy: boolean;
  onAcknowledge: () => void;
  onMove: (to: State) => void;
}) {
  return (
    <div class="actions">
      {actions.acknowledge && (
        <button type="button" class="primary" disabled={busy} onClick={onAcknowledge}>
          Acknowledge
        </button>
      )}
      {actions.moves.map((to) => (
        <button type="button" key={to} disabled={busy} onClick={() => onMove(to)}>
          {incident.state === 'Resolved' ? `Reopen (${to})` : `Move to ${to}`}
        </button>
      ))}
      {actions.silence && <SilenceLink incident={incident} />}
    </div>
  );
}

function SilenceLink({ incident }: { incident: Incident }) {
  const location = useLocation();
  return (
    <button type="button" onClick={() => location.route(`/silences?incident=${incident.id}`)}>
      Silence…
    </button>
  );
}

function ResolveForm({ busy, onResolve }: { busy: boolean; onResolve: (body: { method: string; notes: string; root_cause?: string }) => Promise<boolean> }) {
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const rootCause = value('root_cause').trim();
    if (await onResolve({ method: value('method'), notes: value('notes'), ...(rootCause ? { root_cause: rootCause } : {}) })) form.reset();
  };
  return (
    <form class="subform" onSubmit={(e) => void submit(e)} aria-label="Resolve">
      <h3>Resolve</h3>
      <label>
        Method
        <select name="method" required>
          {RESOLUTION_METHODS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label>
        Notes
        <textarea name="notes" required rows={2} />
      </label>
      <label>
        Root cause
        <input name="root_cause" />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        Resolve
      </button>
    </form>
  );
}

function CloseForm({ busy, onClose }: { busy: boolean; onClose: (note: string) => Promise<boolean> }) {
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    if (await onClose((form.elements.namedItem('note') as HTMLInputElement).value.trim())) form.reset();
  };
  return (
    <form class="subform" onSubmit={(e) => void submit(e)} aria-label="Close">
      <h3>Close</h3>
      <label>
        Note
        <input name="note" />
      </label>
      <button type="submit" disabled={busy}>
        Close incident
      </button>
    </form>
  );
}

/** Severities that page: a raise into them reaches PagerDuty and whoever is on call. */
const PAGING_SEVERITIES: readonly Severity[] = ['P0', 'P1'];

function EditForm({
  incident,
  busy,
  onSave,
}: {
  incident: Incident;
  busy: boolean;
  onSave: (patch: { severity?: Severity; assignees?: string[] }) => Promise<boolean>;
}) {
  // Controlled, from the incident's own values: Preact does not apply `defaultValue` to a
  // <select>, which then showed its first option (P0), and saving an assignee raised the
  // incident to P0 and paged.
  const [severity, setSeverity] = useState<Severity>(incident.severity);
  const [assigneesText, setAssigneesText] = useState(incident.assignees.join(', '));
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    setSeverity(incident.severity);
    setAssigneesText(incident.assignees.join(', '));
  }, [incident.severity, incident.assignees.join(',')]);
  const submit = (e: Event) => {
    e.preventDefault();
    const assignees = assigneesText
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    // Only what changed is sent: an unchanged form changes nothing.
    const patch: { severity?: Severity; assignees?: string[] } = {};
    if (severity !== incident.severity) patch.severity = severity;
    if (assignees.join(',') !== incident.assignees.join(',')) patch.assignees = assignees;
    if (Object.keys(patch).length === 0) {
      setNote('Nothing changed.');
      return;
    }
    const raisesToPage =
      patch.severity !== undefined && PAGING_SEVERITIES.includes(patch.severity) && SEVERITIES.indexOf(patch.severity) < SEVERITIES.indexOf(incident.severity);
    if (raisesToPage && !window.confirm(`Raise ${incident.severity} to ${patch.severity}? A ${patch.severity} pages whoever is on call.`)) return;
    setNote(null);
    void onSave(patch);
  };
  return (
    <form class="subform" onSubmit={submit} aria-label="Severity and assignees">
      <h3>Severity and assignees</h3>
      <label>
        Severity
        <select name="severity" value={severity} onChange={(e) => setSeverity(e.currentTarget.value as Severity)}>
          {SEVERITIES.map((s) => (
            <option key={s} value={s} selected={s === severity}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Assignees (comma-separated)
        <input name="assignees" value={assigneesText} onInput={(e) => setAssigneesText(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Save
      </button>
      {note && <p class="hint">{note}</p>}
    </form>
  );
}

function NoteForm({ busy, onAdd }: { busy: boolean; onAdd: (content: string) => Promise<boolean> }) {
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const content = (form.elements.namedItem('content') as HTMLTextAreaElement).value.trim();
    if (content && (await onAdd(content))) form.reset();
  };
  return (
    <form class="subform" onSubmit={(e) => void submit(e)} aria-label="Add a note">
      <label>
        Note
        <textarea name="content" required rows={2} />
      </label>
      <button type="submit" disabled={busy}>
        Add note
      </button>
    </form>
  );
}
