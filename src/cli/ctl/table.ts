// Bordered tables as etcdctl draws them (olekukonko/tablewriter with its defaults and
// right-aligned cells): headers upper-cased and centred, a cell wider than 30 columns
// wrapped at spaces into balanced lines, a word longer than that widening its column.

const MAX_CELL_WIDTH = 30;

/** Display columns: wide East Asian characters take two, combining marks none. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(/\u001b\[(?:\d{1,3}(?:;\d{1,3})*)?[mK|]/g, '')) {
    const cp = ch.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}/u.test(ch) || cp === 0x200b) continue;
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/**
 * Splits text into lines of about `limit` columns with the least raggedness (the sum of
 * squared shortfalls, lines that overflow paying a large penalty), breaking at spaces.
 */
function wrapBalanced(text: string, limit: number): string[] {
  const words = text.replace(/\n/g, ' ').split(' ');
  for (const w of words) limit = Math.max(limit, Buffer.byteLength(w));
  const n = words.length;
  const runeLen = words.map((w) => [...w].length);
  const lineLen = (i: number, j: number): number => {
    let len = runeLen[i]!;
    for (let k = i + 1; k <= j; k++) len += 1 + runeLen[k]!;
    return len;
  };
  const PENALTY = 1e5;
  const cost: number[] = new Array<number>(n).fill(2 ** 31 - 1);
  const breakAt: number[] = new Array<number>(n).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    if (lineLen(i, n - 1) <= limit) {
      cost[i] = 0;
      breakAt[i] = n;
      continue;
    }
    for (let j = i + 1; j < n; j++) {
      const len = lineLen(i, j - 1);
      const d = limit - len;
      let c = d * d + cost[j]!;
      if (len > limit) c += PENALTY;
      if (c < cost[i]!) {
        cost[i] = c;
        breakAt[i] = j;
      }
    }
  }
  const lines: string[] = [];
  for (let i = 0; i < n; i = breakAt[i]!) lines.push(words.slice(i, breakAt[i]).join(' '));
  return lines;
}

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h) => Math.min(displayWidth(h), MAX_CELL_WIDTH));
  const wrapped = rows.map((row) =>
    row.map((cell, col) => {
      widths[col] = Math.max(widths[col] ?? 0, Math.min(displayWidth(cell), MAX_CELL_WIDTH));
      const lines = wrapBalanced(cell, widths[col]!);
      for (const l of lines) widths[col] = Math.max(widths[col]!, displayWidth(l));
      return lines;
    }),
  );
  const rule = '+' + widths.map((w) => '-'.repeat(w + 2) + '+').join('') + '\n';
  const center = (s: string, w: number): string => {
    const gap = w - displayWidth(s);
    if (gap <= 0) return s;
    const left = Math.floor(gap / 2);
    return ' '.repeat(left) + s + ' '.repeat(gap - left);
  };
  const right = (s: string, w: number): string => ' '.repeat(Math.max(0, w - displayWidth(s))) + s;
  const title = (h: string): string => h.replace(/[_.]/g, ' ').trim().toUpperCase();

  let out = rule + '|' + headers.map((h, i) => ` ${center(title(h), widths[i]!)} |`).join('') + '\n' + rule;
  for (const cells of wrapped) {
    const height = Math.max(...cells.map((c) => c.length));
    for (let line = 0; line < height; line++) {
      out += '|' + cells.map((c, i) => ` ${right(c[line] ?? '  ', widths[i]!)} |`).join('') + '\n';
    }
  }
  return out + rule;
}
