// A deterministic simulation of a raft cluster: N RawNodes, a network that drops,
// delays, duplicates and reorders messages, partitions, crashes that lose unpersisted
// state, restarts, clients, leader transfers, membership changes and compaction.
// Everything random comes from one seeded Prng, so a seed replays exactly.
//
// Safety invariants are checked as the run goes (see Checker); after a chaotic phase
// all faults are healed and the cluster must elect a leader and commit within a bound.
import {
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  decodeMessage,
  describeMessage,
  encodeMessage,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  ProposalDroppedError,
  type RaftConfig,
  RawNode,
  type Ready,
  type ReadState,
  type Snapshot,
  StateType,
} from '../../../src/raft/index.js';
import { Prng } from './prng.js';

export interface SimConfig {
  seed: number;
  voters: number;
  preVote: boolean;
  checkQuorum: boolean;
  electionTick: number;
  heartbeatTick: number;
  maxInflightMsgs: number;
  maxSizePerMsgBytes: number;
  maxUncommittedEntriesBytes: number;
  roundsPerTick: number;
  /** rounds of the chaotic phase */
  faultRounds: number;
  /** ticks allowed after healing for a leader to commit a new entry */
  livenessTicks: number;
  /** further ticks allowed for every member to apply it (catching up a backlog) */
  convergeTicks: number;
  /** clients, each with at most one proposal outstanding (until applied or timed out) */
  clients: number;
  clientTimeoutTicks: number;
  dropRate: number;
  dupRate: number;
  maxDelayRounds: number;
  crashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
  proposeRate: number;
  readRate: number;
  transferRate: number;
  confChangeRate: number;
  compactRate: number;
  /** probability that a newly elected leader is crashed or cut off a few rounds later */
  newLeaderFaultRate: number;
  /** probability that persisting a Ready takes a few rounds (steps happen meanwhile) */
  asyncPersistRate: number;
  /** probability that a leader uses Ready.sendBeforePersist */
  earlySendRate: number;
}

/** Derives a configuration from the seed: cluster size, features and fault rates. */
export function configForSeed(seed: number): SimConfig {
  const r = new Prng(seed ^ 0x5eed);
  return {
    seed,
    voters: r.chance(0.5) ? 3 : 5,
    preVote: r.chance(0.5),
    checkQuorum: r.chance(0.5),
    electionTick: 10,
    heartbeatTick: r.range(1, 3),
    maxInflightMsgs: r.pick([1, 2, 4, 256]),
    maxSizePerMsgBytes: r.pick([0, 64, 200, 1 << 20]),
    maxUncommittedEntriesBytes: r.pick([0, 64, 1024]),
    roundsPerTick: 4,
    faultRounds: 1200,
    livenessTicks: 300,
    convergeTicks: 2000,
    clients: r.range(1, 8),
    clientTimeoutTicks: r.pick([5, 20, 50]),
    dropRate: r.pick([0, 0.02, 0.1, 0.25]),
    dupRate: r.pick([0, 0.02, 0.1]),
    maxDelayRounds: r.pick([1, 3, 8, 20]),
    crashRate: r.pick([0, 0.002, 0.01]),
    restartRate: r.pick([0.01, 0.05]),
    partitionRate: r.pick([0, 0.003, 0.01]),
    healRate: r.pick([0.005, 0.02]),
    proposeRate: r.pick([0.05, 0.2, 0.5]),
    readRate: r.pick([0, 0.02, 0.1]),
    transferRate: r.pick([0, 0.002, 0.01]),
    confChangeRate: r.pick([0, 0.003, 0.01]),
    compactRate: r.pick([0, 0.005, 0.03]),
    newLeaderFaultRate: r.pick([0, 0, 0.3, 0.7]),
    asyncPersistRate: r.pick([0, 0.3, 0.8]),
    earlySendRate: r.pick([0, 0.5, 1]),
  };
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly round: number,
    message: string,
  ) {
    super(`seed ${seed}, round ${round}: ${message}`);
    this.name = 'SimFailure';
  }
}

interface PendingReady {
  rd: Ready;
  /** round at which the disk write completes */
  at: number;
  sentEarly: boolean;
}

class SimNode {
  rn: RawNode | undefined;
  readonly storage = new MemoryStorage();
  pending: PendingReady | undefined;
  /** the state machine: last applied index and a hash chain over applied entries */
  applied = 0;
  hash = HASH0;
  confState: ConfState = { voters: [], learners: [] };
  /** commit index seen while this incarnation is up: must never decrease */
  lastCommit = 0;
  /** set once its removal was applied somewhere: the member shuts down at that round */
  stopAtRound: number | undefined;
  stopped = false;
  constructor(
    readonly id: bigint,
    readonly rand: Prng,
  ) {}
}

const HASH0 = 0x12345;

function mixHash(h: number, e: Entry): number {
  let x = (h ^ e.index) >>> 0;
  x = Math.imul(x ^ e.term, 0x9e3779b1) >>> 0;
  x = Math.imul(x ^ e.type, 0x85ebca6b) >>> 0;
  for (let i = 0; i < e.data.length; i++) x = Math.imul(x ^ e.data[i]!, 0x01000193) >>> 0;
  x ^= x >>> 15;
  // fold in a second lane so a collision needs two 32-bit coincidences
  const hi = (Math.floor(h / 0x100000000) ^ Math.imul(x, 0xc2b2ae35)) & 0x1fffff;
  return hi * 0x100000000 + (x >>> 0);
}

function snapData(index: number, hash: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setFloat64(0, index);
  v.setFloat64(8, hash);
  return b;
}

function readSnapData(s: Snapshot): { index: number; hash: number } {
  if (s.data.length === 0) return { index: 0, hash: HASH0 };
  const v = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
  return { index: v.getFloat64(0), hash: v.getFloat64(8) };
}

const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
};

interface InFlight {
  m: Message;
  at: number;
}

export interface SimStats {
  rounds: number;
  leaders: number;
  maxTerm: number;
  applied: number;
  acked: number;
  snapshotsSent: number;
  readsServed: number;
  confChanges: number;
  crashes: number;
}

export class Simulation {
  private readonly rng: Prng;
  private readonly nodes = new Map<bigint, SimNode>();
  private queue: InFlight[] = [];
  private round = 0;
  private chaos = true;
  private partition: Map<bigint, number> | undefined;
  private nextNodeId: bigint;
  private nextProposal = 0;
  private dropRate: number;
  private dupRate: number;
  private maxDelayRounds: number;
  /** once healed the network is FIFO per pair of nodes, like a TCP stream */
  private fifo = false;
  private readonly lastArrival = new Map<string, number>();
  // ---- what the checker knows
  /** index → hash chain value and entry, for every index any node applied */
  private readonly appliedAt = new Map<number, { hash: number; term: number; data: string }>();
  /** `${index}/${term}` → entry payload and previous entry's term, for every entry persisted */
  private readonly logEntries = new Map<string, { data: string; prevTerm: number | undefined }>();
  private readonly leaderOfTerm = new Map<number, bigint>();
  /** term → highest index some node at that term knew committed, with its entry term */
  private readonly commitsByTerm = new Map<number, { index: number; term: number }>();
  /** proposal payload → index where it was first applied */
  private readonly acked = new Map<string, number>();
  /** read ctx → lowest index the read may return (highest applied index when asked) */
  private readonly reads = new Map<string, number>();
  private readonly stats: SimStats = { rounds: 0, leaders: 0, maxTerm: 0, applied: 0, acked: 0, snapshotsSent: 0, readsServed: 0, confChanges: 0, crashes: 0 };
  private readonly traceLines: string[] = [];
  private readonly clients: { key: string | undefined; since: number }[] = [];
  /** faults aimed at fresh leaders: at round, crash or isolate node */
  private leaderFaults: { round: number; id: bigint; crash: boolean }[] = [];

  constructor(
    readonly cfg: SimConfig,
    private readonly traceLimit = 0,
  ) {
    this.rng = new Prng(cfg.seed);
    this.dropRate = cfg.dropRate;
    this.dupRate = cfg.dupRate;
    this.maxDelayRounds = cfg.maxDelayRounds;
    const peers = [];
    for (let i = 1; i <= cfg.voters; i++) peers.push({ id: BigInt(i) });
    for (const p of peers) {
      const n = new SimNode(p.id, this.rng.fork());
      this.nodes.set(p.id, n);
      n.rn = new RawNode(this.raftConfig(n), peers);
    }
    this.nextNodeId = BigInt(cfg.voters + 1);
  }

  // ---- driving ------------------------------------------------------------------------

  run(): SimStats {
    try {
      for (; this.round < this.cfg.faultRounds; this.round++) this.step();
      this.heal();
      this.awaitLiveness();
      this.finalChecks();
    } catch (err) {
      if (err instanceof SimFailure) throw err;
      throw new SimFailure(this.cfg.seed, this.round, `exception: ${(err as Error).stack ?? String(err)}`);
    }
    this.stats.rounds = this.round;
    this.stats.acked = this.acked.size;
    this.stats.applied = this.appliedAt.size;
    return this.stats;
  }

  trace(): string[] {
    return this.traceLines;
  }

  private log(f: () => string): void {
    if (this.traceLimit === 0) return;
    this.traceLines.push(`[${this.round}] ${f()}`);
    if (this.traceLines.length > this.traceLimit) this.traceLines.shift();
  }

  private fail(msg: string): never {
    throw new SimFailure(this.cfg.seed, this.round, msg);
  }

  private step(): void {
    if (this.round % this.cfg.roundsPerTick === 0) this.tickAll();
    if (this.chaos) this.injectFaults();
    this.deliver();
    this.processReadies();
    this.stopRemoved();
    if (this.round % 50 === 0) this.checkLogsPairwise();
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.rn !== undefined);
  }

  private tickAll(): void {
    for (const n of this.live()) {
      n.rn!.tick();
      this.observe(n);
    }
  }

  private raftConfig(n: SimNode): RaftConfig {
    return {
      id: n.id,
      electionTick: this.cfg.electionTick,
      heartbeatTick: this.cfg.heartbeatTick,
      preVote: this.cfg.preVote,
      checkQuorum: this.cfg.checkQuorum,
      maxSizePerMsgBytes: this.cfg.maxSizePerMsgBytes,
      maxInflightMsgs: this.cfg.maxInflightMsgs,
      maxUncommittedEntriesBytes: this.cfg.maxUncommittedEntriesBytes,
      storage: n.storage,
      random: () => n.rand.next(),
      applied: n.applied,
    };
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const r = n.rn!.raftForTesting;
      if (r.state === StateType.Leader && (!best || r.term > best.rn!.raftForTesting.term)) best = n;
    }
    return best;
  }

  // ---- faults and client actions ------------------------------------------------------

  private injectFaults(): void {
    const c = this.cfg;
    const r = this.rng;
    if (r.chance(c.crashRate)) this.crashOne();
    if (r.chance(c.restartRate)) this.restartOne();
    if (!this.partition && r.chance(c.partitionRate)) this.makePartition();
    else if (this.partition && r.chance(c.healRate)) {
      this.partition = undefined;
      this.log(() => 'partition healed');
    }
    this.runClients();
    if (r.chance(c.readRate)) this.readRandom();
    if (r.chance(c.transferRate)) this.transferRandom();
    if (r.chance(c.confChangeRate)) this.confChangeRandom();
    if (r.chance(c.compactRate)) this.compactRandom();
    this.leaderFaultsDue();
  }

  private leaderFaultsDue(): void {
    const due = this.leaderFaults.filter((f) => f.round <= this.round);
    this.leaderFaults = this.leaderFaults.filter((f) => f.round > this.round);
    for (const f of due) {
      const n = this.nodes.get(f.id);
      if (!n?.rn) continue;
      if (f.crash) this.crash(n);
      else {
        this.partition = new Map([...this.nodes.keys()].map((id) => [id, id === f.id ? 0 : 1]));
        this.log(() => `isolate new leader ${f.id}`);
      }
    }
  }

  /** Crashes a random node, or (as a Jepsen-style nemesis would) the leader half the time. */
  private crashOne(): void {
    const candidates = this.live();
    if (candidates.length === 0) return;
    const l = this.leader();
    this.crash(l && this.rng.chance(0.5) ? l : this.rng.pick(candidates));
  }

  /** Loses everything not persisted: raft's memory, the Ready being written, the state machine. */
  private crash(n: SimNode): void {
    this.log(() => `crash ${n.id}${n.pending ? ' (with a Ready in flight)' : ''}`);
    n.rn = undefined;
    n.pending = undefined;
    this.stats.crashes++;
  }

  private restartOne(): void {
    const down = [...this.nodes.values()].filter((n) => !n.rn && !n.stopped);
    if (down.length > 0) this.restart(this.rng.pick(down));
  }

  private restart(n: SimNode): void {
    const snap = n.storage.snapshot();
    const sd = readSnapData(snap);
    n.applied = snap.metadata.index;
    n.hash = sd.hash;
    n.confState = snap.metadata.confState;
    n.lastCommit = 0;
    n.rn = new RawNode(this.raftConfig(n));
    n.lastCommit = n.rn.raftForTesting.raftLog.committed;
    if (n.lastCommit < n.storage.hardStateNow().commit) this.fail(`node ${n.id} restarted below its persisted commit`);
    this.log(() => `restart ${n.id} at applied ${n.applied}, commit ${n.lastCommit}`);
  }

  /** A random split; or the leader alone; or the leader with one other node. Cutting
   *  off a leader that keeps taking proposals grows diverging log tails. */
  private makePartition(): void {
    const ids = [...this.nodes.keys()];
    this.partition = new Map();
    for (const id of ids) this.partition.set(id, this.rng.int(2));
    const l = this.leader();
    const shape = this.rng.int(3);
    if (l && shape > 0) {
      for (const id of ids) this.partition.set(id, 1);
      this.partition.set(l.id, 0);
      if (shape === 2) this.partition.set(this.rng.pick(ids), 0);
    }
    this.log(() => `partition ${[...this.partition!].map(([id, g]) => `${id}:${g}`).join(' ')}`);
  }

  /** Each client waits for its proposal to apply (or to time out) before the next. */
  private runClients(): void {
    const timeout = this.cfg.clientTimeoutTicks * this.cfg.roundsPerTick;
    for (let i = 0; i < this.cfg.clients; i++) {
      const c = (this.clients[i] ??= { key: undefined, since: 0 });
      if (c.key !== undefined && !this.acked.has(c.key) && this.round - c.since < timeout) continue;
      if (!this.rng.chance(this.cfg.proposeRate)) continue;
      c.key = this.proposeRandom();
      c.since = this.round;
    }
  }

  private proposeRandom(): string | undefined {
    const candidates = this.live();
    if (candidates.length === 0) return undefined;
    const n = this.rng.pick(candidates);
    const key = `p${this.nextProposal++}`;
    try {
      n.rn!.propose(new TextEncoder().encode(key));
      this.log(() => `propose ${key} at ${n.id}`);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
    this.observe(n);
    return key;
  }

  private readRandom(): void {
    const candidates = this.live();
    if (candidates.length === 0) return;
    const n = this.rng.pick(candidates);
    const ctx = `r${this.nextProposal++}`;
    // every write acknowledged before the read starts must be visible to it
    let maxAcked = 0;
    for (const i of this.appliedAt.keys()) if (i > maxAcked) maxAcked = i;
    this.reads.set(ctx, maxAcked);
    n.rn!.readIndex(new TextEncoder().encode(ctx));
    this.observe(n);
  }

  private transferRandom(): void {
    const l = this.leader();
    if (!l) return;
    const voters = l.rn!.status().config.voters;
    const to = this.rng.pick(voters);
    this.log(() => `transfer leadership ${l.id} -> ${to}`);
    l.rn!.transferLeader(to);
    this.observe(l);
  }

  private confChangeRandom(): void {
    const l = this.leader();
    if (!l) return;
    const { voters, learners } = l.rn!.status().config;
    const options: (() => void)[] = [];
    if (learners.length < 2) {
      options.push(() => {
        const id = this.nextNodeId++;
        const n = new SimNode(id, this.rng.fork());
        this.nodes.set(id, n);
        n.rn = new RawNode(this.raftConfig(n));
        this.proposeConfChange(l, ConfChangeType.AddLearnerNode, id);
      });
    }
    if (learners.length > 0) {
      options.push(() => this.proposeConfChange(l, ConfChangeType.AddNode, this.rng.pick(learners)));
      options.push(() => this.proposeConfChange(l, ConfChangeType.RemoveNode, this.rng.pick(learners)));
    }
    if (voters.length > 3) options.push(() => this.proposeConfChange(l, ConfChangeType.RemoveNode, this.rng.pick(voters)));
    if (options.length > 0) this.rng.pick(options)();
  }

  private proposeConfChange(l: SimNode, type: ConfChangeType, id: bigint): void {
    this.log(() => `propose conf change ${ConfChangeType[type]} ${id} at ${l.id}`);
    try {
      l.rn!.proposeConfChange({ type, nodeId: id, context: new Uint8Array(0) });
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
    this.observe(l);
  }

  /** Snapshots a node's state machine at its applied index and trims its log. */
  private compactRandom(): void {
    const candidates = this.live().filter((n) => n.applied > n.storage.snapshot().metadata.index);
    if (candidates.length === 0) return;
    const n = this.rng.pick(candidates);
    n.storage.createSnapshot(n.applied, n.confState, snapData(n.applied, n.hash));
    const keep = this.rng.int(4);
    const to = n.applied - keep;
    if (to >= n.storage.firstIndex()) n.storage.compact(to);
    this.log(() => `compact ${n.id} snapshot ${n.applied}, log from ${n.storage.firstIndex()}`);
  }

  private stopRemoved(): void {
    for (const n of this.nodes.values()) {
      if (n.stopped || n.stopAtRound === undefined || this.round < n.stopAtRound) continue;
      this.log(() => `stop removed node ${n.id}`);
      n.rn = undefined;
      n.pending = undefined;
      n.stopped = true;
    }
  }

  // ---- network ------------------------------------------------------------------------

  private send(msgs: Message[]): void {
    for (const m of msgs) {
      // everything crosses the wire in its encoded form, as with the real transport
      const wire = decodeMessage(encodeMessage(m));
      if (this.rng.chance(this.dropRate)) {
        this.dropped(wire, 'lost');
        continue;
      }
      this.queue.push({ m: wire, at: this.arrival(wire) });
      if (this.rng.chance(this.dupRate)) this.queue.push({ m: wire, at: this.arrival(wire) });
    }
  }

  private arrival(m: Message): number {
    let at = this.round + this.rng.range(1, this.maxDelayRounds);
    if (this.fifo) {
      const pair = `${m.from}>${m.to}`;
      at = Math.max(at, this.lastArrival.get(pair) ?? 0);
      this.lastArrival.set(pair, at);
    }
    return at;
  }

  private dropped(m: Message, why: string): void {
    this.log(() => `drop (${why}) ${describeMessage(m)}`);
    const sender = this.nodes.get(m.from);
    if (!sender?.rn) return;
    // the transport notices failures now and then, and always for snapshots
    if (m.type === MessageType.MsgSnap) sender.rn.reportSnapshot(m.to, false);
    else if (this.rng.chance(0.1)) sender.rn.reportUnreachable(m.to);
  }

  private reachable(a: bigint, b: bigint): boolean {
    if (!this.partition) return true;
    return this.partition.get(a) === this.partition.get(b);
  }

  private deliver(): void {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.queue) (f.at <= this.round ? due : later).push(f);
    this.queue = later;
    // FIFO once healed: same-round arrivals keep their send order
    for (const { m } of this.fifo ? due : this.rng.shuffle(due)) {
      const to = this.nodes.get(m.to);
      if (!to?.rn) {
        this.dropped(m, 'down');
        continue;
      }
      if (!this.reachable(m.from, m.to)) {
        this.dropped(m, 'partition');
        continue;
      }
      this.log(() => `deliver ${describeMessage(m)}`);
      to.rn.step(m);
      this.observe(to);
      if (m.type === MessageType.MsgSnap) {
        this.stats.snapshotsSent++;
        const from = this.nodes.get(m.from);
        if (from?.rn) from.rn.reportSnapshot(m.to, true);
      }
    }
  }

  // ---- the Ready loop -----------------------------------------------------------------

  private processReadies(): void {
    for (const n of this.rng.shuffle(this.live())) {
      if (n.pending && n.pending.at <= this.round) this.completeReady(n);
      if (n.pending || !n.rn!.hasReady()) continue;
      const rd = n.rn!.ready();
      const sentEarly = rd.sendBeforePersist && this.rng.chance(this.cfg.earlySendRate);
      if (sentEarly) this.send(rd.messages);
      n.pending = { rd, at: this.round, sentEarly };
      if (this.rng.chance(this.cfg.asyncPersistRate)) n.pending.at += this.rng.range(1, 4);
      else this.completeReady(n);
    }
  }

  /** The disk write finished: persist, send, apply, advance. */
  private completeReady(n: SimNode): void {
    const { rd, sentEarly } = n.pending!;
    n.pending = undefined;
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      this.restoreStateMachine(n, rd.snapshot);
    }
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) {
      n.storage.append(rd.entries);
      this.checkPersisted(n, rd.entries);
    }
    if (!sentEarly) this.send(rd.messages);
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) this.checkRead(n, rs);
    n.rn!.advance(rd);
    this.observe(n);
  }

  private restoreStateMachine(n: SimNode, s: Snapshot): void {
    const { index, hash } = readSnapData(s);
    if (index !== s.metadata.index) this.fail(`snapshot data index ${index} != metadata index ${s.metadata.index}`);
    const known = this.appliedAt.get(index);
    if (known && known.hash !== hash) this.fail(`node ${n.id} restored a snapshot at ${index} whose state differs from what was applied there`);
    if (index < n.applied) this.fail(`node ${n.id} restored snapshot ${index} below applied ${n.applied}`);
    n.applied = index;
    n.hash = hash;
    n.confState = s.metadata.confState;
    this.log(() => `node ${n.id} restored snapshot ${index}`);
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) this.fail(`node ${n.id} applies ${e.index} after ${n.applied}`);
    n.hash = mixHash(n.hash, e);
    n.applied = e.index;
    const data = latin1(e.data);
    const known = this.appliedAt.get(e.index);
    if (known) {
      if (known.hash !== n.hash) {
        this.fail(`state machine safety: node ${n.id} applied ${e.term}/${e.index} "${data}" but ${known.term}/${e.index} "${known.data}" was applied there before (or earlier history differs)`);
      }
    } else this.appliedAt.set(e.index, { hash: n.hash, term: e.term, data });
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      n.confState = n.rn!.applyConfChange(cc);
      this.stats.confChanges++;
      this.log(() => `node ${n.id} applied ${ConfChangeType[cc.type]} ${cc.nodeId} -> voters=${n.confState.voters} learners=${n.confState.learners}`);
      if (cc.type === ConfChangeType.RemoveNode) {
        const gone = this.nodes.get(cc.nodeId);
        if (gone && gone.stopAtRound === undefined && !n.confState.voters.includes(cc.nodeId) && !n.confState.learners.includes(cc.nodeId)) {
          // like etcd's members, a removed member shuts down; give it time to hand over
          gone.stopAtRound = this.round + 20 * this.cfg.roundsPerTick;
        }
      }
    } else if (data.startsWith('p') || data.startsWith('live')) {
      if (!this.acked.has(data)) this.acked.set(data, e.index);
    }
  }

  // ---- invariants -----------------------------------------------------------------------

  /** After anything happened to node n: leaders per term, commit monotonicity. */
  private observe(n: SimNode): void {
    if (!n.rn) return;
    const r = n.rn.raftForTesting;
    const commit = r.raftLog.committed;
    if (commit < n.lastCommit) this.fail(`node ${n.id} commit index went back from ${n.lastCommit} to ${commit}`);
    n.lastCommit = commit;
    if (r.term > this.stats.maxTerm) this.stats.maxTerm = r.term;
    const rec = this.commitsByTerm.get(r.term);
    if (!rec || rec.index < commit) this.commitsByTerm.set(r.term, { index: commit, term: r.raftLog.term(commit) ?? -1 });
    if (r.state !== StateType.Leader) return;
    const prev = this.leaderOfTerm.get(r.term);
    if (prev !== undefined && prev !== n.id) this.fail(`two leaders in term ${r.term}: ${prev} and ${n.id}`);
    if (prev === undefined) {
      this.leaderOfTerm.set(r.term, n.id);
      this.stats.leaders++;
      this.log(() => `node ${n.id} leads term ${r.term}`);
      this.checkLeaderCompleteness(n);
      if (this.chaos && this.rng.chance(this.cfg.newLeaderFaultRate)) {
        this.leaderFaults.push({ round: this.round + this.rng.range(1, 12), id: n.id, crash: this.rng.chance(0.5) });
      }
    }
  }

  /** Every entry committed in an earlier term is in this leader's log. */
  private checkLeaderCompleteness(n: SimNode): void {
    const r = n.rn!.raftForTesting;
    const log = r.raftLog;
    for (const [t, c] of this.commitsByTerm) {
      if (t >= r.term || c.index === 0) continue;
      if (c.index < log.firstIndex() - 1) continue; // inside its snapshot
      const have = log.term(c.index);
      if (have !== c.term) {
        this.fail(`leader completeness: leader ${n.id} of term ${r.term} has term ${have} at ${c.index}, committed with term ${c.term} by term ${t}`);
      }
    }
  }

  /** Log matching, incrementally: the same index and term always carry the same entry
   *  after the same previous term (by induction, the same prefix). */
  private checkPersisted(n: SimNode, ents: Entry[]): void {
    for (const e of ents) {
      let prevTerm: number | undefined;
      try {
        prevTerm = e.index - 1 >= n.storage.firstIndex() - 1 ? n.storage.term(e.index - 1) : undefined;
      } catch {
        prevTerm = undefined;
      }
      const key = `${e.index}/${e.term}`;
      const data = `${e.type}:${latin1(e.data)}`;
      const known = this.logEntries.get(key);
      if (!known) {
        this.logEntries.set(key, { data, prevTerm });
        continue;
      }
      if (known.data !== data) this.fail(`log matching: two different entries at ${key} (node ${n.id})`);
      if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
        this.fail(`log matching: entry ${key} follows term ${prevTerm} on node ${n.id} but term ${known.prevTerm} elsewhere`);
      }
      if (known.prevTerm === undefined && prevTerm !== undefined) known.prevTerm = prevTerm;
    }
  }

  /** Log matching over whole logs of live nodes: equal (index, term) ⇒ equal prefixes. */
  private checkLogsPairwise(): void {
    const logs = this.live().map((n) => ({ id: n.id, log: n.rn!.raftForTesting.raftLog }));
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const a = logs[i]!;
        const b = logs[j]!;
        const lo = Math.max(a.log.firstIndex(), b.log.firstIndex());
        const hi = Math.min(a.log.lastIndex(), b.log.lastIndex());
        // find the highest index where both agree on the term, then compare below it
        let top = -1;
        for (let k = hi; k >= lo; k--) {
          if (a.log.term(k) === b.log.term(k)) {
            top = k;
            break;
          }
        }
        if (top < lo) continue;
        const ea = a.log.slice(lo, top + 1, Infinity)!;
        const eb = b.log.slice(lo, top + 1, Infinity)!;
        for (let k = 0; k < ea.length; k++) {
          const x = ea[k]!;
          const y = eb[k]!;
          if (x.term !== y.term || x.type !== y.type || latin1(x.data) !== latin1(y.data)) {
            this.fail(`log matching: nodes ${a.id} and ${b.id} agree at ${top} but differ at ${x.index}`);
          }
        }
      }
    }
  }

  private checkRead(n: SimNode, rs: ReadState): void {
    const ctx = latin1(rs.ctx);
    const min = this.reads.get(ctx);
    if (min === undefined) this.fail(`node ${n.id} got a read state for unknown ctx ${ctx}`);
    if (rs.index < min) this.fail(`linearizability: read ${ctx} at node ${n.id} got index ${rs.index}, below ${min} acknowledged before it`);
    this.stats.readsServed++;
  }

  // ---- healing and liveness -------------------------------------------------------------

  private heal(): void {
    this.chaos = false;
    this.partition = undefined;
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelayRounds = Math.min(this.maxDelayRounds, 3);
    this.fifo = true;
    for (const n of this.nodes.values()) if (!n.rn && !n.stopped) this.restart(n);
    this.log(() => 'healed: no more faults');
  }

  /**
   * After healing: within livenessTicks a leader must commit a new entry; within
   * convergeTicks more, every member of its configuration must have applied it.
   */
  private awaitLiveness(): void {
    // Entries appended but not committed before healing must replicate first: with the
    // narrowest pipelines (one entry per MsgApp, one in flight) that costs about two
    // ticks each, so the bound grows with that backlog.
    let last = 0;
    let commit = 0;
    for (const n of this.live()) {
      last = Math.max(last, n.rn!.raftForTesting.raftLog.lastIndex());
      commit = Math.max(commit, n.rn!.raftForTesting.raftLog.committed);
    }
    const livenessTicks = this.cfg.livenessTicks + 2 * (last - commit);
    const commitDeadline = this.round + livenessTicks * this.cfg.roundsPerTick;
    const convergeDeadline = commitDeadline + this.cfg.convergeTicks * this.cfg.roundsPerTick;
    let probe: string | undefined;
    let probeRound = -Infinity;
    for (; this.round < convergeDeadline; this.round++) {
      this.step();
      if (this.round % this.cfg.roundsPerTick !== 0) continue;
      const l = this.leader();
      const committed = probe !== undefined && this.acked.has(probe);
      if (!committed && this.round >= commitDeadline) break;
      if (!l) continue;
      if (committed) {
        const index = this.acked.get(probe!)!;
        const { voters, learners } = l.rn!.status().config;
        const members = [...voters, ...learners].map((id) => this.nodes.get(id));
        if (members.every((m) => m?.rn && m.applied >= index)) return;
        continue;
      }
      // (re)propose a fresh probe every few election timeouts until one commits
      if (this.round - probeRound > 3 * this.cfg.electionTick * this.cfg.roundsPerTick) {
        probe = `live${this.nextProposal++}`;
        probeRound = this.round;
        try {
          l.rn!.propose(new TextEncoder().encode(probe));
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
        }
        this.observe(l);
      }
    }
    const states = [...this.nodes.values()]
      .map((n) => (n.rn ? `${n.id}:${StateType[n.rn.raftForTesting.state]}@${n.rn.raftForTesting.term} applied=${n.applied}` : `${n.id}:down`))
      .join(' ');
    const what = probe !== undefined && this.acked.has(probe) ? `members did not all apply it within ${this.cfg.convergeTicks} more ticks` : `no leader committed a new entry within ${livenessTicks} ticks`;
    this.fail(`liveness after healing: ${what} [${states}]`);
  }

  private finalChecks(): void {
    this.checkLogsPairwise();
    const l = this.leader();
    if (!l) this.fail('no leader at the end');
    this.checkLeaderCompleteness(l);
    // every acknowledged proposal is still where it was acknowledged, on the leader too
    const log = l.rn!.raftForTesting.raftLog;
    for (const [data, index] of this.acked) {
      const applied = this.appliedAt.get(index);
      if (!applied || applied.data !== data) this.fail(`acknowledged proposal ${data} at ${index} lost`);
      if (index >= log.firstIndex()) {
        const e = log.slice(index, index + 1, Infinity)?.[0];
        if (!e || latin1(e.data) !== data) this.fail(`leader ${l.id} lacks acknowledged proposal ${data} at ${index}`);
      }
    }
  }
}
