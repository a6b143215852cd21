// Column alignment as Go's text/tabwriter does it with the settings etcdctl's help uses
// (minwidth 0, tabwidth 8, padding 1, padding with tabs): cells end at a tab; a column
// block is a run of consecutive lines that all have a cell in that column; every cell
// of a block is padded with tabs to the block's widest cell plus one, rounded up to a
// multiple of 8. The last cell of a line is not part of any column.

const TAB_WIDTH = 8;
const PADDING = 1;

function textWidth(s: string): number {
  return [...s].length;
}

export function alignTabs(text: string): string {
  const lines = text.split('\n');
  const trailing = lines.pop(); // text after the last newline
  const cells = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  let out = '';

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = cells[i]!;
      line.forEach((cell, j) => {
        out += cell;
        if (j < line.length - 1 && j < widths.length) {
          const cellWidth = Math.ceil(widths[j]! / TAB_WIDTH) * TAB_WIDTH;
          out += '\t'.repeat(Math.ceil((cellWidth - textWidth(cell)) / TAB_WIDTH));
        }
      });
      out += '\n';
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= cells[i]!.length - 1) continue;
      writeLines(start, i);
      let width = 0;
      let end = i;
      for (; end < line1 && column < cells[end]!.length - 1; end++) {
        width = Math.max(width, textWidth(cells[end]![column]!) + PADDING);
      }
      widths.push(width);
      format(i, end);
      widths.pop();
      start = end;
      i = end - 1;
    }
    writeLines(start, line1);
  };

  format(0, cells.length);
  return out + (trailing ?? '');
}
