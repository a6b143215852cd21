// Raft snapshots, the member's side (etcd's applySnapshot and the snapshot sent to a
// follower): a snapshot is the backend file itself. Received, it replaces the backend and
// every part is reloaded from it; sent, it is a consistent copy made next to the backend.
import fs from 'node:fs';
import path from 'node:path';
import type { Snapshot } from '../raft/index.js';
import type { Applier } from './applier.js';
import { readConsistentIndex } from './bootstrap.js';
import type { ServerParts } from './parts.js';

/** A snapshot from the leader: its database replaces ours, and everything is reloaded from it. */
export async function installSnapshot(m: ServerParts, applier: Applier, snap: Snapshot, file: string): Promise<void> {
  const previousRev = m.store.rev;
  await m.backend.replaceWith(file);
  m.membership.load();
  m.store.reset();
  m.store.restore();
  m.lessor.reset();
  m.lessor.restore(m.store.attachedLeases());
  if (m.driver.isLeader) m.lessor.promote(m.opts.electionTimeoutMs);
  m.alarms.load();
  m.auth.load();
  m.watchable.restored(previousRev);
  applier.restored(Math.max(snap.metadata.index, readConsistentIndex(m.backend)), snap.metadata.confState);
  for (const x of m.membership.list()) if (x.id !== m.memberId) m.transport.addPeer(x.id, x.peerURLs);
  m.opts.logger.info('applied a snapshot from the leader', { 'snapshot-index': snap.metadata.index, revision: m.store.rev });
}

/** A consistent copy of the backend for a follower; releaseSnapshotFile removes it. */
export async function snapshotFileForPeer(m: ServerParts): Promise<string> {
  // next to the backend (same disk, cleaned with the data dir), not in the shared /tmp
  const dir = fs.mkdtempSync(path.join(m.opts.dataDir, 'member', 'snap', 'outgoing-'));
  const file = path.join(dir, 'db');
  await m.backend.copyTo(file);
  return file;
}

export function releaseSnapshotFile(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
