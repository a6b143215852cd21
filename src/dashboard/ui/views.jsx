// The dashboard's views. Each reads through the member's API (api.js), so what a user
// may see or change is what the member's auth allows; errors are shown, never hidden.
import { useEffect, useRef, useState } from 'preact/hooks';
import { dec, decBytes, enc, getJson, prefixEnd, v3, watch } from './api.js';
import { usePermissions } from './perms.js';

function useAsync(load, deps, everyMs) {
  const [state, setState] = useState({ data: null, error: '' });
  useEffect(() => {
    let live = true;
    const run = () => load().then((data) => live && setState({ data, error: '' }), (err) => live && setState((s) => ({ data: s.data, error: err.message })));
    run();
    const timer = everyMs ? setInterval(run, everyMs) : undefined;
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, deps);
  return state;
}

function ErrorLine({ error }) {
  return error ? <p role="alert" class="error">{error}</p> : null;
}

/** Runs a confirmed action and shows its progress and outcome. */
function useAction() {
  const [state, setState] = useState({ busy: false, message: '', error: '' });
  const run = async (question, action) => {
    if (!confirm(question)) return;
    setState({ busy: true, message: 'Working…', error: '' });
    try {
      const message = await action();
      setState({ busy: false, message: message || 'Done.', error: '' });
    } catch (err) {
      setState({ busy: false, message: '', error: err.message });
    }
  };
  const view = (
    <div aria-live="polite">
      {state.busy && <p role="status" class="busy">Working</p>}
      {!state.busy && state.message && <p role="status">{state.message}</p>}
      <ErrorLine error={state.error} />
    </div>
  );
  return [run, view, state.busy];
}

function hexId(decimal) {
  return decimal ? BigInt(decimal).toString(16) : '0';
}

/** Lease IDs as etcdctl prints them: 16 hex digits. */
function leaseHex(decimal) {
  return hexId(decimal).padStart(16, '0');
}

function bytesText(n) {
  n = Number(n || 0);
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} kB` : `${n} B`;
}

// ---- Cluster ----

/** One member's Status as the serving member got it over the peer port, or why not. */
function MemberStatusCells({ id, entry, fallback }) {
  if (!entry || entry.error) return <td colspan="7" class="error" data-unreachable>{`unreachable: ${entry?.error || fallback || 'no answer'}`}</td>;
  const s = entry.status;
  // Status lists the whole cluster's alarms; this row shows the ones raised for this member
  const alarms = (s.errors || []).filter((e) => e.startsWith(`memberID:${id} `)).map((e) => e.replace(/^.*alarm:(\S+).*$/, '$1'));
  return (
    <>
      <td>{s.raftTerm}</td>
      <td>{s.raftIndex}</td>
      <td>{s.raftAppliedIndex ?? s.raftIndex}</td>
      <td>{bytesText(s.dbSize)}</td>
      <td>{bytesText(s.dbSizeInUse)}</td>
      <td>{s.version}</td>
      <td>{alarms.join(', ') || 'none'}</td>
    </>
  );
}

export function ClusterView() {
  const [leaders, setLeaders] = useState([]);
  const { data, error } = useAsync(
    async () => {
      const [members, status, alarms, statuses] = await Promise.all([
        v3('/cluster/member/list'),
        v3('/maintenance/status'),
        v3('/maintenance/alarm', { action: 'GET' }).catch((err) => ({ alarmError: err.message })),
        getJson('/api/cluster/status').catch((err) => ({ error: err.message })),
      ]);
      const byId = new Map((statuses.members || []).map((m) => [m.ID, m]));
      return { members: members.members || [], status, alarms: alarms.alarms || [], alarmError: alarms.alarmError, byId, statusError: statuses.error };
    },
    [],
    2000,
  );
  const leader = data?.status.leader;
  useEffect(() => {
    if (!leader) return;
    setLeaders((list) => (list.length && list[list.length - 1].id === leader ? list : [...list, { id: leader, at: new Date().toLocaleTimeString(), term: data.status.raftTerm }]));
  }, [leader]);
  if (!data) return <ErrorLine error={error || 'Loading…'} />;
  const s = data.status;
  return (
    <section aria-labelledby="cluster-h">
      <h1 id="cluster-h">Cluster</h1>
      <ErrorLine error={error} />
      <div class="scroll">
        <table aria-label="Members">
          <thead>
            <tr>
              <th>Name</th><th>ID</th><th>Role</th><th>Raft term</th><th>Raft index</th><th>Applied</th><th>DB size</th><th>DB in use</th><th>Version</th><th>Alarms</th><th>Peer URLs</th><th>Client URLs</th>
            </tr>
          </thead>
          <tbody>
            {data.members.map((m) => (
              <tr data-member={hexId(m.ID)}>
                <td>{m.name || '(unstarted)'}</td>
                <td>{hexId(m.ID)}</td>
                <td>{m.ID === leader ? 'leader' : m.isLearner ? 'learner' : 'voter'}</td>
                <MemberStatusCells id={m.ID} entry={data.byId.get(m.ID)} fallback={data.statusError} />
                <td>{(m.peerURLs || []).join(', ')}</td>
                <td>{(m.clientURLs || []).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>This member</h2>
      <dl class="row" aria-label="Member status">
        <dt>Leader</dt><dd id="leader-id">{hexId(leader)}</dd>
        <dt>Raft term</dt><dd>{s.raftTerm}</dd>
        <dt>Raft index</dt><dd>{s.raftIndex}</dd>
        <dt>Applied</dt><dd>{s.raftAppliedIndex ?? s.raftIndex}</dd>
        <dt>DB size</dt><dd>{bytesText(s.dbSize)}</dd>
        <dt>DB in use</dt><dd>{bytesText(s.dbSizeInUse)}</dd>
        <dt>Version</dt><dd>{s.version}</dd>
        <dt>Alarms</dt><dd>{data.alarmError ? `not shown: ${data.alarmError}` : data.alarms.length ? data.alarms.map((a) => `${hexId(a.memberID)}:${a.alarm}`).join(', ') : 'none'}</dd>
      </dl>
      <h2>Leader changes seen</h2>
      <ol aria-label="Leader timeline">
        {leaders.map((l) => (
          <li>{`${l.at}: ${hexId(l.id)} (term ${l.term})`}</li>
        ))}
      </ol>
    </section>
  );
}

// ---- Keys ----

/** The next level of the tree below prefix: folders (common '/' segments) and keys. */
function treeLevel(prefix, keys) {
  const folders = new Map();
  const leaves = [];
  for (const kv of keys) {
    const key = dec(kv.key);
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash >= 0 && slash < rest.length - 1) {
      const folder = prefix + rest.slice(0, slash + 1);
      folders.set(folder, (folders.get(folder) || 0) + 1);
    } else leaves.push(kv);
  }
  return { folders: [...folders], leaves };
}

function showValue(bytes, mode) {
  if (mode === 'hex') return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = new TextDecoder().decode(bytes);
  if (mode === 'json') {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return '(not JSON) ' + text;
    }
  }
  return text;
}

function KeyDetail({ kv, onChanged, run, canDelete }) {
  const [mode, setMode] = useState('text');
  const key = dec(kv.key);
  const del = () => run(`Delete key "${key}"?`, async () => {
    await v3('/kv/deleterange', { key: kv.key });
    onChanged();
    return `Deleted ${key}.`;
  });
  return (
    <section aria-label={`Key ${key}`}>
      <h2>{key}</h2>
      <dl class="row">
        <dt>Create revision</dt><dd>{kv.create_revision}</dd>
        <dt>Mod revision</dt><dd>{kv.mod_revision}</dd>
        <dt>Version</dt><dd>{kv.version}</dd>
        <dt>Lease</dt><dd>{kv.lease ? leaseHex(kv.lease) : 'none'}</dd>
      </dl>
      <label class="inline">
        Show as
        <select value={mode} onChange={(e) => setMode(e.target.value)}>
          <option value="text">text</option>
          <option value="json">JSON</option>
          <option value="hex">hex</option>
        </select>
      </label>
      <pre class="value" aria-label="Value">{showValue(decBytes(kv.value), mode)}</pre>
      {canDelete && <button onClick={del}>Delete</button>}
    </section>
  );
}

export function KeysView({ arg, session }) {
  const prefix = arg;
  const perms = usePermissions(session);
  const [selected, setSelected] = useState(null);
  const [tick, setTick] = useState(0);
  const [opts, setOpts] = useState({ limit: 1000, revision: '', serializable: false });
  const { data, error } = useAsync(
    () =>
      v3('/kv/range', {
        key: enc(prefix || '\0'),
        range_end: prefix ? prefixEnd(prefix) : enc('\0'),
        limit: String(opts.limit),
        revision: opts.revision || '0',
        serializable: opts.serializable,
        sort_order: 'ASCEND',
        sort_target: 'KEY',
      }),
    [prefix, tick, opts],
  );
  const [run, progress] = useAction();
  const refresh = () => setTick((t) => t + 1);
  const current = selected && (data?.kvs || []).find((kv) => kv.key === selected);
  const put = (e) => {
    e.preventDefault();
    const { key, value } = draft;
    run(`Put key "${key}"?`, async () => {
      await v3('/kv/put', { key: enc(key), value: enc(value) });
      refresh();
      return `Put ${key}.`;
    });
  };
  const [draft, setDraft] = useState({ key: prefix, value: '' });
  useEffect(() => setDraft(current ? { key: dec(current.key), value: dec(current.value) } : { key: prefix, value: '' }), [selected, prefix]);
  const [prefixText, setPrefixText] = useState(prefix);
  useEffect(() => setPrefixText(prefix), [prefix]);
  const level = data ? treeLevel(prefix, data.kvs || []) : { folders: [], leaves: [] };
  const parent = prefix.replace(/[^/]*\/?$/, '');
  return (
    <section aria-labelledby="keys-h">
      <h1 id="keys-h">Keys {prefix && <small>under “{prefix}”</small>}</h1>
      <form class="row" onSubmit={(e) => (e.preventDefault(), (location.hash = '#/keys/' + encodeURIComponent(prefixText)))}>
        <label>Prefix <input name="prefix" value={prefixText} onInput={(e) => setPrefixText(e.target.value)} /></label>
        <label>Limit <input type="number" min="0" value={opts.limit} onChange={(e) => setOpts({ ...opts, limit: Number(e.target.value) })} /></label>
        <label>Revision <input type="number" min="0" value={opts.revision} onChange={(e) => setOpts({ ...opts, revision: e.target.value })} /></label>
        <label class="inline"><input type="checkbox" checked={opts.serializable} onChange={(e) => setOpts({ ...opts, serializable: e.target.checked })} /> Serializable</label>
        <button type="submit">Browse</button>
      </form>
      <ErrorLine error={error} />
      <div class="split">
        <nav aria-label="Key tree">
          <ul class="tree">
            {prefix && <li><a href={'#/keys/' + encodeURIComponent(parent)}>⬑ up</a></li>}
            {level.folders.map(([folder, n]) => (
              <li><a href={'#/keys/' + encodeURIComponent(folder)}>📁 {folder.slice(prefix.length)} ({n})</a></li>
            ))}
            {level.leaves.map((kv) => (
              <li><button class="link" onClick={() => setSelected(kv.key)} aria-pressed={selected === kv.key}>{dec(kv.key).slice(prefix.length) || dec(kv.key)}</button></li>
            ))}
          </ul>
          {data && <p>{data.count || 0} keys{data.more ? ' (more not shown)' : ''} at revision {data.header?.revision}</p>}
        </nav>
        <div>
          {current && <KeyDetail kv={current} run={run} canDelete={perms.canWrite(current.key)} onChanged={() => (setSelected(null), refresh())} />}
          {perms.anyWrite ? (
            <>
              <h2>Put a key</h2>
              <form class="stack" onSubmit={put} aria-label="Put a key">
                <label>Key <input name="key" required value={draft.key} onInput={(e) => setDraft({ ...draft, key: e.target.value })} /></label>
                <label>Value <textarea name="value" rows="3" value={draft.value} onInput={(e) => setDraft({ ...draft, value: e.target.value })} /></label>
                <button type="submit">Put</button>
              </form>
            </>
          ) : (
            <p role="note" class="readonly">Read-only: {session.user}'s roles grant no write permission.</p>
          )}
          {progress}
        </div>
      </div>
    </section>
  );
}

// ---- Watch ----

export function WatchView({ arg }) {
  const [prefix, setPrefix] = useState(arg);
  const [prefixText, setPrefixText] = useState(arg);
  const [events, setEvents] = useState([]);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState('');
  const [since, setSince] = useState(null);
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  useEffect(() => {
    setEvents([]);
    setError('');
    setSince(null);
    return watch(
      { key: enc(prefix || '\0'), range_end: prefix ? prefixEnd(prefix) : enc('\0') },
      (resp) => {
        if (resp.created) setSince(resp.header?.revision);
        if (resp.canceled) setError(resp.cancel_reason || 'the member cancelled the watch');
        if (pausedRef.current) return;
        if (resp.skipped) return setEvents((list) => [...list, { type: 'SKIPPED', key: '', value: '', n: resp.skipped }].slice(-500));
        if (!resp.events) return;
        const added = resp.events.map((e) => ({ type: e.type || 'PUT', key: dec(e.kv.key), value: dec(e.kv.value), rev: e.kv.mod_revision }));
        setEvents((list) => [...list, ...added].slice(-500));
      },
      (err) => setError(err.message),
    );
  }, [prefix]);
  const shown = events.filter((e) => !filter || e.type === 'SKIPPED' || e.key.includes(filter) || e.value.includes(filter));
  return (
    <section aria-labelledby="watch-h">
      <h1 id="watch-h">Watch</h1>
      <form class="row" onSubmit={(e) => (e.preventDefault(), setPrefix(prefixText), (location.hash = '#/watch/' + encodeURIComponent(prefixText)))}>
        <label>Prefix <input name="prefix" value={prefixText} onInput={(e) => setPrefixText(e.target.value)} /></label>
        <button type="submit">Watch</button>
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>{paused ? 'Resume' : 'Pause'}</button>
        <label>Filter <input value={filter} onInput={(e) => setFilter(e.target.value)} /></label>
        <button type="button" onClick={() => setEvents([])}>Clear</button>
      </form>
      <ErrorLine error={error} />
      <p role="status">{since ? `Watching “${prefix}” from revision ${Number(since) + 1}${paused ? ' (paused)' : ''}` : 'Connecting…'}</p>
      <ol class="events" aria-label="Watch events" aria-live="polite">
        {shown.map((e) =>
          e.type === 'SKIPPED' ? (
            <li class="skipped">{`… ${e.n} events not shown (more than the view streams)`}</li>
          ) : (
            <li>{`${e.type} ${e.key}${e.type === 'PUT' ? ' = ' + e.value : ''} @${e.rev}`}</li>
          ),
        )}
      </ol>
    </section>
  );
}

// ---- Leases ----

function LeaseDetail({ id }) {
  const { data, error } = useAsync(() => v3('/lease/timetolive', { ID: id, keys: true }), [id], 1000);
  if (!data) return <ErrorLine error={error} />;
  return (
    <dl class="row" aria-label={`Lease ${leaseHex(id)}`}>
      <dt>TTL</dt><dd>{data.TTL ?? 0} s of {data.grantedTTL} s</dd>
      <dt>Keys</dt><dd>{(data.keys || []).map(dec).join(', ') || 'none'}</dd>
    </dl>
  );
}

export function LeasesView() {
  const { data, error } = useAsync(() => v3('/lease/leases'), [], 3000);
  const [open, setOpen] = useState(null);
  return (
    <section aria-labelledby="leases-h">
      <h1 id="leases-h">Leases</h1>
      <ErrorLine error={error} />
      <ul>
        {(data?.leases || []).map((l) => (
          <li>
            <button aria-expanded={open === l.ID} onClick={() => setOpen(open === l.ID ? null : l.ID)}>{leaseHex(l.ID)}</button>
            {open === l.ID && <LeaseDetail id={l.ID} />}
          </li>
        ))}
      </ul>
      {data && !(data.leases || []).length && <p>No leases.</p>}
    </section>
  );
}

// ---- Users and roles ----

export function AuthView({ session }) {
  const [tick, setTick] = useState(0);
  const { data, error } = useAsync(
    async () => {
      if (session.authEnabled && !session.root) {
        // users and roles are root's to list; anyone may read their own roles
        return { users: [[session.user, (await v3('/auth/user/get', { name: session.user })).roles || []]], roles: [] };
      }
      const [users, roles] = await Promise.all([v3('/auth/user/list'), v3('/auth/role/list')]);
      const details = await Promise.all((users.users || []).map((name) => v3('/auth/user/get', { name }).then((u) => [name, u.roles || []])));
      return { users: details, roles: roles.roles || [] };
    },
    [tick],
  );
  const [run, progress] = useAction();
  const addUser = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const name = String(f.get('name'));
    run(`Add user "${name}"?`, async () => {
      await v3('/auth/user/add', { name, password: String(f.get('password')) });
      setTick((t) => t + 1);
      return `Added ${name}.`;
    });
  };
  const grant = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    run(`Grant role "${f.get('role')}" to "${f.get('user')}"?`, async () => {
      await v3('/auth/user/grant', { user: String(f.get('user')), role: String(f.get('role')) });
      setTick((t) => t + 1);
    });
  };
  return (
    <section aria-labelledby="auth-h">
      <h1 id="auth-h">Users and roles</h1>
      {!session.authEnabled && <p>Auth is disabled on this cluster.</p>}
      <ErrorLine error={error} />
      {data && (
        <table aria-label="Users">
          <thead><tr><th>User</th><th>Roles</th></tr></thead>
          <tbody>{data.users.map(([name, roles]) => <tr><td>{name}</td><td>{roles.join(', ')}</td></tr>)}</tbody>
        </table>
      )}
      {data && session.root && <p>Roles: {data.roles.join(', ') || 'none'}</p>}
      {session.root && (
        <div class="row">
          <form class="stack" onSubmit={addUser} aria-label="Add a user">
            <label>User name <input name="name" required /></label>
            <label>Password <input name="password" type="password" /></label>
            <button type="submit">Add user</button>
          </form>
          <form class="stack" onSubmit={grant} aria-label="Grant a role">
            <label>User <input name="user" required /></label>
            <label>Role <input name="role" required /></label>
            <button type="submit">Grant role</button>
          </form>
        </div>
      )}
      {progress}
    </section>
  );
}

// ---- Maintenance ----

export function MaintenanceView({ session }) {
  const [run, progress, busy] = useAction();
  const { data } = useAsync(async () => ({ members: (await v3('/cluster/member/list')).members || [], status: await v3('/maintenance/status') }), [busy]);
  const [target, setTarget] = useState('');
  const [revision, setRevision] = useState('');
  const download = () =>
    run('Download a snapshot of this member?', async () => {
      const res = await fetch('/api/snapshot', { credentials: 'same-origin' });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || `HTTP ${res.status}`);
      const blob = await res.blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'snapshot.db';
      document.body.appendChild(a);
      a.click();
      a.remove();
      return `Snapshot downloaded (${bytesText(blob.size)}).`;
    });
  const leader = data?.status.leader;
  return (
    <section aria-labelledby="maint-h">
      <h1 id="maint-h">Maintenance</h1>
      {!session.root ? (
        <p role="note" class="readonly">Read-only: snapshot, defragment, compact, move leader and alarm disarm need the root role.</p>
      ) : (
      <>
      <div class="row">
        <button disabled={busy} onClick={download}>Download snapshot</button>
        <button disabled={busy} onClick={() => run('Defragment this member? It blocks reads and writes while it runs.', () => v3('/maintenance/defragment').then(() => 'Defragmented.'))}>Defragment</button>
        <button disabled={busy} onClick={() => run('Disarm all alarms?', async () => {
          const list = (await v3('/maintenance/alarm', { action: 'GET' })).alarms || [];
          for (const a of list) await v3('/maintenance/alarm', { action: 'DEACTIVATE', memberID: a.memberID, alarm: a.alarm });
          return `Disarmed ${list.length} alarm(s).`;
        })}>Disarm alarms</button>
      </div>
      <form class="row" onSubmit={(e) => (e.preventDefault(), run(`Compact up to revision ${revision}?`, () => v3('/kv/compaction', { revision, physical: true }).then(() => `Compacted to ${revision}.`)))}>
        <label>Compact to revision <input type="number" min="1" required value={revision} onInput={(e) => setRevision(e.target.value)} /></label>
        <button disabled={busy} type="submit">Compact</button>
      </form>
      <form class="row" onSubmit={(e) => (e.preventDefault(), run(`Move leadership to ${hexId(target)}?`, () => v3('/maintenance/transfer-leadership', { targetID: target }).then(() => `Leadership moved to ${hexId(target)}.`)))}>
        <label>
          Move leader to
          <select required value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">choose a member</option>
            {(data?.members || []).filter((m) => m.ID !== leader && !m.isLearner).map((m) => <option value={m.ID}>{`${m.name} (${hexId(m.ID)})`}</option>)}
          </select>
        </label>
        <button disabled={busy} type="submit">Move leader</button>
      </form>
      </>
      )}
      {progress}
    </section>
  );
}
