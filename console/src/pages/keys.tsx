import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText, Section, Time, useSession } from '../components/common';
import { hasScope } from '../lifecycle';
import { SCOPES, type User } from '../types';

interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  status: 'active' | 'expired' | 'revoked';
  user_id: string | null;
}

export function KeysPage() {
  const session = useSession();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [users, setUsers] = useState<User[]>([]);
  const load = () => api<ApiKey[]>('GET', '/v1/api-keys').then(setKeys, (err) => setError(messageOf(err)));
  useEffect(() => {
    void load();
    // A key may belong to a person: its changes are then recorded as them.
    void api<User[]>('GET', '/v1/users').then(setUsers, () => setUsers([]));
  }, []);
  const nameOf = (id: string | null) => (id ? (users.find((u) => u.id === id)?.name ?? 'a user') : null);
  if (!hasScope(session.scopes, 'admin')) return <p>API keys are managed with an admin key.</p>;

  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = (form.elements.namedItem('name') as HTMLInputElement).value;
    const scopes = SCOPES.filter((s) => (form.elements.namedItem(`scope-${s}`) as HTMLInputElement).checked);
    const days = Number((form.elements.namedItem('days') as HTMLInputElement).value);
    const userId = (form.elements.namedItem('user') as HTMLSelectElement).value;
    setError(null);
    try {
      const created = await api<ApiKey & { key: string }>('POST', '/v1/api-keys', {
        name,
        scopes,
        ...(days > 0 ? { expires_at: new Date(Date.now() + days * 86_400_000).toISOString() } : {}),
        ...(userId ? { user_id: userId } : {}),
      });
      setSecret({ name: created.name, key: created.key });
      setCopied(false);
      form.reset();
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const revoke = async (key: ApiKey) => {
    if (!window.confirm(`Revoke the key "${key.name}"? Everything using it stops working.`)) return;
    try {
      await api('POST', `/v1/api-keys/${key.id}/revoke`, {});
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <div>
      <h1>API keys</h1>
      <ErrorText error={error} />
      {secret && (
        <Section title={`New key "${secret.name}"`} id="secret">
          <p>This is the only time the key is shown. Store it now.</p>
          <input class="mono" readOnly value={secret.key} aria-label="The new key" onFocus={(e) => e.currentTarget.select()} />
          <button
            type="button"
            onClick={() => {
              void navigator.clipboard?.writeText(secret.key).then(() => setCopied(true));
            }}
          >
            Copy
          </button>
          <span role="status">{copied ? ' Copied.' : ''}</span>
          <button type="button" class="link" onClick={() => setSecret(null)}>
            Done
          </button>
        </Section>
      )}
      <Section title="New key" id="new-key">
        <form class="subform" onSubmit={(e) => void create(e)}>
          <label>
            Name
            <input name="name" required maxLength={100} />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map((s) => (
              <label class="chip" key={s}>
                <input type="checkbox" name={`scope-${s}`} /> {s}
              </label>
            ))}
          </fieldset>
          <label>
            Belongs to
            <select name="user">
              <option value="">No one (a service's key)</option>
              {users.map((u) => (
                <option value={u.id} key={u.id}>
                  {u.name} ({u.email})
                </option>
              ))}
            </select>
          </label>
          <label>
            Expires after (days, empty for never)
            <input name="days" type="number" min="1" />
          </label>
          <button type="submit" class="primary">
            Create key
          </button>
        </form>
      </Section>
      <Section title="Keys" id="key-list">
        <ul class="keys">
          {keys?.map((k) => (
            <li key={k.id}>
              <strong>{k.name}</strong> <code>{k.id}</code> {k.user_id ? `${nameOf(k.user_id)}'s · ` : ''}
              {k.scopes.join(', ')} · {k.status} · last used <Time at={k.last_used_at} />
              {k.status === 'active' && k.id !== session.key_id && (
                <button type="button" onClick={() => void revoke(k)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      </Section>
    </div>
  );
}
