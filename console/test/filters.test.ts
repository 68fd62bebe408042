import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  DEFAULT_FILTERS,
  fromSearch,
  matchesFilters,
  PAGE_SIZE,
  parseLabels,
  toApiQuery,
  toSearch,
  toStreamQuery,
  type IncidentFilters,
} from '../src/filters';
import type { Incident, LiveEvent, State } from '../src/types';

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    title: 'Disk full on db-7',
    description: 'the data volume is at 98%',
    severity: 'P2',
    state: 'Detected',
    source: 'prometheus',
    incident_type: 'Infrastructure',
    labels: { team: 'storage', env: 'prod' },
    affected_resources: [],
    assignees: [],
    alert_count: 1,
    created_at: '2026-12-01T10:00:00.000Z',
    updated_at: '2026-12-01T10:00:00.000Z',
    last_seen_at: '2026-12-01T10:00:00.000Z',
    acknowledged_at: null,
    acknowledged_by: null,
    resolved_at: null,
    resolution: null,
    ...overrides,
  };
}

function event(event_type: string, subject: Incident, previous_state?: State): LiveEvent {
  return { event_type, occurred_at: subject.updated_at, actor: 'test', incident: subject, ...(previous_state ? { previous_state } : {}) };
}

const filters = (overrides: Partial<IncidentFilters> = {}): IncidentFilters => ({ ...DEFAULT_FILTERS, ...overrides });

describe('the URL form of the filters', () => {
  it('round-trips through the search string, and the defaults leave it empty', () => {
    const f = filters({ view: 'all', states: ['Resolved', 'Closed'], severities: ['P0'], source: 'grafana', labels: 'team=payments', q: 'latency', page: 3 });
    expect(fromSearch(toSearch(f))).toEqual(f);
    expect(toSearch(DEFAULT_FILTERS)).toBe('');
  });

  it('drops unknown states, severities and page numbers instead of sending them on', () => {
    expect(fromSearch('?state=Exploded&state=Triaged&severity=P9&page=-2')).toEqual(filters({ states: ['Triaged'] }));
  });
});

describe('the API query', () => {
  it('asks for the open states, open ones first, in the open view', () => {
    const q = new URLSearchParams(toApiQuery(DEFAULT_FILTERS));
    expect(q.getAll('state')).toEqual(['Detected', 'Triaged', 'Investigating', 'Remediating']);
    expect(q.get('sort')).toBe('urgent');
    expect(q.get('page_size')).toBe(String(PAGE_SIZE));
  });

  it('narrows chosen states to open ones in the open view, and keeps them in the all view', () => {
    expect(new URLSearchParams(toApiQuery(filters({ states: ['Triaged', 'Closed'] }))).getAll('state')).toEqual(['Triaged']);
    expect(new URLSearchParams(toApiQuery(filters({ view: 'all', states: ['Closed'] }))).getAll('state')).toEqual(['Closed']);
    expect(new URLSearchParams(toApiQuery(filters({ view: 'all' }))).getAll('state')).toEqual([]);
  });

  it('sends each label pair, the source and the text trimmed', () => {
    const q = new URLSearchParams(toApiQuery(filters({ labels: 'team=payments, env=prod', source: ' grafana ', q: '  disk ' })));
    expect(q.getAll('label')).toEqual(['team=payments', 'env=prod']);
    expect(q.get('source')).toBe('grafana');
    expect(q.get('q')).toBe('disk');
  });

  it('gives the stream only the filters it takes (severity): states change under it', () => {
    expect(toStreamQuery(filters({ severities: ['P0', 'P1'], states: ['Triaged'], q: 'x' }))).toBe('severity=P0&severity=P1');
  });

  it('refuses a label filter that is not name=value', () => {
    expect(parseLabels('team').error).toBe('"team" is not name=value');
    expect(parseLabels('=x').error).toBeDefined();
    expect(parseLabels('a.b/c=1 d=').pairs).toEqual([
      { name: 'a.b/c', value: '1' },
      { name: 'd', value: '' },
    ]);
  });
});

describe('what a live event does to the list', () => {
  const shown = { items: [incident()], total: 1 };

  it('puts a new incident on top of the first page, and only counts it on a later page', () => {
    const fresh = incident({ id: '22222222-2222-4222-8222-222222222222', title: 'New one' });
    expect(applyEvent(DEFAULT_FILTERS, shown, event('incident.detected', fresh))).toEqual({ items: [fresh, shown.items[0]], total: 2 });
    expect(applyEvent(filters({ page: 2 }), shown, event('incident.detected', fresh))).toEqual({ items: shown.items, total: 2 });
  });

  it('keeps the list in its order: open first, then the most severe, then the newest', () => {
    const p3 = incident({ id: 'p3', severity: 'P3', created_at: '2026-12-01T12:00:00.000Z' });
    const p0old = incident({ id: 'p0-old', severity: 'P0', created_at: '2026-12-01T08:00:00.000Z' });
    const p0new = incident({ id: 'p0-new', severity: 'P0', created_at: '2026-12-01T09:00:00.000Z' });
    let list = { items: [p3], total: 1 };
    list = applyEvent(DEFAULT_FILTERS, list, event('incident.detected', p0old));
    list = applyEvent(DEFAULT_FILTERS, list, event('incident.detected', p0new));
    expect(list.items.map((i) => i.id)).toEqual(['p0-new', 'p0-old', 'p3']);
    // Raised to P0, the P3 moves up among them by its age.
    list = applyEvent(DEFAULT_FILTERS, list, event('incident.updated', { ...p3, severity: 'P0' }));
    expect(list.items.map((i) => i.id)).toEqual(['p3', 'p0-new', 'p0-old']);
    // In the whole view, a resolved one goes below the open ones, whatever its severity.
    const all = filters({ view: 'all' });
    const resolved = applyEvent(all, list, event('incident.resolved', { ...p0new, state: 'Resolved' }, 'Detected'));
    expect(resolved.items.map((i) => i.id)).toEqual(['p3', 'p0-old', 'p0-new']);
  });

  it('keeps the first page to its size', () => {
    const full = { items: Array.from({ length: PAGE_SIZE }, (_, i) => incident({ id: `id-${i}` })), total: 40 };
    const next = applyEvent(DEFAULT_FILTERS, full, event('incident.detected', incident({ id: 'newest' })));
    expect(next.items).toHaveLength(PAGE_SIZE);
    expect(next.items[0].id).toBe('newest');
    expect(next.total).toBe(41);
  });

  it('replaces a shown incident in place, and drops it once it no longer matches (resolved in the open view)', () => {
    const triaged = incident({ state: 'Triaged' });
    expect(applyEvent(DEFAULT_FILTERS, shown, event('incident.triaged', triaged, 'Detected'))).toEqual({ items: [triaged], total: 1 });
    expect(applyEvent(DEFAULT_FILTERS, shown, event('incident.resolved', incident({ state: 'Resolved' }), 'Detected'))).toEqual({ items: [], total: 0 });
  });

  it('adds a reopened incident to the open view, and ignores one outside the filters', () => {
    const reopened = incident({ id: 'reopened', state: 'Investigating' });
    expect(applyEvent(DEFAULT_FILTERS, shown, event('incident.investigating', reopened, 'Resolved')).items[0].id).toBe('reopened');
    const p0 = filters({ severities: ['P0'] });
    expect(applyEvent(p0, { items: [], total: 0 }, event('incident.detected', incident({ id: 'p2' })))).toEqual({ items: [], total: 0 });
    // An update to an incident that is not shown (another page, say) changes nothing.
    expect(applyEvent(DEFAULT_FILTERS, shown, event('incident.updated', incident({ id: 'elsewhere' })))).toBe(shown);
  });

  it('matches text in the title or description, case-insensitively, or the id exactly', () => {
    expect(matchesFilters(filters({ q: 'DISK' }), incident())).toBe(true);
    expect(matchesFilters(filters({ q: '98%' }), incident())).toBe(true);
    expect(matchesFilters(filters({ q: '11111111-1111-4111-8111-111111111111' }), incident())).toBe(true);
    expect(matchesFilters(filters({ q: 'latency' }), incident())).toBe(false);
    expect(matchesFilters(filters({ labels: 'team=storage' }), incident())).toBe(true);
    expect(matchesFilters(filters({ labels: 'team=payments' }), incident())).toBe(false);
    expect(matchesFilters(filters({ source: 'grafana' }), incident())).toBe(false);
  });
});
