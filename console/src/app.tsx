import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router } from 'preact-iso';
import { api, messageOf, setCsrfToken, whenSignedOut } from './api';
import { ErrorText, SessionContext } from './components/common';
import { actorOf, hasScope } from './lifecycle';
import { IncidentPage } from './pages/incident';
import { IncidentsPage } from './pages/incidents';
import { KeysPage } from './pages/keys';
import { NotificationsPage } from './pages/notifications';
import { OnCallPage } from './pages/on-call';
import { PeoplePage } from './pages/people';
import { SchedulePage } from './pages/schedule';
import { SilencesPage } from './pages/silences';
import type { Session } from './types';

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  const adopt = (s: Session) => {
    setCsrfToken(s.csrf_token);
    setSession(s);
  };
  useEffect(() => {
    whenSignedOut(() => {
      setNotice('Your session has ended. Sign in again.');
      setSession(null);
    });
    api<Session>('GET', '/v1/session').then(adopt, () => setSession(null));
  }, []);
  // The session ends at its expiry even without a request to say so.
  useEffect(() => {
    if (!session || session.authentication === 'off') return;
    const timer = setTimeout(
      () => {
        setNotice('Your session has expired. Sign in again.');
        setSession(null);
      },
      Math.max(0, Date.parse(session.expires_at) - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [session]);

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn notice={notice} onSignedIn={adopt} />;
  const signOut = async () => {
    try {
      await api('DELETE', '/v1/session');
    } finally {
      setCsrfToken('');
      setNotice('Signed out.');
      setSession(null);
    }
  };
  return (
    <SessionContext.Provider value={session}>
      <LocationProvider>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/">
            Incident Manager
          </a>
          <nav aria-label="Main">
            <a href="/">Incidents</a>
            <a href="/on-call">On call</a>
            <a href="/people">People</a>
            <a href="/silences">Silences</a>
            <a href="/notifications">Notifications</a>
            {hasScope(session.scopes, 'admin') && <a href="/keys">API keys</a>}
          </nav>
          <span class="who">
            <span title={`${session.user_name ? `key ${session.key_name}: ` : ''}${session.scopes.join(', ')}`}>{actorOf(session)}</span>
            {session.authentication === 'session' && (
              <button type="button" class="link" onClick={() => void signOut()}>
                Sign out
              </button>
            )}
          </span>
        </header>
        <main id="main" tabIndex={-1}>
          <Router>
            <Route path="/" component={IncidentsPage} />
            <Route path="/incidents/:id" component={IncidentPage} />
            <Route path="/on-call" component={OnCallPage} />
            <Route path="/people" component={PeoplePage} />
            <Route path="/schedules/:id" component={SchedulePage} />
            <Route path="/silences" component={SilencesPage} />
            <Route path="/notifications" component={NotificationsPage} />
            <Route path="/keys" component={KeysPage} />
            <Route default component={NotFound} />
          </Router>
        </main>
      </LocationProvider>
    </SessionContext.Provider>
  );
}

function NotFound() {
  return (
    <section class="card">
      <h1>Not found</h1>
      <p>
        There is no such page. <a href="/">Back to the incidents</a>.
      </p>
    </section>
  );
}

/** The key is sent once, exchanged for an HttpOnly session cookie, and dropped from the page. */
function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('api_key') as HTMLInputElement;
    const remember = (form.elements.namedItem('remember') as HTMLInputElement).checked;
    setBusy(true);
    setError(null);
    try {
      const session = await api<Session>('POST', '/v1/session', { api_key: input.value.trim(), ...(remember ? { remember: true } : {}) });
      input.value = '';
      onSignedIn(session);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <form class="card" onSubmit={(e) => void submit(e)} autoComplete="off">
        <h1>Incident Manager</h1>
        {notice && <p class="notice">{notice}</p>}
        <label for="api_key">API key</label>
        <input id="api_key" name="api_key" type="password" required autoComplete="off" spellcheck={false} placeholder="lim_…" />
        <p class="hint">The key is exchanged for a session and not kept by the browser.</p>
        <label class="check">
          <input name="remember" type="checkbox" /> Keep me signed in on this device
        </label>
        <ErrorText error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
