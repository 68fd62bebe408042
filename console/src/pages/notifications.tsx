import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText, Section, Time, useSession } from '../components/common';
import { hasScope } from '../lifecycle';
import type { Delivery, Page } from '../types';

interface ChannelStats {
  enabled?: boolean;
  configured?: boolean;
  pending: number;
  sending: number;
  sent: number;
  failed: number;
  cancelled: number;
  suppressed: number;
}

interface Stats {
  queue_depth: number;
  in_flight: number;
  worker_count: number;
  degraded_targets: string[];
  channels: Record<string, ChannelStats>;
}

export function NotificationsPage() {
  const session = useSession();
  const write = hasScope(session.scopes, 'notifications:write');
  const [stats, setStats] = useState<Stats | null>(null);
  const [dead, setDead] = useState<Page<Delivery> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, string>>({});

  const load = async () => {
    try {
      const [s, d] = await Promise.all([
        api<Stats>('GET', '/v1/notifications/stats'),
        api<Page<Delivery>>('GET', '/v1/notifications/dead-letters?page_size=50'),
      ]);
      setStats(s);
      setDead(d);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => void load(), []);

  const test = async (channel: string) => {
    setTests((t) => ({ ...t, [channel]: 'Sending…' }));
    try {
      const outcome = await api<TestOutcome>('POST', '/v1/notifications/test', { channel });
      setTests((t) => ({ ...t, [channel]: describeOutcome(outcome) }));
    } catch (err) {
      setTests((t) => ({ ...t, [channel]: messageOf(err) }));
    }
  };
  const redrive = async (id: string) => {
    try {
      await api('POST', `/v1/notifications/${id}/retry`, {});
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <div>
      <h1>Notifications</h1>
      <ErrorText error={error} />
      {stats && (
        <Section title="Channels" id="channels">
          <p>
            Queue {stats.queue_depth}, in flight {stats.in_flight}, {stats.worker_count} workers
            {stats.degraded_targets.length > 0 && <> · degraded: {stats.degraded_targets.join(', ')}</>}
          </p>
          <div class="table-wrap">
            <table class="stack">
              <thead>
                <tr>
                  <th scope="col">Channel</th>
                  <th scope="col">Ready</th>
                  <th scope="col">Sent</th>
                  <th scope="col">Pending</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Suppressed</th>
                  {write && <th scope="col">Test</th>}
                </tr>
              </thead>
              <tbody>
                {Object.entries(stats.channels).map(([channel, c]) => (
                  <tr key={channel}>
                    <td data-label="Channel">{channel}</td>
                    <td data-label="Ready">{c.enabled === false ? 'off' : c.configured === false ? 'not configured' : 'yes'}</td>
                    <td data-label="Sent">{c.sent}</td>
                    <td data-label="Pending">{c.pending + c.sending}</td>
                    <td data-label="Failed">{c.failed}</td>
                    <td data-label="Suppressed">{c.suppressed}</td>
                    {write && (
                      <td data-label="Test">
                        <button type="button" onClick={() => void test(channel)} aria-describedby={`test-${channel}`}>
                          Send test
                        </button>
                        <span id={`test-${channel}`} class="hint" role="status">
                          {' '}
                          {tests[channel] ?? ''}
                        </span>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      )}
      {dead && (
        <Section title={`Dead letters (${dead.total})`} id="dead-letters">
          {dead.items.length === 0 ? (
            <p>None: every notification got through or is still trying.</p>
          ) : (
            <ul class="dead">
              {dead.items.map((d) => (
                <li key={d.notification_id}>
                  <a href={`/incidents/${d.incident_id}`}>{d.event}</a> via {d.channel} to {d.target}: {d.attempts} attempts, <Time at={d.updated_at} />
                  <br />
                  <span class="wrap">{d.last_error}</span>{' '}
                  {write && (
                    <button type="button" onClick={() => void redrive(d.notification_id)}>
                      Re-drive
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
    </div>
  );
}

interface TestOutcome {
  target: string;
  outcome: 'delivered' | 'retry' | 'permanent';
  error: string | null;
}

function describeOutcome(o: TestOutcome): string {
  return `${o.outcome} (${o.target})${o.error ? `: ${o.error}` : ''}`;
}
