// The interaction environment behind the transcript tests: a handful of RawNodes, an
// explicit message queue the test delivers by hand, and commands that print what
// happens. Every node persists to a MemoryStorage that survives `crash`/`restart`.
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  describeEntry,
  describeMessage,
  describeReady,
  EntryType,
  type Message,
  MemoryStorage,
  progressStateName,
  type RaftConfig,
  type RaftLogger,
  RawNode,
  stateName,
} from '../../../src/raft/index.js';
import type { CmdArg, TestCase } from './datadriven.js';

const LEVELS = ['debug', 'info', 'warn', 'error', 'none'] as const;
type Level = (typeof LEVELS)[number];

interface NodeOptions {
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsgBytes: number;
  maxInflightMsgs: number;
  maxUncommittedEntriesBytes: number;
}

interface EnvNode {
  id: bigint;
  storage: MemoryStorage;
  rn: RawNode | undefined;
  opts: NodeOptions;
  /** value the injected random() returns */
  randomValue: number;
  /** configurations in force from an index on, for snapshots at an index */
  confHistory: { index: number; cs: ConfState }[];
  applied: number;
}

export class InteractionEnv {
  private nodes: EnvNode[] = [];
  private queue: Message[] = [];
  private out: string[] = [];
  private indent = '';
  private level: Level = 'info';
  /** group number per node id while partitioned */
  private partition: Map<bigint, number> | undefined;

  handle(tc: TestCase): string {
    this.out = [];
    this.indent = '';
    const fn = this.commands[tc.cmd];
    if (!fn) throw new Error(`unknown command ${tc.cmd}`);
    fn.call(this, tc);
    return this.out.join('\n');
  }

  private print(s: string): void {
    for (const l of s.split('\n')) this.out.push(this.indent + l);
  }

  private logger(): RaftLogger {
    const emit = (lvl: Level, tag: string) => (msg: string) => {
      if (LEVELS.indexOf(lvl) >= LEVELS.indexOf(this.level)) this.print(`${tag} ${msg}`);
    };
    return { debug: emit('debug', 'DEBUG'), info: emit('info', 'INFO'), warn: emit('warn', 'WARN'), error: emit('error', 'ERROR') };
  }

  private node(id: bigint | number | string): EnvNode {
    const n = this.nodes[Number(id) - 1];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private live(id: bigint | number | string): RawNode {
    const n = this.node(id);
    if (!n.rn) throw new Error(`node ${id} is crashed`);
    return n.rn;
  }

  private config(n: EnvNode): RaftConfig {
    return {
      id: n.id,
      ...n.opts,
      storage: n.storage,
      random: () => n.randomValue,
      applied: n.applied,
      logger: this.logger(),
    };
  }

  // ---- commands ----------------------------------------------------------------------

  private readonly commands: Record<string, (tc: TestCase) => void> = {
    'add-nodes': this.addNodes,
    campaign: (tc) => this.live(pos(tc, 0)).campaign(),
    propose: this.propose,
    'propose-conf-change': this.proposeConfChange,
    'tick-heartbeat': (tc) => this.tickEach(tc, (n) => n.opts.heartbeatTick),
    'tick-election': (tc) => this.tickEach(tc, (n) => n.opts.electionTick),
    tick: (tc) => {
      const n = this.node(pos(tc, 0));
      for (let i = 0; i < Number(pos(tc, 1)); i++) this.live(n.id).tick();
    },
    'process-ready': (tc) => {
      for (const id of ids(tc)) this.processReady(this.node(id), ids(tc).length > 1);
    },
    'deliver-msgs': this.deliverMsgs,
    'drop-msgs': this.dropMsgs,
    stabilize: this.stabilize,
    partition: this.setPartition,
    heal: () => {
      this.partition = undefined;
    },
    crash: (tc) => {
      // the node's unpersisted state is lost, and so are messages on their way to it
      for (const id of ids(tc)) {
        this.node(id).rn = undefined;
        this.queue = this.queue.filter((m) => m.to !== id);
      }
    },
    restart: this.restart,
    'set-random': (tc) => {
      this.node(pos(tc, 0)).randomValue = Number(pos(tc, 1));
    },
    'log-level': (tc) => {
      const l = pos(tc, 0) as Level;
      if (!LEVELS.includes(l)) throw new Error(`unknown level ${l}`);
      this.level = l;
    },
    status: (tc) => {
      for (const id of ids(tc)) this.status(this.node(id));
    },
    'raft-state': () => {
      for (const n of this.nodes) this.raftState(n);
    },
    'raft-log': (tc) => {
      for (const id of ids(tc)) this.raftLog(this.node(id));
    },
    compact: this.compact,
    'read-index': (tc) => this.live(pos(tc, 0)).readIndex(new TextEncoder().encode(pos(tc, 1))),
    'transfer-leadership': (tc) => this.live(kv(tc, 'from')).transferLeader(BigInt(kv(tc, 'to'))),
    'report-snapshot': (tc) => this.live(pos(tc, 0)).reportSnapshot(BigInt(pos(tc, 1)), pos(tc, 2) === 'ok'),
    'report-unreachable': (tc) => this.live(pos(tc, 0)).reportUnreachable(BigInt(pos(tc, 1))),
  };

  /**
   * add-nodes <n> [voters=(..)] [learners=(..)] [index=<k>] [bootstrap] [log=(terms..)]
   *   [term=<t>] [commit=<c>] [prevote] [checkquorum] [max-inflight=] [max-size=]
   *   [max-uncommitted=] [election=] [heartbeat=]
   * index=k starts from a snapshot at k (term 1); bootstrap uses RawNode's bootstrap
   * entries instead; log=(...) writes entries 1.. with those terms.
   */
  private addNodes(tc: TestCase): void {
    const count = Number(pos(tc, 0));
    const voters = list(tc, 'voters');
    const learners = list(tc, 'learners');
    const index = Number(opt(tc, 'index') ?? 0);
    const opts: NodeOptions = {
      electionTick: Number(opt(tc, 'election') ?? 10),
      heartbeatTick: Number(opt(tc, 'heartbeat') ?? 1),
      preVote: has(tc, 'prevote'),
      checkQuorum: has(tc, 'checkquorum'),
      maxSizePerMsgBytes: Number(opt(tc, 'max-size') ?? 1 << 20),
      maxInflightMsgs: Number(opt(tc, 'max-inflight') ?? 256),
      maxUncommittedEntriesBytes: Number(opt(tc, 'max-uncommitted') ?? 0),
    };
    const cs: ConfState = { voters, learners };
    for (let i = 0; i < count; i++) {
      const id = BigInt(this.nodes.length + 1);
      const storage = new MemoryStorage();
      const n: EnvNode = { id, storage, rn: undefined, opts, randomValue: 0, confHistory: [{ index: 0, cs }], applied: 0 };
      if (index > 0) {
        storage.applySnapshot({ metadata: { index, term: 1, confState: cs }, data: new Uint8Array(0) });
        n.confHistory = [{ index, cs }];
        n.applied = index;
      } else if (!has(tc, 'bootstrap')) {
        storage.applySnapshot({ metadata: { index: 0, term: 0, confState: cs }, data: new Uint8Array(0) });
      }
      const terms = list(tc, 'log').map(Number);
      if (terms.length > 0) {
        storage.append(terms.map((term, j) => ({ term, index: index + j + 1, type: EntryType.Normal, data: new Uint8Array(0) })));
        storage.setHardState({ term: Number(opt(tc, 'term') ?? terms[terms.length - 1]), vote: 0n, commit: Number(opt(tc, 'commit') ?? index) });
      }
      this.nodes.push(n);
      const peers = has(tc, 'bootstrap')
        ? [...voters.map((v) => ({ id: v })), ...learners.map((l) => ({ id: l, learner: true }))]
        : undefined;
      n.rn = new RawNode(this.config(n), peers);
    }
  }

  private propose(tc: TestCase): void {
    try {
      this.live(pos(tc, 0)).propose(new TextEncoder().encode(pos(tc, 1)));
    } catch (err) {
      this.print(`error: ${(err as Error).message}`);
    }
  }

  /** propose-conf-change <id> <v|l|r|u><node>, e.g. `v4` adds voter 4 (or promotes learner 4) */
  private proposeConfChange(tc: TestCase): void {
    const tok = pos(tc, 1);
    const types: Record<string, ConfChangeType> = {
      v: ConfChangeType.AddNode,
      l: ConfChangeType.AddLearnerNode,
      r: ConfChangeType.RemoveNode,
      u: ConfChangeType.UpdateNode,
    };
    const type = types[tok[0]!];
    if (type === undefined) throw new Error(`bad conf change ${tok}`);
    const cc: ConfChange = { type, nodeId: BigInt(tok.slice(1)), context: new Uint8Array(0) };
    try {
      this.live(pos(tc, 0)).proposeConfChange(cc);
    } catch (err) {
      this.print(`error: ${(err as Error).message}`);
    }
  }

  private tickEach(tc: TestCase, ticks: (n: EnvNode) => number): void {
    for (const id of ids(tc)) {
      const n = this.node(id);
      for (let i = 0; i < ticks(n); i++) this.live(id).tick();
    }
  }

  /** Handles one Ready: persist, apply, queue the messages, advance. */
  private processReady(n: EnvNode, label: boolean): boolean {
    const rn = n.rn;
    if (!rn || !rn.hasReady()) return false;
    if (label) {
      this.print(`> ${n.id} handling Ready`);
      this.indent += '  ';
    }
    const rd = rn.ready();
    this.print(describeReady(rd));
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      n.confHistory = [{ index: rd.snapshot.metadata.index, cs: rd.snapshot.metadata.confState }];
    }
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    n.storage.append(rd.entries);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) {
        const cs = rn.applyConfChange(decodeConfChange(e.data));
        n.confHistory.push({ index: e.index, cs });
      }
    }
    // a message to a node that is down is lost
    for (const m of rd.messages) if (this.nodes[Number(m.to) - 1]?.rn) this.queue.push(m);
    rn.advance(rd);
    n.applied = rn.status().applied;
    if (label) this.indent = this.indent.slice(2);
    return true;
  }

  private reachable(from: bigint, to: bigint): boolean {
    if (!this.partition) return true;
    return (this.partition.get(from) ?? -1) === (this.partition.get(to) ?? -2);
  }

  /** Delivers every queued message addressed to n, in order. */
  private deliverTo(n: EnvNode, label: boolean, limit = Infinity): boolean {
    const mine: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.queue) {
      if (m.to === n.id && mine.length < limit) mine.push(m);
      else rest.push(m);
    }
    if (mine.length === 0) return false;
    this.queue = rest;
    if (label) {
      this.print(`> ${n.id} receiving messages`);
      this.indent += '  ';
    }
    let down = 0;
    let cut = 0;
    for (const m of mine) {
      if (!n.rn) down++;
      else if (!this.reachable(m.from, m.to)) cut++;
      else {
        this.print(describeMessage(m));
        n.rn.step(m);
      }
    }
    if (down > 0) this.print(`dropped ${down} message(s): ${n.id} is down`);
    if (cut > 0) this.print(`dropped ${cut} message(s): partitioned`);
    if (label) this.indent = this.indent.slice(2);
    return true;
  }

  /** deliver-msgs <ids...> [count=n]: delivers queued messages to each node */
  private deliverMsgs(tc: TestCase): void {
    const count = Number(opt(tc, 'count') ?? Infinity);
    for (const id of ids(tc)) this.deliverTo(this.node(id), ids(tc).length > 1, count);
  }

  /** drop-msgs [from=a] [to=b] [type=MsgApp]: discards matching queued messages */
  private dropMsgs(tc: TestCase): void {
    const from = opt(tc, 'from');
    const to = opt(tc, 'to');
    const type = opt(tc, 'type');
    const keep: Message[] = [];
    for (const m of this.queue) {
      const match =
        (from === undefined || m.from === BigInt(from)) &&
        (to === undefined || m.to === BigInt(to)) &&
        (type === undefined || describeMessage(m).split(' ')[1] === type);
      if (match) this.print(`dropped: ${describeMessage(m)}`);
      else keep.push(m);
    }
    this.queue = keep;
  }

  /** stabilize [ids...]: process Readys and deliver messages until nothing moves */
  private stabilize(tc: TestCase): void {
    const which = ids(tc).length > 0 ? ids(tc).map((i) => this.node(i)) : this.nodes;
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize did not converge');
      let moved = false;
      for (const n of which) if (this.processReady(n, true)) moved = true;
      for (const n of which) if (this.deliverTo(n, true)) moved = true;
      if (!moved) return;
    }
  }

  /** partition 1 2 | 3: nodes talk only within their group until heal */
  private setPartition(tc: TestCase): void {
    this.partition = new Map();
    let group = 0;
    for (const a of tc.args) {
      if (a.key === '|') group++;
      else this.partition.set(BigInt(a.key), group);
    }
  }

  private restart(tc: TestCase): void {
    for (const id of ids(tc)) {
      const n = this.node(id);
      // the in-memory state machine is lost: start again from the snapshot
      const snap = n.storage.snapshot();
      n.applied = snap.metadata.index;
      n.confHistory = n.confHistory.filter((h) => h.index <= snap.metadata.index);
      n.rn = new RawNode(this.config(n));
    }
  }

  /** compact <id> <index>: snapshot the state machine at index, drop the log up to it */
  private compact(tc: TestCase): void {
    const n = this.node(pos(tc, 0));
    const index = Number(pos(tc, 1));
    if (index > n.applied) throw new Error(`cannot compact to ${index}: applied is ${n.applied}`);
    const cs = [...n.confHistory].reverse().find((h) => h.index <= index)?.cs ?? { voters: [], learners: [] };
    n.storage.createSnapshot(index, cs, new Uint8Array(0));
    n.storage.compact(index);
  }

  private status(n: EnvNode): void {
    if (!n.rn) {
      this.print(`${n.id}: down`);
      return;
    }
    const st = n.rn.status();
    this.print(`${n.id}: ${stateName(st.raftState)} term=${st.term} lead=${st.lead} commit=${st.commit} applied=${st.applied}`);
    if (st.leadTransferee !== 0n) this.print(`  transferring leadership to ${st.leadTransferee}`);
    if (!st.progress) return;
    for (const [id, p] of st.progress) {
      let s = `  ${id}: ${progressStateName(p.state)} match=${p.match} next=${p.next}`;
      if (p.isLearner) s += ' learner';
      if (p.paused) s += ' paused';
      if (p.pendingSnapshot > 0) s += ` pendingSnap=${p.pendingSnapshot}`;
      if (!p.recentActive) s += ' inactive';
      if (p.inflight > 0) s += ` inflight=${p.inflight}`;
      this.print(s);
    }
  }

  private raftState(n: EnvNode): void {
    if (!n.rn) {
      this.print(`${n.id}: down`);
      return;
    }
    const st = n.rn.status();
    const role = st.config.voters.includes(n.id) ? 'Voter' : st.config.learners.includes(n.id) ? 'Learner' : 'Non-Member';
    this.print(`${n.id}: ${stateName(st.raftState)} (${role}) Term:${st.term} Lead:${st.lead}`);
  }

  private raftLog(n: EnvNode): void {
    if (!n.rn) {
      const first = n.storage.firstIndex();
      const last = n.storage.lastIndex();
      this.print(`${n.id}: down; stable log ${first}..${last}`);
      for (const e of last >= first ? n.storage.entries(first, last + 1, Infinity) : []) this.print(describeEntry(e));
      return;
    }
    const log = n.rn.raftForTesting.raftLog;
    const ents = log.allEntries();
    this.print(`${n.id}: first=${log.firstIndex()} last=${log.lastIndex()} commit=${log.committed} applied=${log.applied}`);
    for (const e of ents) this.print(describeEntry(e) + (e.index >= log.unstable.offset ? ' (unstable)' : ''));
  }
}

// ---- argument helpers ------------------------------------------------------------------

function pos(tc: TestCase, i: number): string {
  const bare = tc.args.filter((a) => a.vals.length === 0 && !a.key.includes('='));
  const a = bare[i];
  if (!a) throw new Error(`${tc.cmd}: missing argument ${i + 1}`);
  return a.key;
}

/** the bare numeric arguments (node ids) */
function ids(tc: TestCase): bigint[] {
  return tc.args.filter((a) => a.vals.length === 0 && /^\d+$/.test(a.key)).map((a) => BigInt(a.key));
}

function find(tc: TestCase, key: string): CmdArg | undefined {
  return tc.args.find((a) => a.key === key);
}

function opt(tc: TestCase, key: string): string | undefined {
  return find(tc, key)?.vals[0];
}

function kv(tc: TestCase, key: string): string {
  const v = opt(tc, key);
  if (v === undefined) throw new Error(`${tc.cmd}: missing ${key}=`);
  return v;
}

function has(tc: TestCase, key: string): boolean {
  return find(tc, key) !== undefined;
}

function list(tc: TestCase, key: string): bigint[] {
  return (find(tc, key)?.vals ?? []).map((v) => BigInt(v));
}

