// The dashboard's single page: a hash router over the views (every view has its own URL,
// the key browser at a prefix is #/keys/<prefix>), a login form when the member asks
// for credentials, and the views themselves (views.jsx, metrics.jsx).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { post, session } from './api.js';
import { ClusterView, KeysView, WatchView, LeasesView, AuthView, MaintenanceView } from './views.jsx';
import { MetricsView } from './metrics.jsx';
import 'uplot/dist/uPlot.min.css';
import './style.css';

const VIEWS = [
  ['cluster', 'Cluster', ClusterView],
  ['keys', 'Keys', KeysView],
  ['watch', 'Watch', WatchView],
  ['leases', 'Leases', LeasesView],
  ['auth', 'Users & roles', AuthView],
  ['metrics', 'Metrics', MetricsView],
  ['maintenance', 'Maintenance', MaintenanceView],
];

function parseHash() {
  const h = location.hash.replace(/^#\/?/, '');
  const slash = h.indexOf('/');
  const view = slash < 0 ? h : h.slice(0, slash);
  const arg = slash < 0 ? '' : decodeURIComponent(h.slice(slash + 1));
  return { view: VIEWS.some((v) => v[0] === view) ? view : 'cluster', arg };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Login({ onDone }) {
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      await post('/api/login', { name: form.get('name'), password: form.get('password') });
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <main class="login">
      <h1>tsetcd</h1>
      <form onSubmit={submit} aria-label="Log in">
        <label>
          User name <input name="name" autocomplete="username" required />
        </label>
        <label>
          Password <input name="password" type="password" autocomplete="current-password" />
        </label>
        <button type="submit">Log in</button>
        {error && <p role="alert" class="error">{error}</p>}
      </form>
    </main>
  );
}

function App() {
  const route = useRoute();
  const [who, setWho] = useState(null);
  const refresh = () => session().then(setWho, () => setWho({ status: 0, error: 'member unreachable' }));
  useEffect(() => {
    refresh();
    addEventListener('tsetcd-unauthorized', refresh);
    return () => removeEventListener('tsetcd-unauthorized', refresh);
  }, []);
  if (!who) return <p aria-busy="true">Loading…</p>;
  if (who.status === 401) return <Login onDone={refresh} />;
  if (who.status !== 200) return <p role="alert" class="error">{who.error}</p>;
  const View = VIEWS.find((v) => v[0] === route.view)[2];
  const logout = async () => {
    await post('/api/logout');
    refresh();
  };
  return (
    <div class="app">
      <header>
        <strong>tsetcd</strong>
        <nav aria-label="Views">
          {VIEWS.map(([id, label]) => (
            <a href={`#/${id}`} aria-current={route.view === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          {who.authEnabled ? (
            <>
              {who.user}
              {who.root ? ' (root)' : ''} <button onClick={logout}>Log out</button>
            </>
          ) : (
            'auth disabled'
          )}
        </span>
      </header>
      <main id="view">
        <View arg={route.arg} session={who} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('root'));
