// The browser side of the dashboard's JSON API: every call goes to the member's own
// handlers (see src/dashboard/server.ts); bytes travel as base64 as in etcd's gateway.
const HEADERS = { 'Content-Type': 'application/json', 'X-Tsetcd-Dashboard': '1' };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function post(path, body = {}) {
  const res = await fetch(path, { method: 'POST', headers: HEADERS, body: JSON.stringify(body), credentials: 'same-origin' });
  const json = await res.json().catch(() => ({}));
  // an expired or revoked token: the app goes back to its login form
  if (res.status === 401 && path !== '/api/login') dispatchEvent(new Event('tsetcd-unauthorized'));
  if (!res.ok) throw new ApiError(res.status, json.error || `HTTP ${res.status}`);
  return json;
}

export const v3 = (path, body) => post('/api/v3' + path, body);

export async function getJson(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  const json = await res.json().catch(() => ({}));
  if (res.status === 401) dispatchEvent(new Event('tsetcd-unauthorized'));
  if (!res.ok) throw new ApiError(res.status, json.error || `HTTP ${res.status}`);
  return json;
}

export async function session() {
  const res = await fetch('/api/session', { credentials: 'same-origin' });
  return { status: res.status, ...(await res.json()) };
}

export function enc(text) {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function decBytes(b64) {
  const s = atob(b64 || '');
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function dec(b64) {
  return new TextDecoder().decode(decBytes(b64));
}

/** The end of the range holding every key that starts with prefix (etcdctl --prefix). */
export function prefixEnd(prefix) {
  const bytes = new TextEncoder().encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i]++;
      let s = '';
      for (const b of end) s += String.fromCharCode(b);
      return btoa(s);
    }
  }
  return enc('\0');
}

/** Opens a watch; onEvent gets each WatchResponse. Returns a function that stops it. */
export function watch(createRequest, onResponse, onError) {
  const controller = new AbortController();
  (async () => {
    const res = await fetch('/api/watch', {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ create_request: createRequest }),
      signal: controller.signal,
    });
    if (!res.ok) throw new ApiError(res.status, (await res.json().catch(() => ({}))).error || `HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (line.error) throw new ApiError(500, line.error);
        // the member thins a busy watch: {skipped: n} stands for n events it left out
        onResponse(line.skipped ? { skipped: line.skipped } : line.result);
      }
    }
  })().catch((err) => {
    if (!controller.signal.aborted) onError(err);
  });
  return () => controller.abort();
}

/** Parses Prometheus text into name -> [{labels, value}]. */
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const pair of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels, value: Number(m[4]) });
  }
  return out;
}

export function sum(metrics, name, filter = () => true) {
  return (metrics.get(name) || []).filter((s) => filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

/** The q-quantile of a Prometheus histogram's bucket deltas (linear within a bucket). */
export function quantile(q, buckets) {
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
