// RawNode-level unit tests: the Ready/advance contract, configuration, timeouts,
// and rules that are easiest to state directly.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConfChangeType,
  decodeConfChange,
  EntryType,
  makeMessage,
  MemoryStorage,
  type Message,
  MessageType,
  ProposalDroppedError,
  type RaftConfig,
  RaftUsageError,
  RawNode,
  type Ready,
  StateType,
} from '../../src/raft/index.js';

function config(id: bigint, storage: MemoryStorage, over: Partial<RaftConfig> = {}): RaftConfig {
  return { id, electionTick: 10, heartbeatTick: 1, preVote: false, checkQuorum: false, maxSizePerMsgBytes: 1 << 20, maxInflightMsgs: 256, storage, random: () => 0, ...over };
}

/** A tiny synchronous cluster: handles Readys and delivers messages until quiet. */
class Cluster {
  readonly nodes = new Map<bigint, { rn: RawNode; storage: MemoryStorage }>();
  queue: Message[] = [];
  constructor(n: number, over: Partial<RaftConfig> = {}) {
    const voters = Array.from({ length: n }, (_, i) => BigInt(i + 1));
    for (const id of voters) {
      const storage = new MemoryStorage();
      storage.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters, learners: [] } }, data: new Uint8Array(0) });
      this.nodes.set(id, { rn: new RawNode(config(id, storage, { applied: 1, ...over })), storage });
    }
  }
  rn(id: number): RawNode {
    return this.nodes.get(BigInt(id))!.rn;
  }
  handle(id: bigint, onReady?: (rd: Ready) => void): boolean {
    const { rn, storage } = this.nodes.get(id)!;
    if (!rn.hasReady()) return false;
    const rd = rn.ready();
    onReady?.(rd);
    if (rd.hardState) storage.setHardState(rd.hardState);
    storage.append(rd.entries);
    for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) rn.applyConfChange(decodeConfChange(e.data));
    this.queue.push(...rd.messages);
    rn.advance(rd);
    return true;
  }
  stabilize(drop: (m: Message) => boolean = () => false): void {
    for (let i = 0; i < 1000; i++) {
      let moved = false;
      for (const id of this.nodes.keys()) moved = this.handle(id) || moved;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        moved = true;
        if (!drop(m)) this.nodes.get(m.to)?.rn.step(m);
      }
      if (!moved) return;
    }
    throw new Error('did not stabilize');
  }
}

describe('Ready/advance contract', () => {
  test('one Ready at a time; advance takes that Ready', () => {
    const c = new Cluster(1);
    const rn = c.rn(1);
    rn.campaign();
    assert.equal(rn.hasReady(), true);
    const rd = rn.ready();
    assert.equal(rn.hasReady(), false, 'nothing new while a Ready is outstanding');
    assert.throws(() => rn.ready(), RaftUsageError);
    assert.throws(() => rn.advance({ ...rd }), RaftUsageError);
    rn.advance(rd);
    assert.throws(() => rn.advance(rd), RaftUsageError, 'advancing twice');
  });

  test('a single voter commits its entries only after persisting them', () => {
    const c = new Cluster(1);
    const rn = c.rn(1);
    rn.campaign();
    const seen: Ready[] = [];
    while (c.handle(1n, (rd) => seen.push(rd)));
    // Ready 1: term/vote + the empty entry; Ready 2: it is committed
    assert.equal(seen[0]!.entries.length, 1);
    assert.equal(seen[0]!.committedEntries.length, 0);
    assert.equal(seen[0]!.mustSync, true);
    assert.deepEqual(seen[1]!.committedEntries.map((e) => e.index), [2]);
    assert.equal(seen[1]!.mustSync, false);
    assert.equal(rn.status().commit, 2);
  });

  test('steps are allowed between ready() and advance()', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    c.stabilize();
    c.rn(1).propose(new TextEncoder().encode('x'));
    const rd = c.rn(1).ready();
    c.rn(1).propose(new TextEncoder().encode('y')); // arrives while rd is being written
    c.rn(1).tick();
    c.nodes.get(1n)!.storage.append(rd.entries);
    c.queue.push(...rd.messages);
    c.rn(1).advance(rd);
    c.stabilize();
    assert.equal(c.rn(1).status().commit, 4);
    assert.equal(c.rn(3).status().commit, 4);
  });

  test('sendBeforePersist only for a leader whose Ready keeps term and vote', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    const flags: boolean[] = [];
    c.handle(1n, (rd) => flags.push(rd.sendBeforePersist)); // candidate: MsgVote
    c.stabilize();
    c.rn(1).propose(new TextEncoder().encode('x'));
    c.handle(1n, (rd) => flags.push(rd.sendBeforePersist));
    assert.deepEqual(flags, [false, true]);
  });
});

describe('step', () => {
  test('local message types are refused from the network', () => {
    const c = new Cluster(3);
    for (const t of [MessageType.MsgHup, MessageType.MsgBeat, MessageType.MsgUnreachable, MessageType.MsgSnapStatus, MessageType.MsgCheckQuorum]) {
      assert.throws(() => c.rn(1).step(makeMessage({ type: t, from: 2n, to: 1n })), RaftUsageError);
    }
  });

  test('responses from non-members are ignored', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    c.stabilize();
    c.rn(1).step(makeMessage({ type: MessageType.MsgAppResp, from: 9n, to: 1n, term: 1, index: 100 }));
    assert.equal(c.rn(1).status().progress!.has(9n), false);
  });

  test('proposals without a leader are dropped with an error', () => {
    const c = new Cluster(3);
    assert.throws(() => c.rn(2).propose(new Uint8Array(1)), ProposalDroppedError);
  });
});

describe('configuration', () => {
  test('invalid configs are refused', () => {
    const s = new MemoryStorage();
    assert.throws(() => new RawNode(config(0n, s)), /none as id/);
    assert.throws(() => new RawNode(config(1n, s, { heartbeatTick: 0 })), /heartbeat/);
    assert.throws(() => new RawNode(config(1n, s, { electionTick: 1 })), /election tick/);
    assert.throws(() => new RawNode(config(1n, s, { maxInflightMsgs: 0 })), /inflight/);
  });

  test('bootstrap needs empty storage', () => {
    const s = new MemoryStorage();
    s.append([{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0) }]);
    assert.throws(() => new RawNode(config(1n, s), [{ id: 1n }]), /not empty/);
  });

  test('randomized election timeout is electionTick + floor(random * electionTick)', () => {
    for (const [r, want] of [
      [0, 10],
      [0.5, 15],
      [0.999, 19],
    ] as const) {
      const s = new MemoryStorage();
      s.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [1n], learners: [] } }, data: new Uint8Array(0) });
      const rn = new RawNode(config(1n, s, { random: () => r }));
      let ticks = 0;
      while (rn.status().raftState === StateType.Follower) {
        rn.tick();
        ticks++;
      }
      assert.equal(ticks, want, `random ${r}`);
    }
    const s = new MemoryStorage();
    assert.throws(() => new RawNode(config(1n, s, { random: () => 1 })), /random/);
  });

  test('conf changes: promote, refuse demotion and removing the last voter', () => {
    const c = new Cluster(1);
    const rn = c.rn(1);
    let cs = rn.applyConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 2n, context: new Uint8Array(0) });
    assert.deepEqual(cs, { voters: [1n], learners: [2n] });
    cs = rn.applyConfChange({ type: ConfChangeType.AddNode, nodeId: 2n, context: new Uint8Array(0) });
    assert.deepEqual(cs, { voters: [1n, 2n], learners: [] }, 'AddNode promotes a learner');
    cs = rn.applyConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 2n, context: new Uint8Array(0) });
    assert.deepEqual(cs, { voters: [1n, 2n], learners: [] }, 'no demotion');
    cs = rn.applyConfChange({ type: ConfChangeType.RemoveNode, nodeId: 2n, context: new Uint8Array(0) });
    cs = rn.applyConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1n, context: new Uint8Array(0) });
    assert.deepEqual(cs, { voters: [1n], learners: [] }, 'the last voter stays');
    cs = rn.applyConfChange({ type: ConfChangeType.UpdateNode, nodeId: 1n, context: new Uint8Array(0) });
    assert.deepEqual(cs, { voters: [1n], learners: [] });
  });

  test('a second conf change while one is pending becomes an empty entry', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    c.stabilize();
    c.rn(1).proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4n, context: new Uint8Array(0) });
    c.rn(1).proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 5n, context: new Uint8Array(0) });
    const rd = c.rn(1).ready();
    assert.deepEqual(rd.entries.map((e) => e.type), [EntryType.ConfChange, EntryType.Normal]);
    assert.equal(rd.entries[1]!.data.length, 0);
  });
});

describe('commitment', () => {
  test('a leader does not commit an older-term entry by counting replicas (§5.4.2)', () => {
    // Node 1 has an uncommitted entry of term 1 at index 3; it becomes leader at term 3
    // and sees a majority acknowledge index 3, but commits only once its own term-3
    // entry (index 4) is on a majority.
    const c = new Cluster(3, { maxSizePerMsgBytes: 0 }); // one entry per MsgApp
    c.rn(1).campaign();
    c.stabilize();
    c.rn(1).propose(new TextEncoder().encode('old'));
    c.handle(1n); // persisted on 1 only; the MsgApps are lost
    c.queue = [];
    // a vote request at term 2 from 3 (whose log lacks index 3) makes 1 step down
    c.rn(1).step(makeMessage({ type: MessageType.MsgVote, from: 3n, to: 1n, term: 2, index: 2, logTerm: 1 }));
    c.handle(1n);
    c.queue = [];
    c.rn(1).campaign(); // term 3; 2 grants
    let sawOldAck = false;
    c.stabilize((m) => {
      if (m.to === 3n) return true; // 3 stays out of it
      if (m.type === MessageType.MsgAppResp && m.from === 2n && m.index === 3 && !m.reject) {
        // deliver 2's acknowledgement of the term-1 entry, then look
        c.rn(1).step(m);
        sawOldAck = true;
        assert.equal(c.rn(1).status().progress!.get(2n)!.match, 3);
        assert.equal(c.rn(1).status().commit, 2, 'the term-1 entry at 3 is on a majority but not committed');
        return true;
      }
      return false;
    });
    assert.ok(sawOldAck);
    assert.equal(c.rn(1).status().term, 3);
    assert.equal(c.rn(1).status().commit, 4, 'committing the term-3 entry commits everything before it');
  });

  test('followers ignore a log behind theirs when voting (§5.4.1)', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    c.stabilize();
    c.rn(1).propose(new TextEncoder().encode('x'));
    c.stabilize((m) => m.to === 3n);
    c.rn(3).campaign(); // 3 lacks "x": 1 and 2 refuse
    c.stabilize();
    assert.notEqual(c.rn(3).status().raftState, StateType.Leader);
  });
});

describe('status', () => {
  test('reports progress only on the leader', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    c.stabilize();
    const st = c.rn(1).status();
    assert.equal(st.raftState, StateType.Leader);
    assert.equal(st.lead, 1n);
    assert.deepEqual([...st.progress!.keys()], [1n, 2n, 3n]);
    assert.equal(st.progress!.get(2n)!.match, 2);
    assert.equal(c.rn(2).status().progress, undefined);
    assert.deepEqual(c.rn(2).status().config, { voters: [1n, 2n, 3n], learners: [] });
  });
});

describe('malformed peer messages', () => {
  test('are refused with RaftDecodeError and leave the node intact', () => {
    const c = new Cluster(3);
    c.rn(1).campaign();
    c.stabilize();
    const app = (fields: Partial<Message>) => makeMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, logTerm: 1, index: 2, ...fields });
    const e = (index: number, term: number) => ({ index, term, type: EntryType.Normal, data: new Uint8Array(0) });
    for (const m of [
      app({ entries: [e(4, 1)] }), // gap
      app({ entries: [e(3, 1), e(5, 1)] }),
      app({ entries: [e(3, 2)] }), // term above the message's
      app({ logTerm: 5 }),
      app({ from: 0n }),
      makeMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 1 }),
      makeMessage({ type: MessageType.MsgProp, from: 3n, to: 1n }),
      makeMessage({ type: MessageType.MsgReadIndexResp, from: 1n, to: 2n, term: 1 }),
    ]) {
      assert.throws(() => c.rn(2).step(m), (err: Error) => err.name === 'RaftDecodeError');
    }
    c.rn(1).propose(new TextEncoder().encode('x'));
    c.stabilize();
    assert.equal(c.rn(2).status().commit, 3);
  });
});
