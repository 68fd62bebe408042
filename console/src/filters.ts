import { isOpen } from './lifecycle';
import { SEVERITIES, STATES, type Incident, type LiveEvent, type Severity, type State } from './types';

/** The incident list's filters, as kept in the page's URL (so a filtered view can be shared). */
export interface IncidentFilters {
  /** open: Detected to Remediating only (the default); all: every state, open ones first. */
  view: 'open' | 'all';
  states: State[];
  severities: Severity[];
  source: string;
  /** `name=value` pairs, separated by commas or spaces. */
  labels: string;
  q: string;
  page: number;
}

export const PAGE_SIZE = 25;

export const DEFAULT_FILTERS: IncidentFilters = { view: 'open', states: [], severities: [], source: '', labels: '', q: '', page: 1 };

export function parseLabels(text: string): { pairs: { name: string; value: string }[]; error?: string } {
  const pairs: { name: string; value: string }[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = eq > 0 ? part.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_./-]*$/.test(name)) return { pairs, error: `"${part}" is not name=value` };
    pairs.push({ name, value: part.slice(eq + 1) });
  }
  return { pairs };
}

export function fromSearch(search: string): IncidentFilters {
  const p = new URLSearchParams(search);
  const page = Number(p.get('page'));
  return {
    view: p.get('view') === 'all' ? 'all' : 'open',
    states: p.getAll('state').filter((s): s is State => (STATES as readonly string[]).includes(s)),
    severities: p.getAll('severity').filter((s): s is Severity => (SEVERITIES as readonly string[]).includes(s)),
    source: p.get('source') ?? '',
    labels: p.get('labels') ?? '',
    q: p.get('q') ?? '',
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

export function toSearch(f: IncidentFilters): string {
  const p = new URLSearchParams();
  if (f.view === 'all') p.set('view', 'all');
  f.states.forEach((s) => p.append('state', s));
  f.severities.forEach((s) => p.append('severity', s));
  if (f.source) p.set('source', f.source);
  if (f.labels) p.set('labels', f.labels);
  if (f.q) p.set('q', f.q);
  if (f.page > 1) p.set('page', String(f.page));
  const text = p.toString();
  return text ? `?${text}` : '';
}

/** The states the list asks for: the chosen ones, narrowed to open ones in the open view. */
export function effectiveStates(f: IncidentFilters): State[] {
  if (f.view === 'all') return f.states;
  const open = STATES.filter(isOpen);
  return f.states.length ? f.states.filter(isOpen) : open;
}

/** The API query of GET /v1/incidents for these filters. */
export function toApiQuery(f: IncidentFilters): string {
  const p = new URLSearchParams();
  effectiveStates(f).forEach((s) => p.append('state', s));
  f.severities.forEach((s) => p.append('severity', s));
  if (f.source.trim()) p.append('source', f.source.trim());
  parseLabels(f.labels).pairs.forEach(({ name, value }) => p.append('label', `${name}=${value}`));
  if (f.q.trim()) p.set('q', f.q.trim());
  p.set('sort', 'urgent');
  p.set('page', String(f.page));
  p.set('page_size', String(PAGE_SIZE));
  return p.toString();
}

/** The query of GET /v1/incidents/events: the filters the stream itself takes. */
export function toStreamQuery(f: IncidentFilters): string {
  const p = new URLSearchParams();
  f.severities.forEach((s) => p.append('severity', s));
  return p.toString();
}

/** Whether an incident, as a live event left it, belongs in the list these filters show. */
export function matchesFilters(f: IncidentFilters, incident: Incident): boolean {
  const states = effectiveStates(f);
  if (states.length && !states.includes(incident.state)) return false;
  if (f.severities.length && !f.severities.includes(incident.severity)) return false;
  if (f.source.trim() && incident.source !== f.source.trim()) return false;
  for (const { name, value } of parseLabels(f.labels).pairs) if (incident.labels[name] !== value) return false;
  const q = f.q.trim().toLowerCase();
  if (q && !incident.title.toLowerCase().includes(q) && !incident.description.toLowerCase().includes(q) && incident.id !== q) return false;
  return true;
}

/**
 * The list after one live event: the incident replaced where it is shown, dropped when it no
 * longer matches, or put on top of the first page when it is new or has just entered the
 * filtered states. No request is made, so many open consoles cost the service nothing per
 * event but the event itself.
 */
/**
 * The list's order (the API's `sort=urgent`): open incidents first, then the most severe, then
 * the newest. Severities compare as text (P0 < P4), as they do in the store.
 */
export function urgentOrder(a: Incident, b: Incident): number {
  const closed = (i: Incident) => (i.state === 'Resolved' || i.state === 'Closed' ? 1 : 0);
  return (
    closed(a) - closed(b) ||
    (a.severity < b.severity ? -1 : a.severity > b.severity ? 1 : 0) ||
    (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0) ||
    (a.id < b.id ? 1 : -1)
  );
}

export function applyEvent(f: IncidentFilters, list: { items: Incident[]; total: number }, event: LiveEvent): { items: Incident[]; total: number } {
  const incident = event.incident;
  const at = list.items.findIndex((i) => i.id === incident.id);
  const matches = matchesFilters(f, incident);
  if (at >= 0) {
    if (!matches) return { items: list.items.filter((i) => i.id !== incident.id), total: Math.max(0, list.total - 1) };
    const items = list.items.slice();
    items[at] = incident;
    // A change of severity or state moves it.
    return { items: items.sort(urgentOrder), total: list.total };
  }
  const states = effectiveStates(f);
  const entered =
    event.event_type === 'incident.detected' || (event.previous_state !== undefined && states.length > 0 && !states.includes(event.previous_state));
  if (!matches || !entered) return list;
  if (f.page !== 1) return { items: list.items, total: list.total + 1 };
  return { items: [incident, ...list.items].sort(urgentOrder).slice(0, PAGE_SIZE), total: list.total + 1 };
}
