// A min-heap of lease expiries. Renewing a lease pushes a new entry instead of moving
// the old one; stale entries are recognised by comparing with the lease's current
// expiry when they reach the top, so every operation stays O(log n).

export interface ExpiryEntry {
  id: bigint;
  expiresAtMs: number;
}

export class ExpiryHeap {
  private items: ExpiryEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(e: ExpiryEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.expiresAtMs <= e.expiresAtMs) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = e;
  }

  peek(): ExpiryEntry | undefined {
    return this.items[0];
  }

  pop(): ExpiryEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const child = r < a.length && a[r]!.expiresAtMs < a[l]!.expiresAtMs ? r : l;
      if (a[child]!.expiresAtMs >= last.expiresAtMs) break;
      a[i] = a[child]!;
      i = child;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.items = [];
  }
}
