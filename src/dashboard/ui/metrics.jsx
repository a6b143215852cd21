// Metrics: scrapes the member's own /metrics every few seconds and charts rates and
// gauges with uPlot. History lives only in the browser (ten minutes). Latency
// percentiles come from histogram bucket differences between two scrapes, so each point
// is the latency of the calls made in that interval, not since start.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { parseMetrics, quantile, sum } from './api.js';

/** a scrape costs the member milliseconds (LMDB statistics, every gauge): not more often */
const EVERY_MS = 5000;
/** ten minutes of history */
const KEEP_POINTS = 120;

/**
 * Cumulative histogram buckets of one metric, as [{le, count}] sorted by le; series
 * that pass filter (e.g. every unary gRPC method) are added up bucket by bucket.
 */
function buckets(m, name, filter = () => true) {
  const byLe = new Map();
  for (const s of m.get(name + '_bucket') || []) {
    if (!filter(s.labels)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) || 0) + s.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

const UNARY = (labels) => labels.grpc_type === 'unary';

function delta(now, before) {
  return now.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
}

/** One sample per scrape: rates come from the difference to the previous scrape. */
function sample(m, prev, dtSec) {
  const rate = (v, p) => (prev && dtSec > 0 ? Math.max(0, (v - p) / dtSec) : NaN);
  const requests = sum(m, 'grpc_server_handled_total');
  const committed = sum(m, 'etcd_server_proposals_committed_total');
  const applied = sum(m, 'etcd_server_proposals_applied_total');
  const fsync = buckets(m, 'etcd_disk_wal_fsync_duration_seconds');
  const commit = buckets(m, 'etcd_disk_backend_commit_duration_seconds');
  const handling = buckets(m, 'grpc_server_handling_seconds', UNARY);
  const fsyncD = prev ? delta(fsync, prev.raw.fsync) : fsync;
  const commitD = prev ? delta(commit, prev.raw.commit) : commit;
  const handlingD = prev ? delta(handling, prev.raw.handling) : handling;
  return {
    raw: { requests, committed, applied, fsync, commit, handling },
    hasHandling: handling.length > 0,
    values: {
      latencyP50: quantile(0.5, handlingD) * 1000,
      latencyP90: quantile(0.9, handlingD) * 1000,
      latencyP99: quantile(0.99, handlingD) * 1000,
      requests: rate(requests, prev?.raw.requests),
      committed: rate(committed, prev?.raw.committed),
      applied: rate(applied, prev?.raw.applied),
      pending: sum(m, 'etcd_server_proposals_pending'),
      fsyncP50: quantile(0.5, fsyncD) * 1000,
      fsyncP99: quantile(0.99, fsyncD) * 1000,
      commitP50: quantile(0.5, commitD) * 1000,
      commitP99: quantile(0.99, commitD) * 1000,
      dbSize: sum(m, 'etcd_mvcc_db_total_size_in_bytes') / 1024,
      dbInUse: sum(m, 'etcd_mvcc_db_total_size_in_use_in_bytes') / 1024,
      keys: sum(m, 'etcd_debugging_mvcc_keys_total'),
      leaderChanges: sum(m, 'etcd_server_leader_changes_seen_total'),
    },
  };
}

const CHARTS = [
  { title: 'Requests per second (gRPC, all methods)', series: [['requests', 'req/s']] },
  { title: 'Request latency, unary gRPC (ms)', series: [['latencyP50', 'p50'], ['latencyP90', 'p90'], ['latencyP99', 'p99']] },
  { title: 'Proposals per second', series: [['committed', 'committed'], ['applied', 'applied'], ['pending', 'pending (count)']] },
  { title: 'WAL fsync latency (ms)', series: [['fsyncP50', 'p50'], ['fsyncP99', 'p99']] },
  { title: 'Backend commit latency (ms)', series: [['commitP50', 'p50'], ['commitP99', 'p99']] },
  { title: 'Database size (kB)', series: [['dbSize', 'total'], ['dbInUse', 'in use']] },
  { title: 'Keys', series: [['keys', 'keys']] },
];
const COLORS = ['#2563eb', '#dc2626', '#16a34a'];

function Chart({ title, series, history }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = Math.max(260, box.current.clientWidth - 16);
    plot.current = new uPlot(
      { width, height: 180, series: [{}, ...series.map(([, label], i) => ({ label, stroke: COLORS[i], width: 2 }))], axes: [{}, { size: 60 }] },
      [[], ...series.map(() => [])],
      box.current,
    );
    return () => plot.current.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData([history.map((h) => h.t), ...series.map(([key]) => history.map((h) => (Number.isFinite(h.values[key]) ? h.values[key] : null)))]);
  }, [history]);
  return (
    <figure class="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}

export function MetricsView() {
  const [history, setHistory] = useState([]);
  const [error, setError] = useState('');
  const [hasHandling, setHasHandling] = useState(true);
  useEffect(() => {
    let prev;
    let live = true;
    const scrape = async () => {
      try {
        const res = await fetch('/api/metrics', { credentials: 'same-origin' });
        if (!res.ok) throw new Error(`metrics: HTTP ${res.status}`);
        const m = parseMetrics(await res.text());
        const t = Date.now() / 1000;
        const s = sample(m, prev, prev ? t - prev.t : 0);
        prev = { ...s, t };
        if (live) setHasHandling(s.hasHandling);
        if (live) setHistory((h) => [...h, { t, values: s.values }].slice(-KEEP_POINTS));
        setError('');
      } catch (err) {
        if (live) setError(err.message);
      }
    };
    scrape();
    const timer = setInterval(scrape, EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  const last = history[history.length - 1]?.values;
  return (
    <section aria-labelledby="metrics-h">
      <h1 id="metrics-h">Metrics</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {last && <p>Leader changes seen: {last.leaderChanges}; proposals pending: {last.pending}</p>}
      {!hasHandling && <p role="note">Request latency needs the member started with --metrics=extensive (gRPC handling-time histogram).</p>}
      <div class="charts">
        {CHARTS.map((c) => (
          <Chart title={c.title} series={c.series} history={history} />
        ))}
      </div>
    </section>
  );
}
