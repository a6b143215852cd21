// A set of watchers indexed by what they watch: single keys in a map, ranges in an
// interval tree (etcd's watcherGroup). Answers "which watchers see a change of key k?".
import { IntervalTree } from './interval-tree.js';

export interface WatchedRange {
  /** first key (latin1) */
  readonly start: string;
  /** undefined: the single key `start`; '': every key >= start; else the exclusive end */
  readonly end: string | undefined;
}

export interface GroupMember {
  readonly range: WatchedRange;
}

export class WatcherGroup<W extends GroupMember> {
  private readonly keys = new Map<string, Set<W>>();
  private readonly ranges = new IntervalTree<Set<W>>();
  /** every member, in insertion order */
  readonly members = new Set<W>();

  get size(): number {
    return this.members.size;
  }

  has(w: W): boolean {
    return this.members.has(w);
  }

  add(w: W): void {
    if (this.members.has(w)) throw new Error('watcher-group: watcher added twice');
    this.members.add(w);
    const { start, end } = w.range;
    if (end === undefined) {
      let set = this.keys.get(start);
      if (!set) {
        set = new Set();
        this.keys.set(start, set);
      }
      set.add(w);
      return;
    }
    const iv = { start, end };
    let set = this.ranges.get(iv);
    if (!set) {
      set = new Set();
      this.ranges.set(iv, set);
    }
    set.add(w);
  }

  /** Removes a watcher; returns whether it was a member. */
  delete(w: W): boolean {
    if (!this.members.delete(w)) return false;
    const { start, end } = w.range;
    if (end === undefined) {
      const set = this.keys.get(start)!;
      set.delete(w);
      if (set.size === 0) this.keys.delete(start);
      return true;
    }
    const iv = { start, end };
    const set = this.ranges.get(iv)!;
    set.delete(w);
    if (set.size === 0) this.ranges.delete(iv);
    return true;
  }

  /** Whether any member watches key. */
  contains(key: string): boolean {
    if (this.keys.has(key)) return true;
    if (this.ranges.size === 0) return false;
    let found = false;
    this.ranges.stab(key, () => (found = true));
    return found;
  }

  /** Calls fn for every member that watches key (each once). */
  forEachWatching(key: string, fn: (w: W) => void): void {
    const single = this.keys.get(key);
    if (single) for (const w of single) fn(w);
    if (this.ranges.size > 0) this.ranges.stab(key, (set) => set.forEach((w) => fn(w)));
  }
}
