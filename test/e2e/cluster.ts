// A multi-member tsetcd cluster of real processes on loopback, for fault tests: start,
// stop (SIGTERM), kill -9, restart, partition (the TSETCD_FAILPOINT_PARTITION_FILE
// failpoint), find the leader, add members the way etcd's tutorial does. Every process is
// killed and every directory removed by destroy(), and processes also on test-process exit.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnaryClient } from '../../src/client/unary-client.js';
import {
  MemberListRequest,
  MemberListResponse,
  StatusRequest,
  StatusResponse,
  type Member,
} from '../../src/proto/etcdserverpb.js';
import { etcdctl, freePorts, TSETCD_BIN, waitHealthy, type MemberPorts } from './harness.js';

export interface ClusterOptions {
  /** members (default 3) */
  size?: number;
  /** --heartbeat-interval in ms (default 50) */
  heartbeatMs?: number;
  /** --election-timeout in ms (default 500) */
  electionMs?: number;
  /** --snapshot-count */
  snapshotCount?: number;
  /** more flags for every member */
  extraArgs?: string[];
  /** more flags for one member (e.g. a port of its own) */
  memberArgs?: (m: ClusterMember) => string[];
  /** keep the data dir and logs when destroy() runs (also: TSETCD_KEEP_TEST_DIRS=1) */
  keep?: boolean;
}

/** the member binary: bin/tsetcd, or TSETCD_TEST_BIN (to run these tests against another build) */
const MEMBER_BIN = process.env['TSETCD_TEST_BIN'] || TSETCD_BIN;

/** the failpoint file is re-read every 100 ms; this leaves room for a busy event loop */
const FAILPOINT_SETTLE_MS = 300;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export class ClusterMember {
  proc: ChildProcess | undefined;
  exited: Promise<number | null> = Promise.resolve(null);
  /** member ID as etcdctl prints it (hex), known once the cluster is up */
  id = '';
  /** flags and env this member (re)starts with */
  args: string[] = [];
  env: NodeJS.ProcessEnv = {};

  constructor(
    readonly name: string,
    readonly ports: MemberPorts,
    readonly dataDir: string,
    readonly partitionFile: string,
  ) {}

  get clientUrl(): string {
    return `http://127.0.0.1:${this.ports.client}`;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.ports.peer}`;
  }

  get logPath(): string {
    return `${this.dataDir}.log`;
  }

  /** while this file exists, the member's durable WAL writes fail with EIO */
  get walEioFile(): string {
    return `${this.dataDir}.wal-eio`;
  }

  /** while this file exists, the member's next WAL write stops halfway and it dies (SIGKILL) */
  get walTornFile(): string {
    return `${this.dataDir}.wal-torn`;
  }

  /** milliseconds added to the member's wall clock, while this file exists */
  get clockOffsetFile(): string {
    return `${this.dataDir}.clock-offset`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(chars = 3000): string {
    return `--- ${this.name} (${this.logPath}):\n${this.log().slice(-chars)}`;
  }
}

export class Cluster {
  readonly members: ClusterMember[] = [];
  readonly heartbeatMs: number;
  readonly electionMs: number;
  private readonly clients = new Map<string, UnaryClient>();

  private constructor(
    readonly dir: string,
    private readonly opts: ClusterOptions,
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? 50;
    this.electionMs = opts.electionMs ?? 500;
  }

  /** Starts `size` members with --initial-cluster-state=new and waits until all are healthy. */
  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-cluster-'));
    const c = new Cluster(dir, opts);
    try {
      const size = opts.size ?? 3;
      for (let i = 1; i <= size; i++) c.members.push(await c.newMember(`m${i}`));
      const initialCluster = c.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
      for (const m of c.members) {
        m.args = [...c.baseArgs(m), `--initial-advertise-peer-urls=${m.peerUrl}`, `--initial-cluster=${initialCluster}`, '--initial-cluster-state=new'];
        c.spawn(m);
      }
      await Promise.all(c.members.map((m) => c.waitHealthy(m)));
      await c.refreshIds();
      return c;
    } catch (err) {
      const logs = c.members.map((m) => m.logTail()).join('\n');
      await c.destroy();
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
  }

  /** A cluster with no member yet: the test adds, configures and spawns them itself. */
  static empty(opts: ClusterOptions = {}): Cluster {
    return new Cluster(fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-cluster-')), opts);
  }

  /** A member's ports and directories, not started. */
  async newMember(name: string): Promise<ClusterMember> {
    const m = new ClusterMember(name, await freePorts(), path.join(this.dir, name), path.join(this.dir, `${name}.partition`));
    fs.writeFileSync(m.partitionFile, '');
    return m;
  }

  /** Flags every member gets: its name, dirs, URLs, timing. */
  baseArgs(m: ClusterMember): string[] {
    return [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--heartbeat-interval=${this.heartbeatMs}`,
      `--election-timeout=${this.electionMs}`,
      ...(this.opts.snapshotCount !== undefined ? [`--snapshot-count=${this.opts.snapshotCount}`] : []),
      ...(this.opts.extraArgs ?? []),
      ...(this.opts.memberArgs?.(m) ?? []),
    ];
  }

  get tmpDir(): string {
    const d = path.join(this.dir, 'tmp');
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  get running(): ClusterMember[] {
    return this.members.filter((m) => m.running);
  }

  /** Starts the member's process with its args and env (a restart keeps both). */
  spawn(m: ClusterMember): void {
    if (m.running) throw new Error(`${m.name} is already running`);
    fs.mkdirSync(path.dirname(m.dataDir), { recursive: true });
    const log = fs.openSync(m.logPath, 'a');
    fs.writeSync(log, `\n==== ${new Date().toISOString()} start ${m.name}\n`);
    const proc = spawn(MEMBER_BIN, m.args, {
      stdio: ['ignore', log, log],
      // TMPDIR: files a member puts in the OS temp dir (snapshot copies for followers) go with the cluster
      env: {
        ...process.env,
        TMPDIR: this.tmpDir,
        TSETCD_FAILPOINT_PARTITION_FILE: m.partitionFile,
        // off until a test creates these files (fault tests: failed WAL syncs, clock jumps)
        TSETCD_FAILPOINT_WAL_EIO_FILE: m.walEioFile,
        TSETCD_FAILPOINT_WAL_TORN_FILE: m.walTornFile,
        TSETCD_FAILPOINT_CLOCK_OFFSET_FILE: m.clockOffsetFile,
        ...m.env,
      },
    });
    fs.closeSync(log);
    live.add(proc);
    m.proc = proc;
    m.exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        live.delete(proc);
        resolve(code);
      }),
    );
  }

  async waitHealthy(m: ClusterMember, timeoutMs = 30_000): Promise<void> {
    await waitHealthy(m.clientUrl, m.exited, timeoutMs);
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(m: ClusterMember): Promise<number | null> {
    this.dropClient(m);
    if (m.running) m.proc!.kill('SIGTERM');
    const timer = setTimeout(() => m.proc?.kill('SIGKILL'), 15_000);
    try {
      return await m.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** kill -9 */
  async kill(m: ClusterMember): Promise<void> {
    this.dropClient(m);
    if (m.running) m.proc!.kill('SIGKILL');
    await m.exited;
  }

  async restart(m: ClusterMember, waitHealthy = true): Promise<void> {
    this.spawn(m);
    if (waitHealthy) await this.waitHealthy(m);
  }

  /** A shared client for a member (closed when it is stopped). */
  client(m: ClusterMember): UnaryClient {
    let c = this.clients.get(m.name);
    if (!c) this.clients.set(m.name, (c = new UnaryClient(m.clientUrl)));
    return c;
  }

  private dropClient(m: ClusterMember): void {
    this.clients.get(m.name)?.close();
    this.clients.delete(m.name);
  }

  async status(m: ClusterMember, timeoutMs = 1000): Promise<StatusResponse> {
    const bytes = await withTimeout(this.client(m).call('/etcdserverpb.Maintenance/Status', StatusRequest.encode(StatusRequest.create()), { timeoutMs }), timeoutMs + 500);
    return StatusResponse.decode(bytes);
  }

  async memberList(m: ClusterMember, linearizable = false): Promise<Member[]> {
    const req = MemberListRequest.create({ linearizable });
    const bytes = await withTimeout(this.client(m).call('/etcdserverpb.Cluster/MemberList', MemberListRequest.encode(req), { timeoutMs: 3000 }), 4000);
    return MemberListResponse.decode(bytes).members;
  }

  /** Learns every member's ID from a running member's list. */
  async refreshIds(): Promise<void> {
    const from = this.running[0];
    if (!from) throw new Error('no member is running');
    const list = await this.memberList(from);
    for (const m of this.members) {
      const found = list.find((x) => x.name === m.name || x.peerURLs.includes(m.peerUrl));
      if (found) m.id = found.ID.toString(16);
    }
  }

  /**
   * Waits until every running member in `among` (default: all running) reports the same
   * leader, and that leader is one of them; returns it.
   */
  async waitLeader(timeoutMs = 20 * this.electionMs + 10_000, among?: ClusterMember[]): Promise<ClusterMember> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const group = (among ?? this.members).filter((m) => m.running);
      try {
        const statuses = await Promise.all(group.map((m) => this.status(m)));
        const leaders = new Set(statuses.map((s) => s.leader.toString(16)));
        last = statuses.map((s, i) => `${group[i]!.name}: leader ${s.leader.toString(16)} term ${s.raftTerm}`).join(', ');
        if (leaders.size === 1) {
          const id = [...leaders][0]!;
          const leader = group.find((m) => m.id === id);
          if (id !== '0' && leader) return leader;
        }
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`no agreed leader after ${timeoutMs} ms (${last})`);
      await sleep(25);
    }
  }

  /**
   * Cuts raft traffic between `isolated` and every other member (both directions).
   * Members re-read the failpoint file every 100 ms: this waits until all have.
   */
  async partition(isolated: ClusterMember[]): Promise<void> {
    const inside = new Set(isolated);
    for (const m of this.members) {
      const cut = inside.has(m) ? this.members.filter((o) => !inside.has(o)) : [...inside];
      fs.writeFileSync(m.partitionFile, cut.map((o) => o.id).filter(Boolean).join('\n') + '\n');
    }
    await sleep(FAILPOINT_SETTLE_MS);
  }

  async heal(): Promise<void> {
    for (const m of this.members) fs.writeFileSync(m.partitionFile, '');
    await sleep(FAILPOINT_SETTLE_MS);
  }

  /** `etcdctl member add` (with --learner if asked); returns the ETCD_* lines it printed. */
  async memberAdd(via: ClusterMember, m: ClusterMember, learner = false): Promise<Record<string, string>> {
    const args = ['member', 'add', m.name, `--peer-urls=${m.peerUrl}`, ...(learner ? ['--learner'] : [])];
    const r = await etcdctl(via.clientUrl, args);
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    const env: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const match = /^(ETCD_[A-Z_]+)="(.*)"$/.exec(line.trim());
      if (match) env[match[1]!] = match[2]!;
    }
    if (!env['ETCD_INITIAL_CLUSTER']) throw new Error(`etcdctl member add printed no ETCD_INITIAL_CLUSTER:\n${r.stdout}`);
    return env;
  }

  /** Adds a fresh member the tutorial's way: its flags for URLs and dirs, the printed ETCD_* for the rest. */
  async startAdded(m: ClusterMember, printed: Record<string, string>): Promise<void> {
    m.args = this.baseArgs(m).filter((a) => !a.startsWith('--name='));
    m.env = { ...printed };
    this.members.push(m);
    this.spawn(m);
  }

  async destroy(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await Promise.all(
      this.members.map(async (m) => {
        if (m.running) m.proc!.kill('SIGKILL');
        await m.exited;
      }),
    );
    if (this.opts.keep || process.env['TSETCD_KEEP_TEST_DIRS'] === '1') return;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  logs(chars = 3000): string {
    return this.members.map((m) => m.logTail(chars)).join('\n');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects if `p` takes longer than `ms` (the server's grpc-timeout is not trusted alone). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}`);
    await sleep(everyMs);
  }
}
