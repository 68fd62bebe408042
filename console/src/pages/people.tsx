import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText, Section, Time } from '../components/common';
import type { Team, User } from '../types';

/** "at once: slack, email; after 5m: email"; none set: every method the user has, at once. */
export function rulesText(rules: User['notification_rules']): string {
  if (rules.length === 0) return 'none set: every method at once';
  return rules.map((r) => `${r.after === '0s' ? 'at once' : `after ${r.after}`}: ${r.methods.join(', ')}`).join('; ');
}

/** "slack (U024BE7LH), email": each way the user is reached, with its address unless it is the email shown beside it. */
export function contactText(user: Pick<User, 'contact_methods' | 'email'>): string {
  return user.contact_methods.map((m) => (m.type === 'email' && m.address === user.email ? m.type : `${m.type} (${m.address})`)).join(', ');
}

/** What a route or escalation step naming the team does. */
export function notifyText(team: Pick<Team, 'notify' | 'escalation_policy'>): string {
  if (team.notify === 'members') return 'every member at once';
  return team.escalation_policy ? `runs the escalation policy ${team.escalation_policy}` : 'its escalation policy (none set)';
}

/** Members by name, in the team's order; a deactivated one says so, an unknown one shows its id. */
export function memberNames(team: Pick<Team, 'member_ids'>, users: Map<string, User>): string[] {
  return team.member_ids.map((id) => {
    const user = users.get(id);
    if (!user) return id;
    return user.active ? user.name : `${user.name} (deactivated)`;
  });
}

export function PeoplePage() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([api<User[]>('GET', '/v1/users?include_inactive=true'), api<Team[]>('GET', '/v1/teams')]).then(
      ([u, t]) => {
        // Active people first; each group by name.
        setUsers([...u].sort((a, b) => Number(b.active) - Number(a.active) || a.name.localeCompare(b.name)));
        setTeams([...t].sort((a, b) => a.name.localeCompare(b.name)));
      },
      (err) => setError(messageOf(err)),
    );
  }, []);
  const byId = new Map((users ?? []).map((u) => [u.id, u]));

  return (
    <div>
      <h1>People</h1>
      <ErrorText error={error} />
      {users === null && !error && <p>Loading…</p>}
      {users !== null && (
        <Section title={`Users (${users.filter((u) => u.active).length} active)`} id="users">
          {users.length === 0 ? (
            <p>No user yet. Users are made through the API (POST /v1/users).</p>
          ) : (
            <div class="table-wrap">
              <table class="stack users">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Reached by</th>
                    <th scope="col">Notification rules</th>
                    <th scope="col">Time zone</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {users.map((u) => (
                    <tr key={u.id} data-user={u.id} class={u.active ? undefined : 'inactive'}>
                      <td data-label="Name">
                        <strong>{u.name}</strong>
                      </td>
                      <td data-label="Email">
                        <a href={`mailto:${u.email}`}>{u.email}</a>
                      </td>
                      <td data-label="Reached by">
                        {contactText(u)}
                        {u.phone && <span class="hint"> · phone {u.phone}</span>}
                      </td>
                      <td data-label="Notification rules">{rulesText(u.notification_rules)}</td>
                      <td data-label="Time zone">{u.time_zone}</td>
                      <td data-label="Status">
                        {u.active ? (
                          <span class="badge person-active">Active</span>
                        ) : (
                          <span>
                            <span class="badge person-inactive">Deactivated</span> <Time at={u.deactivated_at} />
                          </span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Section>
      )}
      {teams !== null && users !== null && (
        <Section title={`Teams (${teams.length})`} id="teams">
          {teams.length === 0 ? (
            <p>No team yet. Teams are made through the API (POST /v1/teams).</p>
          ) : (
            <div class="table-wrap">
              <table class="stack teams">
                <thead>
                  <tr>
                    <th scope="col">Team</th>
                    <th scope="col">Members</th>
                    <th scope="col">Escalation policy</th>
                    <th scope="col">Notify mode</th>
                  </tr>
                </thead>
                <tbody>
                  {teams.map((t) => (
                    <tr key={t.id} data-team={t.id}>
                      <td data-label="Team">
                        <strong>{t.name}</strong>
                      </td>
                      <td data-label="Members">{t.member_ids.length === 0 ? 'nobody' : memberNames(t, byId).join(', ')}</td>
                      <td data-label="Escalation policy">{t.escalation_policy ?? 'none'}</td>
                      <td data-label="Notify mode">
                        {t.notify}: {notifyText(t)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Section>
      )}
    </div>
  );
}
