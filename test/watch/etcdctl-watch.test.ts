// The real etcdctl's watch command against etcd 3.4 and against tsetcd, each started on
// the same ports (same IDs): `watch key`, `--prefix`, a range, `--rev=N` replay,
// `--prev-kv`, `-w json`, interactive `watch -i` (watch + progress), a watch from a
// compacted revision; each watcher then gets SIGTERM. Output and exit codes must match.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN } from '../e2e/harness.js';

interface Watching {
  proc: ChildProcessWithoutNullStreams;
  out: string;
  err: string;
  exited: Promise<number | string | null>;
}

function ctlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ETCDCTL_API: '3' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCDCTL_') && !/_proxy$/i.test(k)) env[k] = v;
  return env;
}

function startWatch(endpoint: string, args: string[]): Watching {
  const proc = spawn('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=3s', 'watch', ...args], { env: ctlEnv() });
  const w: Watching = {
    proc,
    out: '',
    err: '',
    exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal))),
  };
  proc.stdout.on('data', (d: Buffer) => (w.out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (w.err += d.toString()));
  return w;
}

/** Waits until the output has `lines` lines (when known) or stops changing. */
async function settleOutput(w: Watching, lines: number | undefined, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    const n = w.out.split('\n').length - 1;
    if (lines !== undefined && n >= lines) return;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    } else if (lines === undefined && n > 0 && Date.now() - stableSince > 800) return;
    if (Date.now() > deadline) {
      console.log(`# settleOutput timed out after ${Date.now() - t0} ms with ${n} lines (${w.proc.spawnargs.slice(3).join(' ')})`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Outcome {
  name: string;
  stdout: string;
  stderr: string;
  exit: number | string | null;
}

async function stop(name: string, w: Watching): Promise<Outcome> {
  w.proc.kill('SIGTERM');
  const exit = await w.exited;
  const stderr = w.err
    .split('\n')
    .filter((l) => !l.startsWith('{"level":'))
    .join('\n');
  return { name, stdout: w.out, stderr, exit };
}

const LIVE_WATCHES: Array<[string, string[]]> = [
  ['watch foo', ['foo']],
  ['watch --prefix fo', ['--prefix', 'fo']],
  ['watch range foa..fop', ['foa', 'fop']],
];
const REPLAY_WATCHES: Array<[string, string[]]> = [
  ['watch foo --rev=2', ['foo', '--rev=2']],
  ['watch --prefix fo --rev=2', ['--prefix', 'fo', '--rev=2']],
  ['watch foo --rev=3 --prev-kv', ['foo', '--rev=3', '--prev-kv']],
  ['watch fo --prefix --rev=2 -w json', ['fo', '--prefix', '--rev=2', '-w', 'json']],
];

async function session(bin: string, dataDir: string, ports: { client: number; peer: number }, expectLines?: Map<string, number>): Promise<Outcome[]> {
  const member = await startMember({ bin, dataDir, ports });
  const ep = member.clientUrl;
  const ctl = async (...args: string[]): Promise<void> => {
    const r = await etcdctl(ep, args);
    assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  };
  const out: Outcome[] = [];
  try {
    // history before any watcher: revisions 2..6
    await ctl('put', 'foo', 'v1');
    await ctl('put', 'foo', 'v2');
    await ctl('del', 'foo');
    await ctl('put', 'fob', 'b1');
    await ctl('put', 'foo', 'v3');
    const live = LIVE_WATCHES.map(([name, args]) => [name, startWatch(ep, args)] as const);
    const replay = REPLAY_WATCHES.map(([name, args]) => [name, startWatch(ep, args)] as const);
    const interactive = startWatch(ep, ['-i']);
    // one watcher: etcdctl prints each interactive watcher from its own goroutine
    interactive.proc.stdin.write('watch --prefix fo --rev 4 --prev-kv\n');
    for (const [, w] of replay) await settleOutput(w, undefined);
    await settleOutput(interactive, expectLines?.get('interactive replay'));
    const interactiveReplayLines = interactive.out.split('\n').length - 1;
    // give the live watchers time to be created: they print nothing until an event
    await new Promise((r) => setTimeout(r, 1000));
    await ctl('put', 'foo', 'v4');
    await ctl('put', 'fob', 'b2');
    await ctl('put', 'foz', 'z1');
    await ctl('del', 'fo', '--prefix');
    await ctl('put', 'foo', 'v5');
    for (const [name, w] of [...live, ...replay]) {
      await settleOutput(w, expectLines?.get(name));
      out.push(await stop(name, w));
    }
    interactive.proc.stdin.write('progress\n');
    await settleOutput(interactive, expectLines?.get('interactive'));
    out.push(await stop('interactive', interactive));
    out.push({ name: 'interactive replay lines', stdout: String(interactiveReplayLines), stderr: '', exit: 0 });

    // a watch from a compacted revision is canceled; one at the compaction revision replays
    await ctl('compact', '8');
    const compacted = startWatch(ep, ['foo', '--rev=3']);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([compacted.exited, new Promise((r) => (timer = setTimeout(() => r('hung'), 10_000)))]);
    clearTimeout(timer);
    if (exit === 'hung') compacted.proc.kill('SIGKILL');
    out.push({ name: 'watch from a compacted revision', stdout: compacted.out, stderr: compacted.err.split('\n').filter((l) => !l.startsWith('{"level":')).join('\n'), exit: exit as number });
    const atCompaction = startWatch(ep, ['--prefix', 'fo', '--rev=8']);
    await settleOutput(atCompaction, expectLines?.get('watch at the compaction revision'));
    out.push(await stop('watch at the compaction revision', atCompaction));
    return out;
  } finally {
    await member.stop();
  }
}

test('etcdctl watch prints the same for tsetcd as for etcd 3.4', { skip: !haveBinary('etcd') && 'etcd is not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ports = await freePorts();
    const want = await session('etcd', path.join(dir, 'etcd'), ports);
    const lines = new Map(want.map((o) => [o.name, o.stdout.split('\n').length - 1]));
    lines.set('interactive replay', Number(want.find((o) => o.name === 'interactive replay lines')!.stdout));
    const got = await session(TSETCD_BIN, path.join(dir, 'tsetcd'), ports, lines);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.deepEqual(got[i], want[i], want[i]!.name);
    // the sessions saw what they should: not everything trivially empty
    const byName = new Map(want.map((o) => [o.name, o]));
    assert.match(byName.get('watch foo --rev=2')!.stdout, /^PUT\nfoo\nv1\nPUT\nfoo\nv2\nDELETE\nfoo\n\nPUT\nfoo\nv3\nPUT\nfoo\nv4\nDELETE\nfoo\n\nPUT\nfoo\nv5\n$/);
    assert.match(byName.get('interactive')!.stdout, /progress notify: \d+/);
    assert.match(byName.get('watch from a compacted revision')!.stderr, /watch was canceled \(etcdserver: mvcc: required revision has been compacted\)/);
  } finally {
    cleanup();
  }
});
