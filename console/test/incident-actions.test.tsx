import { cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { LocationProvider } from 'preact-iso';
import { afterEach, describe, expect, it, vi } from 'vitest';
// The service's own state machine: the buttons must offer exactly the moves it allows.
import { canTransition } from '../../src/incidents/domain/state-machine';
import { FilterBar, noChannelWarning } from '../src/pages/incidents';
import { ActionButtons, nobodyNotifiedReason } from '../src/pages/incident';
import { DEFAULT_FILTERS } from '../src/filters';
import { actionsFor } from '../src/lifecycle';
import { STATES, type Incident, type State } from '../src/types';

afterEach(cleanup);

function incident(state: State, acknowledged = state !== 'Detected'): Incident {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    title: 'Checkout latency',
    description: '',
    severity: 'P1',
    state,
    source: 'prometheus',
    incident_type: 'Performance',
    labels: { team: 'payments' },
    affected_resources: [],
    assignees: [],
    alert_count: 1,
    created_at: '2026-12-01T10:00:00.000Z',
    updated_at: '2026-12-01T10:00:00.000Z',
    last_seen_at: '2026-12-01T10:00:00.000Z',
    acknowledged_at: acknowledged ? '2026-12-01T10:01:00.000Z' : null,
    acknowledged_by: acknowledged ? 'alice' : null,
    resolved_at: null,
    resolution: null,
  };
}

function renderButtons(subject: Incident, scopes: string[], busy = false) {
  const onAcknowledge = vi.fn();
  const onMove = vi.fn();
  render(
    <LocationProvider>
      <ActionButtons incident={subject} actions={actionsFor(subject, scopes)} busy={busy} onAcknowledge={onAcknowledge} onMove={onMove} />
    </LocationProvider>,
  );
  return { onAcknowledge, onMove, labels: screen.queryAllByRole('button').map((b) => b.textContent) };
}

describe('the state-machine buttons', () => {
  it.each(STATES)('offer from %s exactly the moves the service allows, and nothing illegal', (state) => {
    const subject = incident(state);
    const { labels } = renderButtons(subject, ['incidents:write']);
    const offered = new Set<State>();
    for (const label of labels) {
      const to = /^(?:Move to|Reopen \()\s*(\w+)\)?$/.exec(label ?? '')?.[1] as State | undefined;
      if (to) offered.add(to);
      if (label === 'Acknowledge') offered.add('Triaged');
    }
    // Resolve and close have forms of their own; the form is there exactly when the move is allowed.
    const actions = actionsFor(subject, ['incidents:write']);
    expect(actions.resolve).toBe(canTransition(state, 'Resolved'));
    expect(actions.close).toBe(canTransition(state, 'Closed'));
    const allowed = STATES.filter((to) => to !== 'Resolved' && to !== 'Closed' && canTransition(state, to));
    expect([...offered].sort()).toEqual(allowed.sort());
  });

  it('offers Acknowledge on a new incident instead of "Move to Triaged", and calls back on a click', () => {
    const { labels, onAcknowledge, onMove } = renderButtons(incident('Detected'), ['incidents:write']);
    expect(labels).toEqual(['Acknowledge', 'Move to Investigating', 'Move to Remediating', 'Silence…']);
    fireEvent.click(screen.getByRole('button', { name: 'Acknowledge' }));
    expect(onAcknowledge).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('button', { name: 'Move to Remediating' }));
    expect(onMove).toHaveBeenCalledWith('Remediating');
  });

  it('offers a read-only key nothing, and an admin everything a writer gets', () => {
    expect(renderButtons(incident('Detected'), ['incidents:read']).labels).toEqual([]);
    cleanup();
    expect(actionsFor(incident('Triaged'), ['incidents:read'])).toEqual({
      acknowledge: false,
      moves: [],
      resolve: false,
      close: false,
      edit: false,
      note: false,
      redrive: false,
      silence: false,
    });
    expect(actionsFor(incident('Triaged'), ['admin'])).toEqual(actionsFor(incident('Triaged'), ['incidents:write', 'notifications:write']));
  });

  it('disables the moves while one is in flight', () => {
    renderButtons(incident('Triaged'), ['incidents:write'], true);
    expect(screen.getByRole('button', { name: 'Move to Investigating' })).toHaveProperty('disabled', true);
  });
});

describe('the filter bar', () => {
  it('applies a severity at once, and text fields on submit', () => {
    const onChange = vi.fn();
    render(<FilterBar filters={DEFAULT_FILTERS} onChange={onChange} />);
    fireEvent.click(screen.getByRole('checkbox', { name: 'P0' }));
    expect(onChange).toHaveBeenLastCalledWith({ severities: ['P0'] });
    fireEvent.input(screen.getByRole('searchbox', { name: 'Search' }), { target: { value: 'disk' } });
    fireEvent.input(screen.getByRole('textbox', { name: 'Labels' }), { target: { value: 'team=storage' } });
    fireEvent.submit(screen.getByRole('search'));
    expect(onChange).toHaveBeenLastCalledWith({ q: 'disk', source: '', labels: 'team=storage' });
  });

  it('refuses a malformed label filter in words, without applying it', () => {
    const onChange = vi.fn();
    render(<FilterBar filters={DEFAULT_FILTERS} onChange={onChange} />);
    fireEvent.input(screen.getByRole('textbox', { name: 'Labels' }), { target: { value: 'team' } });
    fireEvent.submit(screen.getByRole('search'));
    expect(onChange).not.toHaveBeenCalled();
    expect(screen.getByRole('alert').textContent).toBe('"team" is not name=value');
  });

  it('offers only the open states in the open view', () => {
    render(<FilterBar filters={DEFAULT_FILTERS} onChange={() => undefined} />);
    const states = screen.getByRole('group', { name: 'State' });
    expect([...states.querySelectorAll('label')].map((l) => l.textContent?.trim())).toEqual(['Detected', 'Triaged', 'Investigating', 'Remediating']);
  });
});

describe('the nobody-notified warning', () => {
  const receiver = (targets: Partial<Record<'slack_channels' | 'email_to' | 'pagerduty' | 'webhooks', string[]>>) => ({
    name: 'default',
    slack_channels: [],
    email_to: [],
    pagerduty: [],
    webhooks: [],
    ...targets,
  });
  const explanation = (targets: Parameters<typeof receiver>[0], silenced_by: { id: string; comment: string; ends_at: string }[] = []) => ({
    routes: [{ route: 'root', path: '', receiver: receiver(targets), escalation: null }],
    silenced_by,
  });
  const delivery = (status: string) => ({ status }) as never;

  it('says why nobody is told: no channel on the route, a silence, every delivery failed', () => {
    expect(nobodyNotifiedReason(explanation({}), [])).toMatch(/^Nobody will be notified: no receiver/);
    expect(nobodyNotifiedReason(explanation({ webhooks: ['https://hooks.example/x'] }, [{ id: 's', comment: 'maintenance', ends_at: '' }]), [])).toMatch(
      /^Nobody is notified: a silence \("maintenance"\)/,
    );
    expect(nobodyNotifiedReason(explanation({ slack_channels: ['#ops'] }), [delivery('failed'), delivery('cancelled')])).toMatch(/^Nobody has been notified/);
  });

  it('stays quiet when someone was or will be told', () => {
    expect(nobodyNotifiedReason(explanation({ slack_channels: ['#ops'] }), [])).toBeNull();
    expect(nobodyNotifiedReason(explanation({ slack_channels: ['#ops'] }), [delivery('failed'), delivery('sent')])).toBeNull();
    expect(nobodyNotifiedReason(explanation({ slack_channels: ['#ops'] }), [delivery('pending')])).toBeNull();
    expect(nobodyNotifiedReason(null, [])).toBeNull();
  });
});

describe('the list’s warning when no channel can notify anyone', () => {
  it('speaks when every channel is off or unconfigured, and only then', () => {
    expect(noChannelWarning({ channels: { slack: { enabled: false }, email: { enabled: false }, webhook: { enabled: true, configured: false } } })).toMatch(
      /^No notification channel is on and configured: nobody is notified/,
    );
    expect(noChannelWarning({ channels: { slack: { enabled: false }, webhook: { enabled: true, configured: true } } })).toBeNull();
    expect(noChannelWarning({ channels: { webhook: {} } })).toBeNull();
    expect(noChannelWarning(null)).toBeNull();
  });
});
