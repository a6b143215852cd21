// An interval tree over key ranges [start, end): which watched ranges hold a key?
// An AVL tree ordered by (start, end), each node holding the largest end in its
// subtree, so a stab visits only the subtrees that can contain the key: O(log n + k).
// Keys are latin1 strings (one char per byte), so string order is etcd's byte order.
// `end === ''` means "to the last key" (etcd's from-key range), the largest end of all.

export interface KeyInterval {
  readonly start: string;
  /** exclusive; '' means unbounded */
  readonly end: string;
}

class Node<V> {
  left: Node<V> | null = null;
  right: Node<V> | null = null;
  height = 1;
  /** largest end in this subtree ('' = unbounded) */
  maxEnd: string;

  constructor(
    readonly start: string,
    readonly end: string,
    public value: V,
  ) {
    this.maxEnd = end;
  }
}

/** a < b for interval ends, where '' is +infinity */
function endLess(a: string, b: string): boolean {
  if (a === '') return false;
  if (b === '') return true;
  return a < b;
}

function maxOfEnds(a: string, b: string): string {
  return endLess(a, b) ? b : a;
}

function compareIntervals(aStart: string, aEnd: string, bStart: string, bEnd: string): number {
  if (aStart !== bStart) return aStart < bStart ? -1 : 1;
  if (aEnd === bEnd) return 0;
  return endLess(aEnd, bEnd) ? -1 : 1;
}

function height<V>(n: Node<V> | null): number {
  return n ? n.height : 0;
}

function update<V>(n: Node<V>): void {
  n.height = Math.max(height(n.left), height(n.right)) + 1;
  let m = n.end;
  if (n.left) m = maxOfEnds(m, n.left.maxEnd);
  if (n.right) m = maxOfEnds(m, n.right.maxEnd);
  n.maxEnd = m;
}

function rotateRight<V>(n: Node<V>): Node<V> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<V>(n: Node<V>): Node<V> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

function balance<V>(n: Node<V>): Node<V> {
  update(n);
  const bf = height(n.left) - height(n.right);
  if (bf > 1) {
    if (height(n.left!.left) < height(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (bf < -1) {
    if (height(n.right!.right) < height(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

/** A map from distinct intervals to values, with stabbing queries. */
export class IntervalTree<V> {
  private root: Node<V> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(iv: KeyInterval): V | undefined {
    let n = this.root;
    while (n) {
      const c = compareIntervals(iv.start, iv.end, n.start, n.end);
      if (c === 0) return n.value;
      n = c < 0 ? n.left : n.right;
    }
    return undefined;
  }

  /** Inserts or replaces the value of an interval. */
  set(iv: KeyInterval, value: V): void {
    if (iv.end !== '' && iv.end <= iv.start) throw new Error(`interval-tree: empty interval [${JSON.stringify(iv.start)}, ${JSON.stringify(iv.end)})`);
    this.root = this.insert(this.root, iv.start, iv.end, value);
  }

  private insert(n: Node<V> | null, start: string, end: string, value: V): Node<V> {
    if (!n) {
      this.count++;
      return new Node(start, end, value);
    }
    const c = compareIntervals(start, end, n.start, n.end);
    if (c === 0) {
      n.value = value;
      return n;
    }
    if (c < 0) n.left = this.insert(n.left, start, end, value);
    else n.right = this.insert(n.right, start, end, value);
    return balance(n);
  }

  /** Removes an interval; returns whether it was there. */
  delete(iv: KeyInterval): boolean {
    const before = this.count;
    this.root = this.remove(this.root, iv.start, iv.end);
    return this.count < before;
  }

  private remove(n: Node<V> | null, start: string, end: string): Node<V> | null {
    if (!n) return null;
    const c = compareIntervals(start, end, n.start, n.end);
    if (c < 0) n.left = this.remove(n.left, start, end);
    else if (c > 0) n.right = this.remove(n.right, start, end);
    else {
      this.count--;
      if (!n.left) return n.right;
      if (!n.right) return n.left;
      // replace by the smallest node of the right subtree
      let min = n.right;
      while (min.left) min = min.left;
      const right = this.detachMin(n.right);
      min.left = n.left;
      min.right = right;
      return balance(min);
    }
    return balance(n);
  }

  private detachMin(n: Node<V>): Node<V> | null {
    if (!n.left) return n.right;
    n.left = this.detachMin(n.left);
    return balance(n);
  }

  /** Calls fn with the value of every interval that holds key. */
  stab(key: string, fn: (value: V) => void): void {
    stabNode(this.root, key, fn);
  }

  /** Every interval and value, in order (for tests). */
  entries(): Array<[KeyInterval, V]> {
    const out: Array<[KeyInterval, V]> = [];
    const walk = (n: Node<V> | null): void => {
      if (!n) return;
      walk(n.left);
      out.push([{ start: n.start, end: n.end }, n.value]);
      walk(n.right);
    };
    walk(this.root);
    return out;
  }

  /** Checks the AVL and max-end invariants; throws on a violation (for tests). */
  assertValid(): void {
    let seen = 0;
    const check = (n: Node<V> | null, lo: Node<V> | null, hi: Node<V> | null): number => {
      if (!n) return 0;
      seen++;
      if (lo && compareIntervals(lo.start, lo.end, n.start, n.end) >= 0) throw new Error('interval-tree: order violated');
      if (hi && compareIntervals(n.start, n.end, hi.start, hi.end) >= 0) throw new Error('interval-tree: order violated');
      const hl = check(n.left, lo, n);
      const hr = check(n.right, n, hi);
      if (Math.abs(hl - hr) > 1) throw new Error('interval-tree: unbalanced');
      if (n.height !== Math.max(hl, hr) + 1) throw new Error('interval-tree: stale height');
      let m = n.end;
      if (n.left) m = maxOfEnds(m, n.left.maxEnd);
      if (n.right) m = maxOfEnds(m, n.right.maxEnd);
      if (m !== n.maxEnd) throw new Error('interval-tree: stale max end');
      return n.height;
    };
    check(this.root, null, null);
    if (seen !== this.count) throw new Error(`interval-tree: count ${this.count} but ${seen} nodes`);
  }
}

function stabNode<V>(n: Node<V> | null, key: string, fn: (value: V) => void): void {
  while (n) {
    // nothing below ends after key
    if (n.maxEnd !== '' && n.maxEnd <= key) return;
    stabNode(n.left, key, fn);
    // every interval to the right starts at or after n.start
    if (n.start > key) return;
    if (n.end === '' || key < n.end) fn(n.value);
    n = n.right;
  }
}
