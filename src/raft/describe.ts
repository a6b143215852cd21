// Human-readable renderings of raft values, for logs, transcripts and debugging.
import { decodeConfChange } from './codec.js';
import { ConfChangeType, type Message, MessageType, type Ready, stateName } from './message.js';
import type { Entry, HardState, Snapshot } from './types.js';

function describeData(data: Uint8Array): string {
  let printable = true;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      printable = false;
      break;
    }
  }
  if (printable) return `"${String.fromCharCode(...data)}"`;
  let hex = '';
  for (let i = 0; i < data.length; i++) hex += data[i]!.toString(16).padStart(2, '0');
  return `0x${hex}`;
}

const CC_LETTER: Record<ConfChangeType, string> = {
  [ConfChangeType.AddNode]: 'v',
  [ConfChangeType.RemoveNode]: 'r',
  [ConfChangeType.UpdateNode]: 'u',
  [ConfChangeType.AddLearnerNode]: 'l',
};

/** `term/index EntryNormal "data"`, or `term/index EntryConfChange v3` (v=add voter,
 *  l=add learner, r=remove, u=update). */
export function describeEntry(e: Entry): string {
  if (e.type === 1) {
    let what: string;
    try {
      const cc = decodeConfChange(e.data);
      what = `${CC_LETTER[cc.type]}${cc.nodeId}`;
    } catch {
      what = `<undecodable ${describeData(e.data)}>`;
    }
    return `${e.term}/${e.index} EntryConfChange ${what}`;
  }
  return `${e.term}/${e.index} EntryNormal ${describeData(e.data)}`;
}

export function describeSnapshot(s: Snapshot): string {
  const cs = s.metadata.confState;
  let out = `Index:${s.metadata.index} Term:${s.metadata.term} ConfState:Voters:[${cs.voters.join(' ')}]`;
  out += ` Learners:[${cs.learners.join(' ')}]`;
  return out;
}

export function describeHardState(hs: HardState): string {
  let out = `Term:${hs.term}`;
  if (hs.vote !== 0n) out += ` Vote:${hs.vote}`;
  out += ` Commit:${hs.commit}`;
  return out;
}

export function describeMessage(m: Message): string {
  let out = `${m.from}->${m.to} ${MessageType[m.type] ?? `Msg(${m.type})`} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) out += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) out += ` Commit:${m.commit}`;
  if (m.entries.length > 0) out += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.context.length > 0 && m.type !== MessageType.MsgVote && m.type !== MessageType.MsgPreVote) {
    out += ` Context:${describeData(m.context)}`;
  }
  if (m.snapshot) out += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return out;
}

/** A multi-line rendering of a Ready, omitting empty parts. */
export function describeReady(rd: Ready): string {
  const lines: string[] = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState) lines.push(`Lead:${rd.softState.lead} State:${stateName(rd.softState.raftState)}`);
  if (rd.hardState) lines.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.readStates.length > 0) {
    lines.push('ReadStates:');
    for (const rs of rd.readStates) lines.push(`Index:${rs.index} Ctx:${describeData(rs.ctx)}`);
  }
  if (rd.entries.length > 0) {
    lines.push('Entries:');
    for (const e of rd.entries) lines.push(describeEntry(e));
  }
  if (rd.snapshot) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) {
    lines.push('CommittedEntries:');
    for (const e of rd.committedEntries) lines.push(describeEntry(e));
  }
  if (rd.messages.length > 0) {
    lines.push(rd.sendBeforePersist ? 'Messages (may be sent before persisting):' : 'Messages:');
    for (const m of rd.messages) lines.push(describeMessage(m));
  }
  return lines.join('\n');
}
